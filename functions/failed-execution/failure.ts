import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { WorkflowInput } from "../shared/contracts.ts";
import { documentItemContractVersion, resultAttributes, type DocumentItem, type DocumentSource } from "../shared/document-item.ts";

/**
 * Executions that end without recording their outcome: a task failed beyond its retries (the workflow catches only
 * input errors, so that a redrive can resume at the failed state), the execution timed out, or someone stopped it.
 * Step Functions announces each end on EventBridge; this module turns that event into a FAILED document item.
 */

/** The fields of Step Functions' "Execution Status Change" event detail this function reads. */
export interface ExecutionStatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name?: string;
  status: string;
  /** When the execution started, in milliseconds since the epoch (the workflow's `$$.Execution.StartTime`). */
  startDate?: number;
  /** The execution's input as JSON text; null when it was too large for the event (`inputDetails.included` false). */
  input?: string | null;
  inputDetails?: { included: boolean };
  error?: string | null;
  cause?: string | null;
  redriveCount?: number;
}

export interface ExecutionFailure {
  documentId: string;
  executionArn: string;
  status: "FAILED" | "TIMED_OUT" | "ABORTED";
  error: string;
  cause: string;
  redriveCount: number;
  /** The upload the execution processed, from its input: what a FAILED item needs when the execution wrote none. */
  upload: ExecutionUpload;
}

/** The item fields "Mark document processing" writes from the execution's input. */
export interface ExecutionUpload {
  kind: WorkflowInput["kind"];
  schemaId: string;
  source: DocumentSource;
  sourceOrder: string;
  /** The execution's start (ISO); absent when the event has no `startDate`. */
  startedAt?: string;
}

/** Causes can be long (a Map Run's, a stack trace); the item keeps the start, like the merge does for chunks. */
export const maxCauseLength = 1000;

/** Why an event cannot be recorded: not an unsuccessful end, or no document to record it on. */
export class UnrecordableEventError extends Error {
  override readonly name = "UnrecordableEvent";
}

/** The document and the error an unsuccessful execution's status event stands for. */
export function executionFailureOf(detail: ExecutionStatusChangeDetail): ExecutionFailure {
  const { status } = detail;
  if (status !== "FAILED" && status !== "TIMED_OUT" && status !== "ABORTED") {
    throw new UnrecordableEventError(`Execution ${detail.executionArn} ended ${status}: nothing to record`);
  }
  if (typeof detail.input !== "string") {
    throw new UnrecordableEventError(`Execution ${detail.executionArn}: the event carries no input, so no document id`);
  }
  let input: Partial<WorkflowInput>;
  try {
    input = JSON.parse(detail.input) as Partial<WorkflowInput>;
  } catch {
    throw new UnrecordableEventError(`Execution ${detail.executionArn}: its input is not JSON`);
  }
  if (typeof input?.documentId !== "string" || input.documentId === "") {
    throw new UnrecordableEventError(`Execution ${detail.executionArn}: its input has no documentId`);
  }
  // "Mark document processing" cannot run without these either, so such an execution never had an item.
  const { kind, schemaId, source, sourceOrder } = input;
  if ((kind !== "document" && kind !== "batch") || typeof schemaId !== "string" || typeof sourceOrder !== "string" || !isDocumentSource(source)) {
    throw new UnrecordableEventError(`Execution ${detail.executionArn}: its input is not a workflow input (kind, schemaId, source, sourceOrder)`);
  }
  const { error, cause } =
    status === "TIMED_OUT"
      ? { error: "States.Timeout", cause: detail.cause || "The execution ran longer than the workflow's TimeoutSeconds" }
      : status === "ABORTED"
        ? { error: "ExecutionAborted", cause: detail.cause || "The execution was stopped (StopExecution)" }
        : { error: detail.error || "States.Runtime", cause: detail.cause || "" };
  return {
    documentId: input.documentId,
    executionArn: detail.executionArn,
    status,
    error,
    cause: cause.slice(0, maxCauseLength),
    redriveCount: detail.redriveCount ?? 0,
    upload: {
      kind,
      schemaId,
      source: sourceFields(source),
      sourceOrder,
      ...(typeof detail.startDate === "number" ? { startedAt: new Date(detail.startDate).toISOString() } : {}),
    },
  };
}

function isDocumentSource(value: unknown): value is DocumentSource {
  const source = value as Partial<DocumentSource> | undefined;
  return (
    typeof source === "object" &&
    source !== null &&
    typeof source.bucket === "string" &&
    typeof source.key === "string" &&
    typeof source.etag === "string" &&
    typeof source.size === "number"
  );
}

/** The source as the item contract has it: the start function's fields, nothing else the input may carry. */
function sourceFields({ bucket, key, versionId, etag, size, sequencer }: DocumentSource): DocumentSource {
  return { bucket, key, ...(versionId === undefined ? {} : { versionId }), etag, size, ...(sequencer === undefined ? {} : { sequencer }) };
}

/**
 * The FAILED item of an execution that failed before it wrote one ("Mark document processing" beyond its retries):
 * the fields that state would have written, and the failure. Version 1, as the first write of a new item.
 */
