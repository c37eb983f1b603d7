import { createHash } from "node:crypto";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DocumentSource, WorkflowInput } from "../shared/contracts.ts";
import { sourceOrderOf } from "../shared/document-item.ts";
import { recordFormatOf } from "../shared/record-format.ts";
import { ocrModeForKey, type OcrRouting } from "./ocr-routing.ts";
import { schemaIdForKey, type SchemaRouting } from "./schema-routing.ts";

/**
 * Identity of documents and executions. A document is an S3 key in a bucket; each version of it is processed by one
 * execution whose name is derived from the key and the version (or ETag), so a duplicated event cannot start a second
 * execution: Step Functions refuses a name it has seen.
 */

/** Stable id of the document at `bucket/key`; the same key gives the same id across versions. */
export function documentIdFor(bucket: string, key: string): string {
  return createHash("sha256").update(`${bucket}\u0000${key}`).digest("hex").slice(0, 32);
}

/** Readable part of an execution name: the file name, reduced to the characters Step Functions and CloudWatch accept. */
function readableStem(key: string): string {
  const fileName = key.split("/").pop() ?? key;
  const stem = fileName
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  return (stem || "document").slice(0, 60);
}

/** Deterministic execution name (at most 80 characters): `<file stem>-<hash of bucket, key and version>`. */
export function executionNameFor(source: Pick<DocumentSource, "bucket" | "key" | "versionId" | "etag">): string {
  const version = source.versionId ?? `etag:${source.etag}`;
  const digest = createHash("sha256")
    .update(`${source.bucket}\u0000${source.key}\u0000${version}`)
    .digest("hex")
    .slice(0, 16);
  return `${readableStem(source.key)}-${digest}`;
}

/** The ARN Step Functions gives an execution of that name (the id the other functions log as `execution`). */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${executionName}`;
}

/** The subset of EventBridge's S3 "Object Created" event the start function reads. */
export interface ObjectCreatedEvent {
  "detail-type": string;
  source: string;
  detail: {
    bucket: { name: string };
    object: { key: string; size?: number; etag?: string; "version-id"?: string; sequencer?: string };
  };
}

/**
 * Builds the workflow input from an EventBridge S3 event, with the schema the key's prefix routes to. EventBridge
 * delivers keys decoded (unlike S3 notifications).
 */
export function workflowInputFromEvent(event: ObjectCreatedEvent, routing: SchemaRouting, ocrRouting?: OcrRouting): WorkflowInput {
  const { bucket, object } = event.detail;
  if (!bucket?.name || !object?.key) {
    throw new TypeError("Not an S3 Object Created event: detail.bucket.name and detail.object.key are required");
  }
  const source: DocumentSource = {
    bucket: bucket.name,
    key: object.key,
    etag: (object.etag ?? "").replace(/"/g, ""),
    size: object.size ?? 0,
  };
  if (object["version-id"]) source.versionId = object["version-id"];
  if (object.sequencer) source.sequencer = object.sequencer;
  return {
    documentId: documentIdFor(source.bucket, source.key),
    schemaId: schemaIdForKey(routing, source.key),
    kind: recordFormatOf(source.key) ? "batch" : "document",
    source,
    sourceOrder: sourceOrderOf(object.sequencer),
    sourceAttribute: { M: marshall(source) },
    ocrMode: ocrRouting === undefined ? "auto" : ocrModeForKey(ocrRouting, source.key),
  };
}
