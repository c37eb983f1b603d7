import { ExecutionAlreadyExists, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { sfnClient } from "../shared/aws-clients.ts";
import { optionalEnv, requireEnv } from "../shared/config.ts";
import { ConfigurationError } from "../shared/errors.ts";
import { defaultSchemaId, extractionSchemas } from "../schemas/index.ts";
import { EnvNames } from "../shared/env-names.ts";
import { logger } from "../shared/logger.ts";
import { executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "./execution-name.ts";
import { parseSchemaRouting, validateSchemaRouting, type SchemaRouting } from "./schema-routing.ts";

const stateMachineArn = requireEnv(EnvNames.stateMachineArn);
const schemaRouting = readSchemaRouting();

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

/** EventBridge (S3 Object Created under uploads/) → one workflow execution per object version. */
export async function handler(event: ObjectCreatedEvent): Promise<StartResult> {
  const input = workflowInputFromEvent(event, schemaRouting);
  const executionName = executionNameFor(input.source);
  logger.appendKeys({ document: input.documentId, execution: executionName });
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
