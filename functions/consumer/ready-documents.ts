import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from "aws-lambda";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DocumentItem } from "../shared/document-item.ts";

/**
 * What the example consumer does with a finished document: read the item from the stream record, fetch the result
 * from S3 when it did not fit the item, and describe it without its content (document text and extracted values never
 * go to the logs at INFO).
 */

/** The item in a stream record's new image; undefined for a REMOVE. */
export function itemOfRecord(record: DynamoDBRecord): DocumentItem | undefined {
  const image = record.dynamodb?.NewImage;
  // Lambda's and the SDK's attribute-value types differ only in how they spell optional members.
  return image ? (unmarshall(image as Record<string, LambdaAttributeValue> as Record<string, AttributeValue>) as DocumentItem) : undefined;
}

export interface ReadyDocument {
  item: DocumentItem;
  result: Record<string, unknown> | undefined;
}

/** The item with its result, read from S3 when the item holds a pointer. */
export async function readyDocument(
  item: DocumentItem,
  readObject: (bucket: string, key: string) => Promise<string>,
): Promise<ReadyDocument> {
  if (!item.resultLocation) return { item, result: item.result };
  const stored = JSON.parse(await readObject(item.resultLocation.bucket, item.resultLocation.key)) as { result?: Record<string, unknown> };
  return { item, result: stored.result };
}

/** A log-safe description: ids, status, counts and which fields have values — never the values. */
export function describeReadyDocument({ item, result }: ReadyDocument): Record<string, unknown> {
  const filled = Object.entries(result ?? {}).filter(
    ([, value]) => value !== null && value !== "" && !(Array.isArray(value) && value.length === 0),
  );
  return {
    documentId: item.documentId,
    kind: item.kind,
    status: item.status,
    version: item.version,
    schemaId: item.schemaId,
    key: item.source.key,
    chunks: item.chunks,
    failedChunks: item.failedChunks?.length ?? 0,
    conflicts: item.conflicts?.length ?? 0,
    needsReview: item.needsReview ?? false,
    reviewReasons: [...new Set((item.reviewReasons ?? []).map((reason) => reason.code))],
    fieldsWithValues: filled.map(([name]) => name),
    resultInS3: item.resultLocation !== undefined,
  };
}
