import { GetObjectCommand } from "@aws-sdk/client-s3";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { documentClient, s3Client } from "../shared/aws-clients.ts";
import { optionalEnv, requireEnv } from "../shared/config.ts";
import type { DocumentItem, MergeTaskInput } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { logger } from "../shared/logger.ts";
import { defaultSchemaId, getExtractionSchema } from "../schemas/index.ts";
import { buildDocumentItem, collectMapRunResults } from "./document.ts";

const tableName = requireEnv(EnvNames.table);
const schemaId = optionalEnv(EnvNames.schemaId, defaultSchemaId);
const schema = getExtractionSchema(schemaId);

async function readObject(bucket: string, key: string): Promise<string> {
  const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString("utf-8")) ?? "";
}

export interface MergeTaskOutput {
  documentId: string;
  status: DocumentItem["status"];
  chunks: NonNullable<DocumentItem["chunks"]>;
}

/** Distributed Map results in S3 → one merged document item in DynamoDB. */
export async function handler(event: MergeTaskInput): Promise<MergeTaskOutput> {
  logger.appendKeys({ document: event.documentId, execution: event.execution.id });
  try {
    const { Bucket, Key } = event.mapRun.ResultWriterDetails;
    const collected = await collectMapRunResults(Bucket, Key, readObject);
    const item = buildDocumentItem({ input: event, collected, schema, schemaId, now: new Date() });
    await documentClient().send(new PutCommand({ TableName: tableName, Item: item }));
    logger.info("Document merged", { status: item.status, chunks: item.chunks });
    return { documentId: item.documentId, status: item.status, chunks: item.chunks! };
  } finally {
    logger.removeKeys(["document", "execution"]);
  }
}
