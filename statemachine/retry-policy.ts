import { ErrorNames } from "../functions/shared/errors.ts";

/** Per-chunk rules, applied inside the inference function (DeadlineExceeded → split, OutputTruncated → larger budget). */
export { chunkRetryPolicy } from "../functions/shared/chunk-retry-policy.ts";

/**
 * The retry policy of the document workflow, in one place (docs/resilience.md has it as a table). The workflow
 * definition attaches these rules; nothing else spells Retry blocks. Deterministic errors (bad input, bad
 * configuration) are never retried.
 */
export interface RetryRule {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: "FULL" | "NONE";
}

/** Lambda's own transient failures: throttles, service errors, a container that died. */
export const transientLambdaErrors = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
  "Lambda.Unknown",
];

/**
 * A task that ran out of time: Lambda's own timeout (Sandbox.Timedout) or the task's TimeoutSeconds (States.Timeout).
 * Tried again, a little later, in a fresh container; the inference function splits chunks it cannot finish in time.
 */
export const timeoutErrors = ["Sandbox.Timedout", "States.Timeout"];

/** DynamoDB service-integration errors worth another try. */
export const transientDynamoDbErrors = [
  "DynamoDB.ProvisionedThroughputExceededException",
  "DynamoDB.ThrottlingException",
  "DynamoDB.RequestLimitExceeded",
  "DynamoDB.InternalServerErrorException",
  "DynamoDB.AmazonDynamoDBException",
];

/**
 * Errors of the uploaded document itself: never retried, caught, recorded on the item (FAILED with the code) and
 * final. A redrive cannot help; uploading a fixed file starts a new execution.
 */
export const inputErrors: string[] = [ErrorNames.DocumentInput, ErrorNames.TooManyFailedPages];

/**
 * Errors a retry cannot cure: never retried. Input errors are caught (above); the others fail the execution where
 * they happen and, being errors of the deployment (configuration, model, schema), can be redriven once it is fixed.
 */
export const deterministicErrors = [
  ErrorNames.DocumentInput,
  ErrorNames.Configuration,
  ErrorNames.ModelLoad,
  ErrorNames.TooManyFailedChunks,
  ErrorNames.TooManyFailedPages,
  ErrorNames.Superseded,
  ErrorNames.ResultInvalid,
];

export const lambdaRetry: RetryRule[] = [
  {
    ErrorEquals: transientLambdaErrors,
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: "FULL",
  },
  {
    ErrorEquals: timeoutErrors,
    IntervalSeconds: 5,
    MaxAttempts: 2,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
  },
];

export const dynamoDbRetry: RetryRule[] = [
  {
    ErrorEquals: transientDynamoDbErrors,
    IntervalSeconds: 1,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 20,
    JitterStrategy: "FULL",
  },
];
