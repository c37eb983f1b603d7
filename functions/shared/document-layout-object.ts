import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { layoutKey } from "./bucket-layout.ts";
import type { DocumentLayout } from "./contracts.ts";

/**
 * A document's layout as the chunk step wrote it (`chunks/<document id>/layout.json`), or undefined when there is none:
 * record batches, executions from before layouts were written (a redrive), layouts expired with the chunks. The merge
 * and the review function read it. A missing key is NoSuchKey (404) or, for a role without s3:ListBucket (llambda's
 * functions have none), AccessDenied (403): both mean "absent".
 */
export async function readDocumentLayout(s3: S3Client, bucket: string, documentId: string): Promise<DocumentLayout | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: layoutKey(documentId) }));
    return JSON.parse((await object.Body?.transformToString("utf-8")) ?? "") as DocumentLayout;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((error as Error).name === "NoSuchKey" || status === 404 || status === 403) return undefined;
    throw error;
  }
}
