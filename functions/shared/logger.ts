import { Logger } from "@aws-lambda-powertools/logger";

/** The service name of every log line and metric (`service` in both). */
export const serviceName = "llambda";

/**
 * The one logger. Correlation keys (execution, document, chunk) are appended per invocation with
 * `logger.appendKeys`; document text is never logged at INFO.
 */
export const logger = new Logger({ serviceName });
