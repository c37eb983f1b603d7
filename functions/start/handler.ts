import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ExecutionAlreadyExists, ListExecutionsCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { sfnClient } from "../shared/aws-clients.ts";
import { intEnv, optionalEnv, requireEnv } from "../shared/config.ts";
import { ConfigurationError } from "../shared/errors.ts";
import { defaultSchemaId, extractionSchemas } from "../schemas/index.ts";
import { EnvNames } from "../shared/env-names.ts";
import { addInvocationContext, logger } from "../shared/logger.ts";
import { executionArnFor, executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "./execution-name.ts";
import { parseSchemaRouting, validateSchemaRouting, type SchemaRouting } from "./schema-routing.ts";
import { admitUploads, openMapRunsHeadroom, uploadPollers, type QueuedUpload } from "./admission.ts";

const stateMachineArn = requireEnv(EnvNames.stateMachineArn);
const schemaRouting = readSchemaRouting();
const maxRunningDocuments = intEnv(EnvNames.maxRunningDocuments, 40, { min: 1, max: openMapRunsHeadroom });

function readSchemaRouting(): SchemaRouting {
  const text = optionalEnv(EnvNames.schemaRouting, JSON.stringify({ routes: {}, defaultSchemaId }));
  try {
    const routing = parseSchemaRouting(text);
    // Uploads reach this function only from under the uploads prefix; the stack checked the same at synth time.
    validateSchemaRouting(routing, Object.keys(extractionSchemas), "");
    return routing;
  } catch (error) {
    throw new ConfigurationError(`${EnvNames.schemaRouting}: ${(error as Error).message}`, { cause: error });
  }
}

export interface StartResult {
  executionName: string;
  documentId: string;
  /** False when an execution of that name already existed: a duplicate event, treated as success. */
  started: boolean;
}

/** One upload → one workflow execution per object version; a duplicate (ExecutionAlreadyExists) is success. */
async function startDocument(event: ObjectCreatedEvent): Promise<StartResult> {
  const input = workflowInputFromEvent(event, schemaRouting);
  const executionName = executionNameFor(input.source);
  logger.appendKeys({ document: input.documentId, execution: executionArnFor(stateMachineArn, executionName) });
  try {
    await sfnClient().send(
      new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(input) }),
    );
    logger.info("Started document workflow", { key: input.source.key, size: input.source.size, schemaId: input.schemaId });
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
}

/** Running executions of the workflow, counted until `atLeast` (no need to page further). */
async function countRunning(atLeast: number): Promise<number> {
  let count = 0;
  let nextToken: string | undefined;
  do {
    const page = await sfnClient().send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING", maxResults: 1000, nextToken }),
    );
    count += page.executions?.length ?? 0;
    nextToken = page.nextToken;
  } while (nextToken && count < atLeast);
  return count;
}

/**
 * Uploads arrive through the SQS queue (EventBridge → SQS → here): each message is the EventBridge S3 event. They are
 * admitted while fewer than LLAMBDA_MAX_RUNNING_DOCUMENTS executions run; the others are reported as batch item
 * failures and come back after the queue's visibility timeout, so a burst waits in the queue instead of failing.
 * A direct EventBridge invocation (one event) is still accepted and starts at once.
 */
export async function handler(event: SQSEvent | ObjectCreatedEvent, context?: Context): Promise<SQSBatchResponse | StartResult> {
  addInvocationContext(context);
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
}
