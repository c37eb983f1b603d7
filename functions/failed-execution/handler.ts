import type { Context, EventBridgeEvent } from "aws-lambda";
import { documentClient } from "../shared/aws-clients.ts";
import { requireEnv } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { addInvocationContext, logger } from "../shared/logger.ts";
import { executionFailureOf, recordExecutionFailure, UnrecordableEventError, type ExecutionStatusChangeDetail } from "./failure.ts";

const tableName = requireEnv(EnvNames.table);

export interface FailedExecutionOutput {
  documentId?: string;
  outcome: "recorded" | "already-final" | "unrecordable";
}

/**
 * EventBridge (Step Functions execution FAILED / TIMED_OUT / ABORTED) → the document's item says FAILED with the
 * execution's error. Idempotent: a repeated event, or one for an outcome already recorded, writes nothing.
 */
export async function handler(
  event: EventBridgeEvent<"Step Functions Execution Status Change", ExecutionStatusChangeDetail>,
  context?: Context,
): Promise<FailedExecutionOutput> {
  addInvocationContext(context);
  let failure;
  try {
    failure = executionFailureOf(event.detail);
  } catch (error) {
    // Retrying cannot add the missing document id: log it for the operator and let the event go.
    if (error instanceof UnrecordableEventError) {
      logger.warn("Execution status event not recorded", { reason: error.message, execution: event.detail?.executionArn });
      return { outcome: "unrecordable" };
    }
    throw error;
  }
  logger.appendKeys({ document: failure.documentId, execution: failure.executionArn });
  try {
    const outcome = await recordExecutionFailure(documentClient(), tableName, failure, new Date());
    logger.info(outcome === "recorded" ? "Unsuccessful execution recorded on the document" : "Document outcome already recorded", {
      status: failure.status,
      error: failure.error,
      redriveCount: failure.redriveCount,
    });
    return { documentId: failure.documentId, outcome };
  } finally {
    logger.removeKeys(["document", "execution"]);
  }
}
