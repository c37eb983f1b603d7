import { Duration, type Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import { DocumentTable } from "../specs.ts";
import type { StackSettings } from "./props.ts";

/** Storage: one bucket (uploads, chunk manifests and texts, map results), one table of document items. */
export interface DocumentStore {
  /** Server access logs of the document bucket (who read or wrote which document, for audits). */
  accessLogsBucket: s3.Bucket;
  /** The document bucket's key when `bucketKmsKey` is set. */
  bucketKey?: kms.Key;
  bucket: s3.Bucket;
  table: dynamodb.Table;
}

const attributeTypes: Record<string, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const streamViewTypes: Record<string, dynamodb.StreamViewType> = {
  NEW_AND_OLD_IMAGES: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  OLD_IMAGE: dynamodb.StreamViewType.OLD_IMAGE,
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
};

/** S3 key pattern for every object under a BucketLayout prefix (which ends with "/"). */
export const under = (prefix: string): string => `${prefix}*`;

export function createDocumentStore(
  stack: Stack,
  settings: Pick<StackSettings, "removalPolicy" | "destroy" | "intermediateObjectsExpiration">,
  options: { bucketKmsKey: boolean },
): DocumentStore {
  const { removalPolicy, destroy } = settings;
  const accessLogsBucket = new s3.Bucket(stack, "AccessLogsBucket", {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    // S3 server access logging delivers only to buckets with S3-managed encryption.
    encryption: s3.BucketEncryption.S3_MANAGED,
    lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
    removalPolicy,
    autoDeleteObjects: destroy,
  });
  const bucketKey = options.bucketKmsKey
    ? new kms.Key(stack, "DocumentBucketKey", {
        description: "llambda: encrypts the document bucket (uploads, chunks, map results, large results)",
        enableKeyRotation: true,
        removalPolicy,
      })
    : undefined;
  const bucket = new s3.Bucket(stack, "DocumentBucket", {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    ...(bucketKey
      ? { encryption: s3.BucketEncryption.KMS, encryptionKey: bucketKey, bucketKeyEnabled: true }
      : { encryption: s3.BucketEncryption.S3_MANAGED }),
    serverAccessLogsBucket: accessLogsBucket,
    serverAccessLogsPrefix: "document-bucket/",
    versioned: true,
    eventBridgeEnabled: true,
    lifecycleRules: [
      ...[BucketLayout.chunksPrefix, BucketLayout.mapResultsPrefix].map((prefix) => ({
        id: `expire-${prefix.replace(/\/$/, "")}`,
        prefix,
        expiration: settings.intermediateObjectsExpiration,
        noncurrentVersionExpiration: Duration.days(1),
      })),
      { id: "abort-incomplete-multipart-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      { id: "remove-expired-delete-markers", expiredObjectDeleteMarker: true },
    ],
    removalPolicy,
    autoDeleteObjects: destroy,
  });

  const partitionKeyType = attributeTypes[DocumentTable.partitionKey.type];
  const streamViewType = streamViewTypes[DocumentTable.streamViewType];
  if (!partitionKeyType || !streamViewType || DocumentTable.billingMode !== "PAY_PER_REQUEST") {
    throw new Error("infra/specs.ts DocumentTable has a key type, stream view or billing mode this stack does not map");
  }
  const table = new dynamodb.Table(stack, "DocumentTable", {
    partitionKey: { name: DocumentTable.partitionKey.name, type: partitionKeyType },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    stream: streamViewType,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    deletionProtection: !destroy,
    removalPolicy,
  });
  return { accessLogsBucket, ...(bucketKey ? { bucketKey } : {}), bucket, table };
}
