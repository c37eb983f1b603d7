import { ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { sfnClient } from "../shared/aws-clients.ts";
import { requireEnv } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { logger } from "../shared/logger.ts";
import { executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "./execution-name.ts";

const stateMachineArn = requireEnv(EnvNames.stateMachineArn);

export interface StartResult {
  executionName: string;
  documentId: string;
  /** False when an execution of that name already existed: a duplicate event, treated as success. */
  started: boolean;
}

/** EventBridge (S3 Object Created under uploads/) → one workflow execution per object version. */
export async function handler(event: ObjectCreatedEvent): Promise<StartResult> {
  const input = workflowInputFromEvent(event);
  const executionName = executionNameFor(input.source);
  logger.appendKeys({ document: input.documentId, execution: executionName });
  try {
    await sfnClient().send(
      new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(input) }),
    );
    logger.info("Started document workflow", { key: input.source.key, size: input.source.size });
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
