import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { WorkflowInput } from "../shared/contracts.ts";

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
  };
}

/**
 * Marks the document FAILED with the execution's error, if this execution owns the item and it is PROCESSING, or
 * FAILED with another error (a redrive that failed again, differently). Otherwise the outcome is recorded already (a
 * caught input error, too many failed chunks, this very event delivered twice, a success after a redrive) or a newer
 * upload owns the item: nothing is written, so a repeated event adds no version.
 */
export async function recordExecutionFailure(
  client: DynamoDBDocumentClient,
  tableName: string,
  failure: ExecutionFailure,
  now: Date,
): Promise<"recorded" | "already-final"> {
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { documentId: failure.documentId },
        UpdateExpression: "SET #status = :failed, #error = :error, #cause = :cause, updatedAt = :now ADD #version :one",
        ConditionExpression:
          "#owner = :execution AND (#status = :processing OR (#status = :failed AND (#error <> :error OR #cause <> :cause)))",
        ExpressionAttributeNames: { "#status": "status", "#error": "error", "#cause": "cause", "#owner": "executionArn", "#version": "version" },
        ExpressionAttributeValues: {
          ":failed": "FAILED",
          ":processing": "PROCESSING",
          ":error": failure.error,
          ":cause": failure.cause,
          ":execution": failure.executionArn,
          ":now": now.toISOString(),
          ":one": 1,
        },
      }),
    );
    return "recorded";
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return "already-final";
    throw error;
  }
}
