import { type CfnElement, type Stack, Token, Validations } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import { MapLabel, OcrMapLabel } from "../../statemachine/definition.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import type { IsolatedNetwork } from "./isolated-network.ts";
import { stateMachineNameOf } from "./workflow.ts";

/** The resources that carry acknowledged findings (LlambdaStack has them all). */
export interface NaggedResources {
  bucket: s3.Bucket;
  accessLogsBucket: s3.Bucket;
  stateMachine: sfn.StateMachine;
  startFunction: lambda.Function;
  chunkFunction: lambda.Function;
  ocrFunction: lambda.Function;
  inferFunction: lambda.Function;
  mergeFunction: lambda.Function;
  reviewFunction: lambda.Function;
  consumerFunction: lambda.Function;
  failedExecutionFunction: lambda.Function;
  consumerDeadLetterQueue: sqs.Queue;
  alarmTopic?: sns.ITopic;
  network?: IsolatedNetwork;
}

/**
 * cdk-nag (AwsSolutions) findings accepted on purpose, each with its reason; test/stack/cdk-nag.test.ts runs the checks and
 * fails on any finding not acknowledged here.
 */
export function acknowledgeNagFindings(stack: Stack & NaggedResources, tracing: boolean): void {
  const ack = (construct: Construct, ids: string[], reason: string) => {
    // A function's permission findings sit on its role, a sibling construct.
    const targets = construct instanceof lambda.Function && construct.role ? [construct, construct.role] : [construct];
    // cdk-nag 3 reports findings as "<pack>::<rule>[<finding>]".
    for (const target of targets) for (const id of ids) Validations.of(target).acknowledge({ id: `AwsSolutions::${id}`, reason });
  };
  const arnOf = (construct: Construct) => `<${stack.getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
  const { chunkFunction, ocrFunction, inferFunction, mergeFunction, reviewFunction, consumerFunction } = stack;
  const bucketArn = arnOf(stack.bucket);
  const objectsUnder = (prefixes: string[]) => prefixes.map((prefix) => `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`);
  const prefixReason = "Object keys are per document; the grant is limited to the prefix this function reads or writes.";
  ack(chunkFunction, objectsUnder([BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix, BucketLayout.mapResultsPrefix]), prefixReason);
  ack(ocrFunction, objectsUnder([BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix]), prefixReason);
  ack(inferFunction, objectsUnder([BucketLayout.chunksPrefix]), prefixReason);
  ack(mergeFunction, objectsUnder([BucketLayout.mapResultsPrefix, BucketLayout.chunksPrefix, BucketLayout.resultsPrefix]), prefixReason);
  ack(
    reviewFunction,
    objectsUnder([BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix, BucketLayout.resultsPrefix, BucketLayout.reviewsPrefix]),
    prefixReason,
  );
  ack(consumerFunction, objectsUnder([BucketLayout.resultsPrefix]), prefixReason);
  ack(
    consumerFunction,
    ["AwsSolutions-IAM5[Resource::*]"],
    "dynamodb:ListStreams has no resource-level permission; the stream event source mapping needs it.",
  );
  const nodeFunctions = [stack.startFunction, chunkFunction, mergeFunction, consumerFunction, stack.failedExecutionFunction];
  for (const fn of nodeFunctions) {
    ack(
      fn,
      ["AwsSolutions-L1"],
      "nodejs22.x is the runtime llambda is built and tested for; a newer one is adopted deliberately, with the tests.",
    );
  }
  if (tracing) {
    for (const fn of [...nodeFunctions, ocrFunction, inferFunction, reviewFunction]) {
      ack(fn, ["AwsSolutions-IAM5[Resource::*]"], "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permission.");
    }
  }
  const workflowReasons: Array<[string, string]> = [
    ...[chunkFunction, ocrFunction, inferFunction, mergeFunction, reviewFunction].map(
      (fn): [string, string] => [`AwsSolutions-IAM5[Resource::${arnOf(fn)}:*]`, "Invoking the function's versions and aliases."],
    ),
    [`AwsSolutions-IAM5[Resource::${bucketArn}/${BucketLayout.chunksPrefix}*]`, "The Distributed Maps read chunk manifests and OCR page groups."],
    [`AwsSolutions-IAM5[Resource::${bucketArn}/${BucketLayout.mapResultsPrefix}*]`, "The Distributed Map writes its result files."],
    ["AwsSolutions-IAM5[Resource::*]", "CloudWatch Logs delivery (logs:*LogDelivery, DescribeLogGroups...) has no resource-level permission."],
  ];
  const stateMachineName = stateMachineNameOf(stack);
  // cdk-nag names an unresolved pseudo parameter as <AWS::Name> in its finding ids.
  const literal = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  const statesArn = (resource: string, name: string) =>
    `arn:${literal(stack.partition, "Partition")}:states:${literal(stack.region, "Region")}:${literal(stack.account, "AccountId")}:${resource}:${name}`;
  for (const [resource, name] of [
    ["mapRun", `${stateMachineName}/*`],
    ["execution", `${stateMachineName}:*`],
    ["execution", `${stateMachineName}/${MapLabel}:*`],
    ["execution", `${stateMachineName}/${OcrMapLabel}:*`],
    ["execution", `${stateMachineName}/*`],
  ] as const) {
    workflowReasons.push([
      `AwsSolutions-IAM5[Resource::${statesArn(resource, name)}]`,
      "Distributed Map child executions and Map Runs have generated names under this state machine.",
    ]);
  }
  for (const [id, reason] of workflowReasons) ack(stack.stateMachine, [id], reason);
  if (!tracing) {
    ack(stack.stateMachine, ["AwsSolutions-SF2"], "X-Ray is opt-in (-c llambda:tracing=true): it costs per trace.");
  }
  ack(
    stack.consumerDeadLetterQueue,
    ["AwsSolutions-SQS3"],
    "It is a dead-letter queue: the on-failure destination of the stream consumer's event source mapping.",
  );
  ack(stack.accessLogsBucket, ["AwsSolutions-S1"], "It is the access-log bucket; logging it to itself would loop.");
  if (stack.alarmTopic instanceof sns.Topic) {
    ack(
      stack.alarmTopic,
      ["AwsSolutions-SNS2"],
      "Alarm notifications carry alarm names and metric values, never document content. CloudWatch cannot publish " +
        "to a topic under the AWS-managed SNS key, and a customer-managed key would cost $1 a month while idle.",
    );
  }
  if (stack.network) {
    for (const lookup of ["S3PrefixList", "DynamoDbPrefixList"]) {
      ack(
        stack.network.node.findChild(lookup),
        ["AwsSolutions-IAM5[Resource::*]"],
        "ec2:DescribeManagedPrefixLists has no resource-level permission; it runs once per deploy to find the endpoints' prefix lists.",
      );
    }
  }
  // CDK's own deploy-time helpers (turning on the bucket's EventBridge notifications; the prefix-list lookups of
  // isolated mode): constructs we do not define, which only write their logs.
  for (const child of stack.node.findAll()) {
    if (child.node.id.startsWith("BucketNotificationsHandler") || child.node.id === "AWS679f53fac002430cb0da5b7982bd2287") {
      ack(
        child,
        ["AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"],
        "A CDK deploy-time handler (bucket notifications, prefix-list lookup); its managed policy only lets it write logs.",
      );
    }
  }
}
