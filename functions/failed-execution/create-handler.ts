import type { EventBridgeEvent } from "aws-lambda";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../shared/aws-clients.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import type { FailedExecutionConfig } from "./config.ts";
import { executionFailureOf, recordExecutionFailure, UnrecordableEventError, type ExecutionStatusChangeDetail } from "./failure.ts";

export interface FailedExecutionOutput {
  documentId?: string;
  outcome: "recorded" | "already-final" | "unrecordable";
}

/**
 * EventBridge (Step Functions execution FAILED / TIMED_OUT / ABORTED) → the document's item says FAILED with the
 * execution's error. Idempotent: a repeated event, or one for an outcome already recorded, writes nothing.
 */
export function createHandler(
  config: FailedExecutionConfig,
  deps: { documents: () => DynamoDBDocumentClient } = { documents: documentClient },
): LambdaHandler<ExecutionStatusChangeEvent, FailedExecutionOutput> {
  const initClock = startInitClock();
  return invocationHandler({ initMs: initClock(), metrics: false }, (event) => recordFailedExecution(event, config, deps.documents()));
}

type ExecutionStatusChangeEvent = EventBridgeEvent<"Step Functions Execution Status Change", ExecutionStatusChangeDetail>;

async function recordFailedExecution(
  event: ExecutionStatusChangeEvent,
  config: FailedExecutionConfig,
  documents: DynamoDBDocumentClient,
): Promise<FailedExecutionOutput> {
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
    const outcome = await recordExecutionFailure(documents, config.table, failure, new Date());
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
