import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError } from "aws-local-stepfunctions";

/** The parts of an Amazon States Language definition the twin's Step Functions reads, and how it reports a failure. */

export type JsonObject = Record<string, unknown>;
export type StateDefinition = JsonObject & { Type: string };
export interface Definition {
  StartAt: string;
  States: Record<string, StateDefinition>;
  TimeoutSeconds?: number;
  Comment?: string;
}

/** The Error and Cause of a failed execution, as Step Functions reports them. */
export function errorParts(error: unknown): { error: string; cause: string } {
  let inner = error;
  if (error instanceof ExecutionError && error.cause) inner = error.cause;
  if (error instanceof ExecutionTimeoutError) return { error: "States.Timeout", cause: "The execution timed out" };
  if (error instanceof ExecutionAbortedError) return { error: "ExecutionAborted", cause: "The execution was stopped" };
  const err = inner instanceof Error ? inner : new Error(String(inner));
  return { error: err.name || "Error", cause: err.message };
}
