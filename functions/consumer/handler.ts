import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { addInvocationContext, logger } from "../shared/logger.ts";
import { describeReadyDocument, itemOfRecord, readyDocument } from "./ready-documents.ts";

async function readObject(bucket: string, key: string): Promise<string> {
  const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString("utf-8")) ?? "";
}

const processor = new BatchProcessor(EventType.DynamoDBStreams);

/** One stream record: replace the body with your own work. Throwing marks this record (only) as failed. */
async function handleRecord(record: DynamoDBRecord): Promise<void> {
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

/**
 * Example consumer of the documents table's stream: receives only items that just became COMPLETED or PARTIAL (the
 * event-source filter in functions/consumer/stream-filter.ts) and logs what arrived. Powertools Batch reports each
 * failed record by its sequence number (ReportBatchItemFailures), so Lambda retries from the first failure and the
 * records before it are not redone; a batch that fails entirely throws, so the event source bisects it. Records are
 * handled one at a time, in stream order.
 */
export async function handler(event: DynamoDBStreamEvent, context?: Context): Promise<DynamoDBBatchResponse> {
  addInvocationContext(context);
  return processPartialResponse(event, handleRecord, processor, { processInParallel: false });
}
