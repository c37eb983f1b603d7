import { Aws, CfnOutput, type Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";

/** The stack's outputs: what `cdk deploy` prints for the deployer (names and where to upload). */
export function addOutputs(
  stack: Stack,
  parts: {
    bucket: s3.IBucket;
    table: dynamodb.ITable;
    stateMachine: sfn.IStateMachine;
    deadLetterQueue: sqs.IQueue;
    uploadQueue: sqs.IQueue;
    modelId: string;
    alarmTopic?: sns.ITopic;
    vpc?: ec2.IVpc;
  },
): void {
  const { bucket, table, stateMachine } = parts;
  new CfnOutput(stack, "BucketName", { value: bucket.bucketName });
  new CfnOutput(stack, "UploadsPrefix", {
    value: `s3://${bucket.bucketName}/${BucketLayout.uploadsPrefix}`,
    description: "Copy documents here to process them",
  });
  new CfnOutput(stack, "TableName", { value: table.tableName });
  new CfnOutput(stack, "TableStreamArn", { value: table.tableStreamArn ?? "" });
  new CfnOutput(stack, "StateMachineArn", { value: stateMachine.stateMachineArn });
  new CfnOutput(stack, "StateMachineConsoleUrl", {
    value:
      `https://${Aws.REGION}.console.aws.amazon.com/states/home?region=${Aws.REGION}` +
      `#/statemachines/view/${stateMachine.stateMachineArn}`,
  });
  new CfnOutput(stack, "DeadLetterQueueUrl", {
    value: parts.deadLetterQueue.queueUrl,
    description: "Upload events whose workflow could not be started, and failed-execution events that could not be recorded",
  });
  new CfnOutput(stack, "UploadQueueUrl", {
    value: parts.uploadQueue.queueUrl,
    description: "Uploads waiting for room to start (ApproximateNumberOfMessagesVisible is the backlog)",
  });
  new CfnOutput(stack, "ModelId", { value: parts.modelId });
  if (parts.alarmTopic) new CfnOutput(stack, "AlarmTopicArn", { value: parts.alarmTopic.topicArn, description: "Alarms notify this SNS topic" });
  if (parts.vpc) new CfnOutput(stack, "VpcId", { value: parts.vpc.vpcId, description: "Isolated mode: the functions' VPC" });
}
