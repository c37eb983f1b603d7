import { randomUUID } from "node:crypto";
import type { EventBridgeEvent } from "aws-lambda";
import type { ExecutionStatusChangeDetail } from "../../functions/failed-execution/failure.ts";
import type { ObjectCreatedEvent } from "../../functions/start/execution-name.ts";
import type { LocalExecution } from "./stepfunctions.ts";
import { matchesEventPattern } from "./event-pattern.ts";

/**
 * The EventBridge part of the twin: turns s3rver's object notifications into the "Object Created" events S3 sends to
 * EventBridge, and the twin's execution ends into Step Functions' "Execution Status Change" events, and matches them
 * against the same rule patterns the stack deploys.
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

let lastSequencer = 0n;

/**
 * S3's sequencer is a hex string that grows with each write of a key. s3rver's is the write's time in milliseconds
 * (hex), the same for two writes in the same millisecond: here it becomes microseconds, strictly increasing.
 */
function awsSequencer(s3rverSequencer: string | undefined): string | undefined {
  if (s3rverSequencer === undefined || !/^[0-9A-Fa-f]+$/.test(s3rverSequencer)) return undefined;
  const micros = BigInt(`0x${s3rverSequencer}`) * 1000n;
  lastSequencer = micros > lastSequencer ? micros : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, "0");
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
    sequencer: awsSequencer(object.sequencer),
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

/**
 * Whether an event matches an EventBridge rule pattern. Kept for the twin's callers; the matching itself is the twin's
 * one matcher, ./event-pattern.ts, which throws on operators it does not support.
 */
export function matchesPattern(event: unknown, pattern: object): boolean {
  return matchesEventPattern(event, pattern);
}

/** The event Step Functions sends to EventBridge when a STANDARD execution changes status (here: when it ends). */
export function executionStatusChangeEvent(
  execution: LocalExecution,
  region: string,
  account = "000000000000",
): EventBridgeEvent<"Step Functions Execution Status Change", ExecutionStatusChangeDetail & Record<string, unknown>> {
  const stopDate = execution.stopDate ?? new Date();
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Step Functions Execution Status Change",
    source: "aws.states",
    account,
    time: stopDate.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: stopDate.getTime(),
      input: execution.input,
      output: execution.output ?? null,
      inputDetails: { included: true },
      error: execution.error ?? null,
      cause: execution.cause ?? null,
      redriveCount: execution.redriveCount,
    },
  };
}
