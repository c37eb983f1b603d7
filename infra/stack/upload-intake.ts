import { Duration, type Stack } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import { uploadBatchSize, uploadPollers, uploadQueueMaxReceiveCount } from "../../functions/start/admission.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import { uploadEventPattern } from "../specs.ts";
import { toCdkEventPattern } from "./event-pattern.ts";
import type { PipelineFunctions } from "./pipeline-functions.ts";

/**
 * Uploads start the workflow: S3 -> EventBridge -> queue -> start function, which names the execution
 * deterministically and admits uploads while few enough documents run (bursts: see docs/resilience.md).
 */
export interface UploadIntake {
  /** Upload events whose workflow could not be started; also the failed-execution rule's dead letters. */
  deadLetterQueue: sqs.Queue;
  startFunction: NodejsFunction;
  /** Uploads waiting to start: EventBridge puts them here, the start function admits them. */
  uploadQueue: sqs.Queue;
}

/** The queues and the start function; `connectUploadIntake` adds the workflow it starts and the upload rule. */
export function createUploadIntake(stack: Stack, functions: PipelineFunctions): UploadIntake {
  const deadLetterQueue = new sqs.Queue(stack, "UploadEventsDeadLetterQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const startFunction = functions.node(FunctionCatalogue.start);
  // A message that keeps failing (not an S3 event) ends in the dead-letter queue.
  const uploadQueue = new sqs.Queue(stack, "UploadQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    // Six times the start function's timeout (AWS's advice); also how long an upload waits before it asks again.
    visibilityTimeout: Duration.seconds(180),
    // Waiting for room counts as a receive: 400 receives are 20 hours of waiting.
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: uploadQueueMaxReceiveCount },
  });
  startFunction.addEventSource(
    new SqsEventSource(uploadQueue, {
      batchSize: uploadBatchSize,
      maxConcurrency: uploadPollers,
      reportBatchItemFailures: true,
    }),
  );
  return { deadLetterQueue, startFunction, uploadQueue };
}

/** The start function may start (and count, for admission) the workflow's executions; uploads reach its queue. */
export function connectUploadIntake(
  stack: Stack,
  functions: PipelineFunctions,
  intake: UploadIntake,
  stateMachine: sfn.StateMachine,
  bucket: s3.IBucket,
): events.Rule {
  functions.grantExecutions(intake.startFunction, stateMachine);

  const uploadRule = new events.Rule(stack, "UploadRule", {
    description: `llambda: objects created under s3://<bucket>/${BucketLayout.uploadsPrefix} start the document workflow`,
    eventPattern: toCdkEventPattern(uploadEventPattern(bucket.bucketName)),
  });
  uploadRule.addTarget(
    new targets.SqsQueue(intake.uploadQueue, {
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
      deadLetterQueue: intake.deadLetterQueue,
    }),
  );
  return uploadRule;
}
