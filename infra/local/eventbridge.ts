import { randomUUID } from "node:crypto";
import type { ObjectCreatedEvent } from "../../functions/start/execution-name.ts";

/**
 * The EventBridge part of the twin: turns s3rver's object notifications into the "Object Created" events S3 sends to
 * EventBridge, and matches them against the same rule pattern the stack deploys.
 */
export interface S3NotificationRecord {
  eventName: string;
  eventTime: string;
  awsRegion?: string;
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer?: string };
  };
}

export function objectCreatedEvent(record: S3NotificationRecord, account = "000000000000"): ObjectCreatedEvent | undefined {
  if (!record.eventName.startsWith("ObjectCreated:")) return undefined;
  const { bucket, object } = record.s3;
  const reason = { Put: "PutObject", Post: "PostObject", Copy: "CopyObject" }[record.eventName.slice("ObjectCreated:".length)];
  const detailObject: ObjectCreatedEvent["detail"]["object"] = {
    // s3rver reports the key as stored, not form-encoded as AWS's S3 notifications do.
    key: object.key,
    size: object.size ?? 0,
    etag: object.eTag ?? "",
    sequencer: object.sequencer,
  };
  if (object.versionId) detailObject["version-id"] = object.versionId;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Object Created",
    source: "aws.s3",
    account,
    time: record.eventTime,
    region: record.awsRegion ?? "us-east-1",
    resources: [`arn:aws:s3:::${bucket.name}`],
    detail: { version: "0", bucket: { name: bucket.name }, object: detailObject, reason: reason ?? "PutObject" },
  } as ObjectCreatedEvent;
}

type Pattern = { [field: string]: Pattern | Array<string | { prefix: string }> };

/** EventBridge pattern matching for the subset our rules use: exact string values and `{ prefix }`. */
export function matchesPattern(event: unknown, pattern: Pattern): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = event !== null && typeof event === "object" ? (event as Record<string, unknown>)[field] : undefined;
    if (Array.isArray(expected)) {
      return expected.some((candidate) =>
        typeof candidate === "string"
          ? actual === candidate
          : typeof actual === "string" && actual.startsWith(candidate.prefix),
      );
    }
    return matchesPattern(actual, expected);
  });
}
