import { Duration, type Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { readyTransitionFilters } from "../../functions/consumer/stream-filter.ts";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import type { PipelineFunctions } from "./pipeline-functions.ts";

export interface ResultsConsumer {
  /** The example stream consumer: receives items that became COMPLETED or PARTIAL. */
  consumerFunction: NodejsFunction;
  /** Stream batches the consumer gave up on. */
  consumerDeadLetterQueue: sqs.Queue;
}

/**
 * The example consumer of the table's stream (docs/stream-contract.md): Lambda filters the records, so it runs only
 * for items that just became COMPLETED or PARTIAL.
 */
export function createResultsConsumer(stack: Stack, functions: PipelineFunctions, table: dynamodb.ITable): ResultsConsumer {
  const consumerFunction = functions.node(FunctionCatalogue.consumer);
  const consumerDeadLetterQueue = new sqs.Queue(stack, "ResultsConsumerDeadLetterQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  consumerFunction.addEventSource(
    new DynamoEventSource(table, {
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 100,
      bisectBatchOnError: true,
      retryAttempts: 5,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(consumerDeadLetterQueue),
      filters: readyTransitionFilters.map((pattern) => lambda.FilterCriteria.filter(pattern)),
    }),
  );
  return { consumerFunction, consumerDeadLetterQueue };
}
