import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import { traced } from "./tracer.ts";

/**
 * The one place AWS SDK clients are built. Endpoints come from the SDK's own configuration (AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SFN), which is how the local twin points handlers
 * at its services: handler code has no notion of "local".
 */
let s3: S3Client | undefined;
let documents: DynamoDBDocumentClient | undefined;
let sfn: SFNClient | undefined;

export function s3Client(): S3Client {
  // S3-compatible servers at a custom endpoint need path-style addressing; AWS's own endpoint prefers virtual hosts.
  const customEndpoint = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  s3 ??= traced(new S3Client({ forcePathStyle: customEndpoint }));
  return s3;
}

export function documentClient(): DynamoDBDocumentClient {
  documents ??= DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return documents;
}

export function sfnClient(): SFNClient {
  sfn ??= traced(new SFNClient({}));
  return sfn;
}
