import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";

/** The service name of every log line and metric (`service` in both). */
export const serviceName = "llambda";

/**
 * The one logger. Correlation keys (execution, document, chunk) are appended per invocation with
 * `logger.appendKeys`; document text is never logged at INFO.
 */
export const logger = new Logger({ serviceName });

/**
 * Adds the invocation to every line that follows (Powertools `addContext`): `function_request_id`, `cold_start`,
 * `function_name`, `function_arn`, `function_memory_size`. Called first in every handler. A direct call without a
 * Lambda context (tests, CLIs) adds nothing.
 */
export function addInvocationContext(context: Partial<Context> | undefined): void {
  if (context?.awsRequestId !== undefined) logger.addContext(context as Context);
}
