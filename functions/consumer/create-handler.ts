import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import type { ConsumerConfig } from "./config.ts";
import { describeReadyDocument, itemOfRecord, readyDocument } from "./ready-documents.ts";

export interface ConsumerDependencies {
  s3: () => S3Client;
}

/**
 * Example consumer of the documents table's stream: receives only items that just became COMPLETED or PARTIAL (the
 * event-source filter in functions/consumer/stream-filter.ts) and logs what arrived. Powertools Batch reports each
 * failed record by its sequence number (ReportBatchItemFailures), so Lambda retries from the first failure and the
 * records before it are not redone; a batch that fails entirely throws, so the event source bisects it. Records are
 * handled one at a time, in stream order. It reads no settings (results it reads name their own bucket).
 */
export function createHandler(
  _config: ConsumerConfig = {},
  deps: ConsumerDependencies = { s3: s3Client },
): LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse> {
  const initClock = startInitClock();
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const readObject = async (bucket: string, key: string): Promise<string> => {
    const object = await deps.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await object.Body?.transformToString("utf-8")) ?? "";
  };
  const handleRecord = (record: DynamoDBRecord) => handleReadyRecord(record, readObject);
  return invocationHandler({ initMs: initClock(), metrics: false }, (event) =>
    processPartialResponse(event, handleRecord, processor, { processInParallel: false }),
  );
}

/** One stream record: replace the body with your own work. Throwing marks this record (only) as failed. */
async function handleReadyRecord(record: DynamoDBRecord, readObject: (bucket: string, key: string) => Promise<string>): Promise<void> {
  const item = itemOfRecord(record);
  if (!item) return;
  // The record's keys go with each line, not into the logger's shared keys: an invocation's other records (and, on the
  // local twin, which runs every handler in one process, other invocations) must not see them.
  const keys = { document: item.documentId, execution: item.executionArn };
  try {
    const ready = await readyDocument(item, readObject);
    logger.info("Document ready", { ...keys, ...describeReadyDocument(ready) });
  } catch (error) {
    logger.error("Could not handle a ready document", { ...keys, error });
    throw error;
  }
}

