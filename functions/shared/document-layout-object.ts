import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { layoutKey } from "./bucket-layout.ts";
import type { DocumentLayout, RecordBatchLayout, StoredLayout } from "./contracts.ts";
import { isRecordBatchLayout } from "./record-batch-layout.ts";

/**
 * A document's layout as the chunk step wrote it (`chunks/<document id>/layout.json`), or undefined when there is none:
 * executions from before layouts were written (a redrive), layouts expired with the chunks, and a record batch's
 * layout (never read as one document). The merge and the review function read it.
 */
export async function readDocumentLayout(s3: S3Client, bucket: string, documentId: string): Promise<DocumentLayout | undefined> {
  const layout = await readStoredLayout(s3, bucket, documentId);
  return layout === undefined || isRecordBatchLayout(layout) ? undefined : layout;
}

/**
 * A record batch's layout (each record's text and chunk spans), or undefined when there is none: batches chunked
 * before batches had one, layouts expired with the chunks, and a document's layout. The merge reads it.
 */
export async function readRecordBatchLayout(s3: S3Client, bucket: string, batchId: string): Promise<RecordBatchLayout | undefined> {
  const layout = await readStoredLayout(s3, bucket, batchId);
  return layout !== undefined && isRecordBatchLayout(layout) ? layout : undefined;
}

/**
 * What `layoutKey` holds, or undefined. A missing key is NoSuchKey (404) or, for a role without s3:ListBucket
 * (llambda's functions have none), AccessDenied (403): both mean "absent".
 */
async function readStoredLayout(s3: S3Client, bucket: string, id: string): Promise<StoredLayout | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: layoutKey(id) }));
    return JSON.parse((await object.Body?.transformToString("utf-8")) ?? "") as StoredLayout;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name === "NoSuchKey" || status === 404 || status === 403) return undefined;
    throw error;
  }
}
