import { Duration, type Stack } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { failedExecutionEventPattern } from "../specs.ts";
import { toCdkEventPattern } from "./event-pattern.ts";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import type { PipelineFunctions } from "./pipeline-functions.ts";

export interface FailureRecording {
  failedExecutionFunction: NodejsFunction;
  failedExecutionRule: events.Rule;
}

/**
 * Executions that fail beyond their retries, time out or are stopped end where they stopped (so a redrive can resume
 * there); this rule has their end recorded on the document's item.
 */
export function createFailureRecording(
  stack: Stack,
  functions: PipelineFunctions,
  stateMachine: sfn.IStateMachine,
  deadLetterQueue: sqs.IQueue,
): FailureRecording {
  const failedExecutionFunction = functions.node(FunctionCatalogue.failedExecution);
  const failedExecutionRule = new events.Rule(stack, "FailedExecutionRule", {
    description: "llambda: unsuccessful document workflow executions are recorded on their document item",
    eventPattern: toCdkEventPattern(failedExecutionEventPattern(stateMachine.stateMachineArn)),
  });
  failedExecutionRule.addTarget(
    new targets.LambdaFunction(failedExecutionFunction, {
      retryAttempts: 8,
      maxEventAge: Duration.hours(24),
      deadLetterQueue,
    }),
  );
  return { failedExecutionFunction, failedExecutionRule };
}
