import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ExecutionAlreadyExists, ListExecutionsCommand, StartExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { sfnClient } from "../shared/aws-clients.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { admitUploads, uploadPollers, type QueuedUpload } from "./admission.ts";
import type { StartConfig } from "./config.ts";
import { executionArnFor, executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "./execution-name.ts";

export interface StartResult {
  executionName: string;
  documentId: string;
  /** False when an execution of that name already existed: a duplicate event, treated as success. */
  started: boolean;
}

export interface StartDependencies {
  sfn: () => SFNClient;
}

/**
 * Uploads arrive through the SQS queue (EventBridge → SQS → here): each message is the EventBridge S3 event. They are
 * admitted while fewer than LLAMBDA_MAX_RUNNING_DOCUMENTS executions run; the others are reported as batch item
 * failures and come back after the queue's visibility timeout, so a burst waits in the queue instead of failing.
 * A direct EventBridge invocation (one event) is still accepted and starts at once.
 */
export function createHandler(
  config: StartConfig,
  deps: StartDependencies = { sfn: sfnClient },
): LambdaHandler<SQSEvent | ObjectCreatedEvent, SQSBatchResponse | StartResult> {
  const initClock = startInitClock();
  const { stateMachineArn, schemaRouting, ocrRouting, maxRunningDocuments } = config;

  /** One upload → one workflow execution per object version; a duplicate (ExecutionAlreadyExists) is success. */
  const startDocument = async (event: ObjectCreatedEvent): Promise<StartResult> => {
    const input = workflowInputFromEvent(event, schemaRouting, ocrRouting);
    const executionName = executionNameFor(input.source);
    // Per upload, not per invocation: one invocation starts a batch of documents.
    logger.appendKeys({ document: input.documentId, execution: executionArnFor(stateMachineArn, executionName) });
    try {
      await deps.sfn().send(new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(input) }));
      logger.info("Started document workflow", { key: input.source.key, size: input.source.size, schemaId: input.schemaId, ocrMode: input.ocrMode });
      return { executionName, documentId: input.documentId, started: true };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) {
        logger.info("Execution already exists for this object version; duplicate event ignored");
        return { executionName, documentId: input.documentId, started: false };
      }
      throw error;
    } finally {
      logger.removeKeys(["document", "execution"]);
    }
  };

  /** Running executions of the workflow, counted until `atLeast` (no need to page further). */
  const countRunning = async (atLeast: number): Promise<number> => {
    let count = 0;
    let nextToken: string | undefined;
    do {
      const page = await deps.sfn().send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING", maxResults: 1000, nextToken }),
      );
      count += page.executions?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken && count < atLeast);
    return count;
  };

  return invocationHandler({ initMs: initClock(), metrics: false }, async (event) => {
    if (!("Records" in event)) return startDocument(event);
    const uploads: Array<QueuedUpload<ObjectCreatedEvent>> = [];
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      try {
        uploads.push({ messageId: record.messageId, body: JSON.parse(record.body) as ObjectCreatedEvent });
      } catch (error) {
        // Never valid: it goes to the dead-letter queue after the queue's receive limit.
        logger.error("Queue message is not an S3 event", { messageId: record.messageId, error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    const outcome = await admitUploads(uploads, {
      maxRunningDocuments,
      pollers: uploadPollers,
      countRunning,
      start: async (upload) => ((await startDocument(upload)).started ? "started" : "duplicate"),
      onStartError: (messageId, error) => logger.warn("Could not start the document workflow; it stays queued", { messageId, error }),
    });
    if (outcome.waiting.length > 0) {
      logger.info("Uploads wait in the queue", { waiting: outcome.waiting.length, started: outcome.started.length, maxRunningDocuments });
    }
    batchItemFailures.push(...outcome.waiting.map((messageId) => ({ itemIdentifier: messageId })));
    return { batchItemFailures };
  });
}
