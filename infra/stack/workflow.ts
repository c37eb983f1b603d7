import { ArnFormat, type Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { buildDocumentWorkflow, MapLabel, OcrMapLabel } from "../../statemachine/definition.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import { under, type DocumentStore } from "./document-store.ts";
import type { StackSettings } from "./props.ts";
import type { TaskFunctions } from "./task-functions.ts";

/** The state machine's fixed name: its role's statements name its executions by it (see workflowStatements). */
export const stateMachineNameOf = (stack: Stack): string => `${stack.stackName}-document-workflow`;

/** The workflow: statemachine/definition.ts, the same definition the local twin runs. */
export function createWorkflow(
  stack: Stack,
  settings: Pick<StackSettings, "logRetention" | "removalPolicy" | "workflow">,
  tracing: boolean,
  tasks: TaskFunctions,
  store: DocumentStore,
): sfn.StateMachine {
  const stateMachineName = stateMachineNameOf(stack);
  const workflowLogs = new logs.LogGroup(stack, "DocumentWorkflowLogs", {
    retention: settings.logRetention,
    removalPolicy: settings.removalPolicy,
  });
  const definition = buildDocumentWorkflow(
    {
      chunkFunctionArn: tasks.chunk.functionArn,
      ocrFunctionArn: tasks.ocr.functionArn,
      inferFunctionArn: tasks.infer.functionArn,
      mergeFunctionArn: tasks.merge.functionArn,
      reviewFunctionArn: tasks.review.functionArn,
      tableName: store.table.tableName,
      bucketName: store.bucket.bucketName,
    },
    settings.workflow,
  );
  const stateMachine = new sfn.StateMachine(stack, "DocumentWorkflow", {
    stateMachineName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    // fromString infers no IAM and ignores `timeout` (the definition has its own TimeoutSeconds): see below.
    definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
    tracingEnabled: tracing,
    // Every state transition, without execution data: an audit trail that never holds document content.
    logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
  for (const statement of workflowStatements(stack, stateMachineName, tasks, store)) stateMachine.addToRolePolicy(statement);
  // The ItemReaders read chunk manifests and OCR page groups, the ResultWriters write map results.
  store.bucketKey?.grant(stateMachine, "kms:Decrypt", "kms:GenerateDataKey");
  return stateMachine;
}

/**
 * The state machine role's permissions, spelled out because DefinitionBody.fromString infers none. The state
 * machine's own ARN is built from its fixed name: referencing `stateMachineArn` here would be a dependency cycle.
 */
function workflowStatements(stack: Stack, stateMachineName: string, tasks: TaskFunctions, store: DocumentStore): iam.PolicyStatement[] {
  const statesArn = (resource: string, resourceName: string): string =>
    stack.formatArn({ service: "states", resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const functions = [tasks.chunk, tasks.ocr, tasks.infer, tasks.merge, tasks.review];
  return [
    new iam.PolicyStatement({
      sid: "InvokeWorkflowFunctions",
      actions: ["lambda:InvokeFunction"],
      resources: functions.flatMap((fn) => [fn.functionArn, `${fn.functionArn}:*`]),
    }),
    new iam.PolicyStatement({
      sid: "UpdateDocumentItems",
      actions: ["dynamodb:UpdateItem"],
      resources: [store.table.tableArn],
    }),
    // Both Maps' item lists: chunk manifests and OCR page groups (chunks/<document id>/ocr/).
    new iam.PolicyStatement({
      sid: "ReadChunkManifests",
      actions: ["s3:GetObject"],
      resources: [store.bucket.arnForObjects(under(BucketLayout.chunksPrefix))],
    }),
    new iam.PolicyStatement({
      sid: "WriteMapResults",
      actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
      resources: [store.bucket.arnForObjects(under(BucketLayout.mapResultsPrefix))],
    }),
    new iam.PolicyStatement({
      sid: "DistributedMapChildExecutions",
      actions: ["states:StartExecution"],
      resources: [statesArn("stateMachine", stateMachineName)],
    }),
    new iam.PolicyStatement({
      sid: "DistributedMapExecutions",
      actions: ["states:DescribeExecution", "states:StopExecution"],
      resources: [statesArn("execution", `${stateMachineName}/*`), statesArn("execution", `${stateMachineName}:*`)],
    }),
    new iam.PolicyStatement({
      sid: "DistributedMapRedrive",
      actions: ["states:RedriveExecution"],
      resources: [MapLabel, OcrMapLabel].map((label) => statesArn("execution", `${stateMachineName}/${label}:*`)),
    }),
    new iam.PolicyStatement({
      sid: "DistributedMapRuns",
      actions: ["states:DescribeMapRun", "states:ListMapRuns", "states:UpdateMapRun"],
      resources: [statesArn("mapRun", `${stateMachineName}/*`), statesArn("execution", `${stateMachineName}:*`)],
    }),
  ];
}
