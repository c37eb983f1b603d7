import { ErrorNames } from "../functions/shared/errors.ts";

/**
 * The retry policy of the document workflow, in one place. The workflow definition attaches these rules; nothing
 * else spells Retry blocks. Deterministic errors (bad input, bad configuration) are never retried.
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

/** DynamoDB service-integration errors worth another try. */
export const transientDynamoDbErrors = [
  "DynamoDB.ProvisionedThroughputExceededException",
  "DynamoDB.ThrottlingException",
  "DynamoDB.RequestLimitExceeded",
  "DynamoDB.InternalServerErrorException",
  "DynamoDB.AmazonDynamoDBException",
];

/** Errors that mean "this input will never work": never retried, the document goes straight to FAILED. */
export const deterministicErrors = [
  ErrorNames.DocumentInput,
  ErrorNames.Configuration,
  ErrorNames.ModelLoad,
  ErrorNames.TooManyFailedChunks,
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