export function failedItemOf(failure: ExecutionFailure, now: Date): DocumentItem {
  const { kind, schemaId, source, sourceOrder, startedAt } = failure.upload;
  return {
    documentId: failure.documentId,
    kind,
    contractVersion: documentItemContractVersion,
    status: "FAILED",
    version: 1,
    source,
    sourceOrder,
    executionArn: failure.executionArn,
    schemaId,
    error: failure.error,
    cause: failure.cause,
    // The event carries the start (Step Functions always sends it); without one, the time it is recorded.
    timings: { startedAt: startedAt ?? now.toISOString() },
    updatedAt: now.toISOString(),
  };
}

/**
 * Marks the document FAILED with the execution's error:
 * - no item yet (the execution failed before "Mark document processing" wrote one): creates it, owned by this
 *   execution, so that the document is not lost; a redrive's "Mark document processing" takes it over as usual;
 * - the item is this execution's and PROCESSING, or FAILED with another error (a redrive that failed again,
 *   differently): sets status, error and cause, and keeps the rest.
 * - the item is an older upload's (this execution failed before it took the item over): takes it over as "Mark
 *   document processing" would have, removing the older upload's result, so the table does not show a stale result
 *   for the object's newest version.
 * Otherwise the outcome is recorded already (a caught input error, too many failed chunks, this very event delivered
 * twice, a success after a redrive) or a newer upload's execution owns the item: nothing is written, so a repeated
 * event adds no version.
 */
export async function recordExecutionFailure(
  client: DynamoDBDocumentClient,
  tableName: string,
  failure: ExecutionFailure,
  now: Date,
): Promise<"recorded" | "already-final"> {
  const failed = failedItemOf(failure, now);
  // One conditional write for an absent item and for this execution's own: if_not_exists fills a new item's fields
  // and leaves an existing item's.
  const recorded = await conditionalWrite(client, tableName, failed, {
    UpdateExpression:
      "SET #status = :failed, #error = :error, #cause = :cause, updatedAt = :now, " +
      "#kind = if_not_exists(#kind, :kind), contractVersion = if_not_exists(contractVersion, :contract), " +
      "#source = if_not_exists(#source, :source), sourceOrder = if_not_exists(sourceOrder, :order), " +
      "#owner = if_not_exists(#owner, :execution), schemaId = if_not_exists(schemaId, :schema), " +
      "timings = if_not_exists(timings, :timings) " +
      "ADD #version :one",
    ConditionExpression:
      "attribute_not_exists(documentId) OR " +
      "(#owner = :execution AND (#status = :processing OR (#status = :failed AND (#error <> :error OR #cause <> :cause))))",
    ExpressionAttributeValues: { ":processing": "PROCESSING" },
  });
  if (recorded) return "recorded";
  // An older upload's item: replaced as "Mark document processing" would have taken it over, its result removed.
  const takenOver = await conditionalWrite(client, tableName, failed, {
    UpdateExpression:
      "SET #status = :failed, #error = :error, #cause = :cause, updatedAt = :now, #kind = :kind, contractVersion = :contract, " +
      "#source = :source, sourceOrder = :order, #owner = :execution, schemaId = :schema, timings = :timings " +
      `REMOVE ${olderResultAttributes.map((_, i) => `#finished${i}`).join(", ")} ` +
      "ADD #version :one",
    // Strictly older: an equal order is this upload's own item, which the first write judged.
    ConditionExpression: "sourceOrder < :order",
    ExpressionAttributeNames: Object.fromEntries(olderResultAttributes.map((name, i) => [`#finished${i}`, name])),
  });
  return takenOver ? "recorded" : "already-final";
}

/** An older upload's result, less `error` and `cause`, which the FAILED item sets. */
const olderResultAttributes = resultAttributes.filter((name) => name !== "error" && name !== "cause");

/**
 * An UpdateItem of `failed`'s fields under a condition, with the names and values both writes use; false when the
 * condition does not hold.
 */
async function conditionalWrite(
  client: DynamoDBDocumentClient,
  tableName: string,
  failed: DocumentItem,
  write: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> },
): Promise<boolean> {
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { documentId: failed.documentId },
        UpdateExpression: write.UpdateExpression,
        ConditionExpression: write.ConditionExpression,
        ExpressionAttributeNames: {
          "#status": "status",
          "#error": "error",
          "#cause": "cause",
          "#owner": "executionArn",
          "#version": "version",
          "#kind": "kind",
          "#source": "source",
          ...write.ExpressionAttributeNames,
        },
        ExpressionAttributeValues: {
          ":failed": failed.status,
          ":error": failed.error,
          ":cause": failed.cause,
          ":execution": failed.executionArn,
          ":now": failed.updatedAt,
          ":one": 1,
          ":kind": failed.kind,
          ":contract": failed.contractVersion,
          ":source": failed.source,
          ":order": failed.sourceOrder,
          ":schema": failed.schemaId,
          ":timings": failed.timings,
          ...write.ExpressionAttributeValues,
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
