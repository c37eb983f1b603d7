/**
 * The llambda stack, as a table of contents: each part lives in infra/stack/ and is called here in order.
 *
 * The parts are plain functions and classes that create their resources with this stack as scope, not Construct
 * subclasses: CDK derives logical ids from construct paths, so wrapping resources in new constructs would rename them
 * all and CloudFormation would replace the bucket and the table of an existing deployment (orphaning retained data).
 * The call order below is also the template's resource order; keep it when adding parts.
 */
import { Duration, Lazy, Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as events from "aws-cdk-lib/aws-events";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import { FunctionCatalogue, type DeploymentValues } from "../functions/catalogue.ts";
import { EnvNames } from "../functions/shared/env-names.ts";
import { maxRunningDocumentsFor } from "../functions/start/admission.ts";
import type { WorkflowSettings } from "../statemachine/definition.ts";
import { resolveModelArtifact, type ModelArtifact } from "./model-artifact.ts";
import { PipelineObservability } from "./observability.ts";
import { createAlarmTopic } from "./stack/alarm-topic.ts";
import { createDocumentStore } from "./stack/document-store.ts";
import { createFailureRecording } from "./stack/failure-recording.ts";
import { IsolatedNetwork } from "./stack/isolated-network.ts";
import { acknowledgeNagFindings } from "./stack/nag-acknowledgements.ts";
import { addOutputs } from "./stack/outputs.ts";
import { INFER_LORA_PATH, INFER_MODEL_PATH, PipelineFunctions } from "./stack/pipeline-functions.ts";
import { resolveStackSettings, type LlambdaStackProps } from "./stack/props.ts";
import { createResultsConsumer } from "./stack/results-consumer.ts";
import { createTaskFunctions } from "./stack/task-functions.ts";
import { connectUploadIntake, createUploadIntake } from "./stack/upload-intake.ts";
import { createWorkflow } from "./stack/workflow.ts";

export { REPO_ROOT } from "./repo-root.ts";
export { toCdkEventPattern } from "./stack/event-pattern.ts";
export { IsolatedNetwork } from "./stack/isolated-network.ts";
export { INFER_LORA_PATH, INFER_MODEL_PATH } from "./stack/pipeline-functions.ts";
export { alarmEmailPattern, alarmTopicArnPattern, type InferTuning, type LlambdaStackProps } from "./stack/props.ts";

export class LlambdaStack extends Stack {
  readonly bucket: s3.Bucket;
  /** Server access logs of the document bucket (who read or wrote which document, for audits). */
  readonly accessLogsBucket: s3.Bucket;
  /** The document bucket's key when `bucketKmsKey` is set. */
  readonly bucketKey?: kms.Key;
  readonly table: dynamodb.Table;
  readonly stateMachine: sfn.StateMachine;
  readonly startFunction: NodejsFunction;
  readonly chunkFunction: NodejsFunction;
  readonly mergeFunction: NodejsFunction;
  /** The example stream consumer: receives items that became COMPLETED or PARTIAL. */
  readonly consumerFunction: NodejsFunction;
  readonly consumerDeadLetterQueue: sqs.Queue;
  readonly inferFunction: lambda.DockerImageFunction;
  /** OCR of scanned pages and image uploads: a container image with Tesseract and pdf.js, no model. */
  readonly ocrFunction: lambda.DockerImageFunction;
  /** A finished document's review page: the OCR image (pdf.js, @napi-rs/canvas) with the review handler. */
  readonly reviewFunction: lambda.DockerImageFunction;
  readonly uploadRule: events.Rule;
  readonly failedExecutionFunction: NodejsFunction;
  readonly failedExecutionRule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  /** Uploads waiting to start: EventBridge puts them here, the start function admits them. */
  readonly uploadQueue: sqs.Queue;
  readonly model: ModelArtifact;
  readonly workflowSettings: WorkflowSettings;
  /** Isolated mode's network; undefined otherwise. */
  readonly network?: IsolatedNetwork;
  /** The CloudWatch dashboard and alarms (docs/observability.md). */
  readonly observability: PipelineObservability;
  /** Where alarms notify: created for `alarmEmail`, imported for `alarmTopicArn`; undefined otherwise. */
  readonly alarmTopic?: sns.ITopic;

  constructor(scope: Construct, id: string, props: LlambdaStackProps) {
    super(scope, id, props);
    const settings = resolveStackSettings(props);
    this.workflowSettings = settings.workflow;
    // Resolved first: a bad model id fails before anything is bundled.
    this.model = resolveModelArtifact(settings.repoRoot, props.modelId, props.modelSha256);

    // Storage: the document bucket (and its access logs, and its key when asked), the table of document items.
    const store = createDocumentStore(this, settings, { bucketKmsKey: props.bucketKmsKey ?? false });
    ({ accessLogsBucket: this.accessLogsBucket, bucketKey: this.bucketKey, bucket: this.bucket, table: this.table } = store);
    if (props.isolated) {
      this.network = new IsolatedNetwork(this, "Network", { logRetention: settings.logRetention, removalPolicy: settings.removalPolicy });
    }

    // Functions: built from the function catalogue with this deployment's values (the twin builds its own the same way).
    const values: DeploymentValues = {
      bucketName: store.bucket.bucketName,
      tableName: store.table.tableName,
      // The state machine names the functions it invokes, so it comes after them: its ARN is filled in at synth.
      stateMachineArn: Lazy.string({ produce: () => this.stateMachine.stateMachineArn }),
      schemaRouting: settings.schemaRouting,
      ocrRouting: settings.ocrRouting,
      ocrLanguage: settings.ocrLanguage,
      maxRunningDocuments: maxRunningDocumentsFor({
        maxConcurrency: settings.workflow.maxConcurrency,
        inferReservedConcurrency: props.inferReservedConcurrency,
      }),
      chunkTokens: props.chunkTokens,
      model: {
        path: INFER_MODEL_PATH,
        id: this.model.id,
        ...(this.model.lora ? { loraPath: INFER_LORA_PATH, loraScale: this.model.lora.scale } : {}),
      },
      parallelSequences: settings.workflow.maxItemsPerBatch,
      settings: {
        infer: {
          [EnvNames.threads]: props.inferTuning?.threads,
          [EnvNames.contextSize]: props.inferTuning?.contextSize,
          [EnvNames.maxOutputTokens]: props.inferTuning?.maxOutputTokens,
        },
        review: { [EnvNames.reviewMaxPages]: props.reviewMaxPages },
      },
    };
    const functions = new PipelineFunctions(this, settings, store, this.network, values);
    const intake = createUploadIntake(this, functions);
    ({ deadLetterQueue: this.deadLetterQueue, startFunction: this.startFunction, uploadQueue: this.uploadQueue } = intake);
    const tasks = createTaskFunctions(functions, props, settings, this.model);
    ({ chunk: this.chunkFunction, ocr: this.ocrFunction, infer: this.inferFunction, merge: this.mergeFunction, review: this.reviewFunction } =
      tasks);
    ({ consumerFunction: this.consumerFunction, consumerDeadLetterQueue: this.consumerDeadLetterQueue } =
      createResultsConsumer(this, functions, store.table));

    // The workflow, what starts it (uploads) and what records its unsuccessful ends.
    this.stateMachine = createWorkflow(this, settings, props.tracing ?? false, tasks, store);
    this.uploadRule = connectUploadIntake(this, functions, intake, this.stateMachine, store.bucket);
    ({ failedExecutionFunction: this.failedExecutionFunction, failedExecutionRule: this.failedExecutionRule } =
      createFailureRecording(this, functions, this.stateMachine, this.deadLetterQueue));

    // What the pipeline is doing: one dashboard, alarms on what needs a person (docs/observability.md).
    this.alarmTopic = createAlarmTopic(this, props);
    this.observability = new PipelineObservability(this, "Observability", {
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
      stateMachine: this.stateMachine,
      functions: {
        start: this.startFunction,
        chunk: this.chunkFunction,
        ocr: this.ocrFunction,
        infer: this.inferFunction,
        merge: this.mergeFunction,
        review: this.reviewFunction,
        consumer: this.consumerFunction,
        failedExecution: this.failedExecutionFunction,
      },
      inferTimeout: this.inferFunction.timeout ?? Duration.seconds(FunctionCatalogue.infer.timeoutSeconds),
      deadLetterQueues: {
        "upload-and-failed-execution-events": this.deadLetterQueue,
        "results-consumer": this.consumerDeadLetterQueue,
      },
    });

    addOutputs(this, { ...store, ...intake, stateMachine: this.stateMachine, modelId: this.model.id, alarmTopic: this.alarmTopic, vpc: this.network?.vpc });
    acknowledgeNagFindings(this, props.tracing ?? false);
  }
}
