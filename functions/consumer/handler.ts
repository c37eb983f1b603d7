import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { logger } from "../shared/logger.ts";
import { describeReadyDocument, itemOfRecord, readyDocument } from "./ready-documents.ts";

async function readObject(bucket: string, key: string): Promise<string> {
  const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString("utf-8")) ?? "";
}

/**
 * Example consumer of the documents table's stream: receives only items that just became COMPLETED or PARTIAL (the
 * event-source filter in functions/consumer/stream-filter.ts) and logs what arrived. Replace the body of the loop
 * with your own work. A record that fails is reported alone (ReportBatchItemFailures), so the rest are not redone.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const batchItemFailures: DynamoDBBatchResponse["batchItemFailures"] = [];
  for (const record of event.Records) {
    const item = itemOfRecord(record);
    if (!item) continue;
    logger.appendKeys({ document: item.documentId, execution: item.executionArn });
    try {
      const ready = await readyDocument(item, readObject);
      logger.info("Document ready", describeReadyDocument(ready));
    } catch (error) {
      logger.error("Could not handle a ready document", { error });
      batchItemFailures.push({ itemIdentifier: record.dynamodb?.SequenceNumber ?? "" });
    } finally {
      logger.removeKeys(["document", "execution"]);
    }
  }
  return { batchItemFailures };
}
