import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  Annotations,
  ArnFormat,
  type CfnElement,
  Aws,
  CfnOutput,
  Duration,
  IgnoreMode,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  Token,
  Validations,
} from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq, SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { CHUNK_FUNCTION_MEMORY_MB, chunkTokensRange } from "../functions/chunk/limits.ts";
import { readyTransitionFilters } from "../functions/consumer/stream-filter.ts";
import { intInRange } from "../functions/shared/config.ts";
import { EnvNames } from "../functions/shared/env-names.ts";
import { defaultSchemaId, extractionSchemaProblems, extractionSchemas } from "../functions/schemas/index.ts";
import { validateSchemaRouting, type SchemaRouting } from "../functions/start/schema-routing.ts";
import {
  maxRunningDocumentsFor,
  uploadBatchSize,
  uploadPollers,
  uploadQueueMaxReceiveCount,
} from "../functions/start/admission.ts";
import {
  buildDocumentWorkflow,
  defaultWorkflowSettings,
  MapLabel,
  type WorkflowSettings,
} from "../statemachine/definition.ts";
import { chunkBundlingExtras, handlerBundling, type HandlerBundlingExtras } from "./bundling.ts";
import { otherModelFileExcludes, resolveModelArtifact, type ModelArtifact } from "./model-artifact.ts";
import { PipelineObservability } from "./observability.ts";
import { REPO_ROOT } from "./repo-root.ts";
import { BucketLayout, DocumentTable, failedExecutionEventPattern, uploadEventPattern } from "./specs.ts";

export { REPO_ROOT };

/** Where the Dockerfile puts the model inside the inference image. */
export const INFER_MODEL_PATH = "/opt/llambda/model.gguf";
/** Where the image puts the model's LoRA adapter, when the manifest names one. */
export const INFER_LORA_PATH = "/opt/llambda/lora.gguf";

export interface InferTuning {
  /** ggml threads (EnvNames.threads); default derived by the handler from the memory size. */
  threads?: number;
  /** Context size per sequence, tokens (EnvNames.contextSize). */
  contextSize?: number;
  /** Maximum generated tokens per chunk (EnvNames.maxOutputTokens). */
  maxOutputTokens?: number;
}

export interface LlambdaStackProps extends StackProps {
  /** Model baked into the inference image: `models/<modelId>.gguf`, listed in models/models.json. */
  modelId: string;
  /** sha256 of the model file when models/models.json has none for modelId. */
  modelSha256?: string;
  /** Maximum tokens per chunk (tiktoken count), for the chunk function. */
  chunkTokens: number;
  /** Memory of the inference function, MB (128–10,240; the vCPU share grows with it). */
  inferMemoryMb: number;
  /** Concurrent child executions of the Distributed Map (= concurrent inference invocations). */
  maxConcurrency: number;
  /** Reserved concurrency of the inference function. Unset by default: new accounts have low concurrency limits. */
  inferReservedConcurrency?: number;
  /** /tmp of the inference function, MB. Default 1,024: the model is read from the image, not /tmp. */
  inferEphemeralStorageMb?: number;
  /** Optional inference tuning passed as environment variables. */
  inferTuning?: InferTuning;
  /** Which extraction schema uploads get, by key prefix (cdk.json `llambda:schemaRoutes`, `llambda:schemaId`). */
  schemaRouting?: SchemaRouting;
  /** Overrides of the workflow settings (maxConcurrency comes from `maxConcurrency` unless overridden here). */
  workflowSettings?: Partial<WorkflowSettings>;
  /** Delete the bucket (emptying it), the table and the log groups with the stack. Default false: retain them. */
  destroyOnRemoval?: boolean;
  /** X-Ray tracing on the functions and the state machine. Default false. */
  tracing?: boolean;
  /** Days after which chunk texts and map results expire. Default 7. */
  intermediateObjectsExpirationDays?: number;
  /** Retention of the functions' and the state machine's logs. Default one month. */
  logRetention?: logs.RetentionDays;
  /** Encrypt the document bucket with a customer-managed KMS key (rotated yearly) instead of S3-managed keys. */
  bucketKmsKey?: boolean;
  /**
   * Isolated mode: every function runs in a VPC with isolated subnets only (no NAT, no internet gateway), reaching
   * S3 and DynamoDB through gateway endpoints and Step Functions through an interface endpoint; each function's
   * security group allows egress (HTTPS) only to the endpoints its code calls. Default false.
   */
  isolated?: boolean;
  /**
   * Alarms notify this address: the stack creates an SNS topic with an e-mail subscription (AWS sends a confirmation
   * mail first; nothing arrives until it is confirmed). Not together with `alarmTopicArn`.
   */
  alarmEmail?: string;
  /** Alarms notify this existing SNS topic (e.g. one wired to chat or paging). Not together with `alarmEmail`. */
  alarmTopicArn?: string;
  /** Repository root (tests only). */
  repoRoot?: string;
}

const attributeTypes: Record<string, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const streamViewTypes: Record<string, dynamodb.StreamViewType> = {
  NEW_AND_OLD_IMAGES: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
  OLD_IMAGE: dynamodb.StreamViewType.OLD_IMAGE,
  KEYS_ONLY: dynamodb.StreamViewType.KEYS_ONLY,
};

/** infra/specs.ts writes EventBridge patterns as JSON (`detail-type`); the CDK's EventPattern is camelCase. */
export function toCdkEventPattern(pattern: Record<string, unknown>): events.EventPattern {
  const keys: Record<string, keyof events.EventPattern> = {
    version: "version",
    id: "id",
    "detail-type": "detailType",
    source: "source",
    account: "account",
    time: "time",
    region: "region",
    resources: "resources",
    detail: "detail",
  };
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    const cdkKey = keys[key];
    if (cdkKey === undefined) throw new Error(`Unsupported EventBridge pattern field "${key}"`);
    result[cdkKey] = value;
  }
  return result as events.EventPattern;
}

/** S3 key pattern for every object under a BucketLayout prefix (which ends with "/"). */
const under = (prefix: string): string => `${prefix}*`;

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
    validateProps(props);
    // Schema problems fail the synth, not the first document.
    const schemaRouting = props.schemaRouting ?? { routes: {}, defaultSchemaId };
    const schemaProblems = extractionSchemaProblems();
    if (schemaProblems.length > 0) throw new Error(`Extraction schemas: ${schemaProblems.join("; ")}`);
    validateSchemaRouting(schemaRouting, Object.keys(extractionSchemas), BucketLayout.uploadsPrefix);
    const repoRoot = props.repoRoot ?? REPO_ROOT;
    const destroy = props.destroyOnRemoval ?? false;
    const removalPolicy = destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const tracing = props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED;
    // With tracing, the handlers load Powertools Tracer for subsegments of their AWS SDK calls (functions/shared/tracer.ts).
    const tracerEnvironment: Record<string, string> = props.tracing ? { POWERTOOLS_TRACE_ENABLED: "true" } : {};
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const expiration = Duration.days(props.intermediateObjectsExpirationDays ?? 7);
    const settings: WorkflowSettings = {
      ...defaultWorkflowSettings,
      maxConcurrency: props.maxConcurrency,
      ...props.workflowSettings,
    };
    this.workflowSettings = settings;
    // Resolved first: a bad model id fails before anything is bundled.
    this.model = resolveModelArtifact(repoRoot, props.modelId, props.modelSha256);

    // ---------------------------------------------------------------------------------------------------------------
    // Storage: one bucket (uploads, chunk manifests and texts, map results), one table of document items.
    this.accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // S3 server access logging delivers only to buckets with S3-managed encryption.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    if (props.bucketKmsKey) {
      this.bucketKey = new kms.Key(this, "DocumentBucketKey", {
        description: "llambda: encrypts the document bucket (uploads, chunks, map results, large results)",
        enableKeyRotation: true,
        removalPolicy,
      });
    }
    this.bucket = new s3.Bucket(this, "DocumentBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      ...(this.bucketKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.bucketKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "document-bucket/",
      versioned: true,
      eventBridgeEnabled: true,
      lifecycleRules: [
        ...[BucketLayout.chunksPrefix, BucketLayout.mapResultsPrefix].map((prefix) => ({
          id: `expire-${prefix.replace(/\/$/, "")}`,
          prefix,
          expiration,
          noncurrentVersionExpiration: Duration.days(1),
        })),
        { id: "abort-incomplete-multipart-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: "remove-expired-delete-markers", expiredObjectDeleteMarker: true },
      ],
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    const partitionKeyType = attributeTypes[DocumentTable.partitionKey.type];
    const streamViewType = streamViewTypes[DocumentTable.streamViewType];
    if (!partitionKeyType || !streamViewType || DocumentTable.billingMode !== "PAY_PER_REQUEST") {
      throw new Error("infra/specs.ts DocumentTable has a key type, stream view or billing mode this stack does not map");
    }
    this.table = new dynamodb.Table(this, "DocumentTable", {
      partitionKey: { name: DocumentTable.partitionKey.name, type: partitionKeyType },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: streamViewType,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: !destroy,
      removalPolicy,
    });

    if (props.isolated) this.network = new IsolatedNetwork(this, "Network", { logRetention, removalPolicy });

    // ---------------------------------------------------------------------------------------------------------------
    // Functions.
    const logGroupFor = (name: string): logs.LogGroup =>
      new logs.LogGroup(this, `${name}Logs`, { retention: logRetention, removalPolicy });
    // Each function has its own role that may write its own log group and, below, exactly what its code calls
    // (test/iam-commands.test.ts): no AWS managed policy, no shared role.
    const functionRole = (name: string, logGroup: logs.LogGroup): iam.Role => {
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `llambda ${name}`,
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: "WriteOwnLogs",
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [logGroup.logGroupArn],
        }),
      );
      return role;
    };

    const nodeFunction = (
      name: string,
      entry: string,
      options: { memorySize: number; timeout: Duration; description: string; bundling?: HandlerBundlingExtras },
    ): NodejsFunction => {
      const entryPath = join(repoRoot, entry);
      if (!existsSync(entryPath)) throw new Error(`${name}: handler entry ${entry} does not exist`);
      for (const file of options.bundling?.copyFiles ?? []) {
        if (!existsSync(join(repoRoot, file))) throw new Error(`${name}: bundling copies ${file}, which does not exist`);
      }
      for (const { from } of options.bundling?.copyDirectories ?? []) {
        if (!existsSync(join(repoRoot, from))) throw new Error(`${name}: bundling copies ${from}/, which does not exist`);
      }
      for (const file of options.bundling?.workerEntries ?? []) {
        if (!existsSync(join(repoRoot, file))) throw new Error(`${name}: bundling builds worker ${file}, which does not exist`);
      }
      const logGroup = logGroupFor(name);
      return new NodejsFunction(this, name, {
        entry: entryPath,
        handler: "handler",
        projectRoot: repoRoot,
        depsLockFilePath: join(repoRoot, "package-lock.json"),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: options.memorySize,
        timeout: options.timeout,
        description: options.description,
        bundling: handlerBundling(options.bundling),
        tracing,
        environment: { ...tracerEnvironment },
        logGroup,
        role: functionRole(name, logGroup),
        ...this.network?.placement(name),
      });
    };

    this.deadLetterQueue = new sqs.Queue(this, "UploadEventsDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.startFunction = nodeFunction("StartFunction", "functions/start/handler.ts", {
      memorySize: 256,
      timeout: Duration.seconds(30),
      description: "llambda: S3 Object Created event -> one document workflow execution per object version",
    });
    // Uploads wait in a queue and the start function admits them while few enough documents run (bursts: see
    // docs/resilience.md). A message that keeps failing (not an S3 event) ends in the dead-letter queue.
    this.uploadQueue = new sqs.Queue(this, "UploadQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Six times the start function's timeout (AWS's advice); also how long an upload waits before it asks again.
      visibilityTimeout: Duration.seconds(180),
      // Waiting for room counts as a receive: 400 receives are 20 hours of waiting.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: uploadQueueMaxReceiveCount },
    });
    this.startFunction.addEventSource(
      new SqsEventSource(this.uploadQueue, {
        batchSize: uploadBatchSize,
        maxConcurrency: uploadPollers,
        reportBatchItemFailures: true,
      }),
    );
    this.startFunction.addEnvironment(
      EnvNames.maxRunningDocuments,
      String(maxRunningDocumentsFor({ maxConcurrency: settings.maxConcurrency, inferReservedConcurrency: props.inferReservedConcurrency })),
    );

    this.chunkFunction = nodeFunction("ChunkFunction", "functions/chunk/handler.ts", {
      // The size `npm run chunk` applies its bounds for (the extraction worker's heap is a share of it).
      memorySize: CHUNK_FUNCTION_MEMORY_MB,
      timeout: Duration.minutes(5),
      description: "llambda: document text -> token-bounded chunks and a JSONL manifest",
      bundling: chunkBundlingExtras,
    });
    this.chunkFunction.addEnvironment(EnvNames.chunkTokens, String(props.chunkTokens));

    this.mergeFunction = nodeFunction("MergeFunction", "functions/merge/handler.ts", {
      memorySize: 1024,
      timeout: Duration.minutes(5),
      description: "llambda: Distributed Map results -> one document item",
    });

    const inferLogGroup = logGroupFor("InferFunction");
    this.inferFunction = new lambda.DockerImageFunction(this, "InferFunction", {
      role: functionRole("InferFunction", inferLogGroup),
      code: lambda.DockerImageCode.fromImageAsset(repoRoot, {
        file: "functions/infer/Dockerfile",
        platform: Platform.LINUX_ARM64,
        buildArgs: {
          MODEL_ID: this.model.id,
          MODEL_SHA256: this.model.sha256,
          ...(this.model.lora ? { LORA_SHA256: this.model.lora.sha256 } : {}),
        },
        // Added after .dockerignore's allow-list: every model file but the selected one stays out of the context.
        exclude: otherModelFileExcludes(repoRoot, this.model),
        ignoreMode: IgnoreMode.DOCKER,
      }),
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.inferMemoryMb,
      timeout: Duration.seconds(900),
      ephemeralStorageSize: Size.mebibytes(props.inferEphemeralStorageMb ?? 1024),
      ...(props.inferReservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.inferReservedConcurrency }
        : {}),
      description: `llambda: chunk batch -> extracted JSON with ${this.model.id} (llama.cpp)`,
      tracing,
      logGroup: inferLogGroup,
      ...this.network?.placement("InferFunction"),
      environment: {
        ...tracerEnvironment,
        [EnvNames.modelPath]: INFER_MODEL_PATH,
        [EnvNames.modelId]: this.model.id,
        ...(props.inferTuning?.threads !== undefined ? { [EnvNames.threads]: String(props.inferTuning.threads) } : {}),
        ...(props.inferTuning?.contextSize !== undefined
          ? { [EnvNames.contextSize]: String(props.inferTuning.contextSize) }
          : {}),
        ...(props.inferTuning?.maxOutputTokens !== undefined
          ? { [EnvNames.maxOutputTokens]: String(props.inferTuning.maxOutputTokens) }
          : {}),
        // One invocation's batch decodes together: as many parallel sequences as chunks per batch (memory permitting).
        [EnvNames.parallelSequences]: String(settings.maxItemsPerBatch),
        ...(this.model.lora
          ? {
              [EnvNames.loraPath]: INFER_LORA_PATH,
              ...(this.model.lora.scale !== undefined ? { [EnvNames.loraScale]: String(this.model.lora.scale) } : {}),
            }
          : {}),
      },
    });
    // The routing picks each document's schema in the start function; infer and merge read it from their input and
    // fall back to the default only for executions started before routing existed.
    this.startFunction.addEnvironment(EnvNames.schemaRouting, JSON.stringify(schemaRouting));
    this.inferFunction.addEnvironment(EnvNames.schemaId, schemaRouting.defaultSchemaId);
    this.mergeFunction.addEnvironment(EnvNames.schemaId, schemaRouting.defaultSchemaId);
    this.annotateModel(this.inferFunction);
    if (props.inferReservedConcurrency !== undefined && settings.maxConcurrency > props.inferReservedConcurrency) {
      Annotations.of(this.inferFunction).addWarningV2(
        "llambda:concurrencyAboveReserved",
        `The Distributed Map runs up to ${settings.maxConcurrency} inferences at once but the inference function's ` +
          `reserved concurrency is ${props.inferReservedConcurrency}: the excess is throttled and retried.`,
      );
    }

    // Each grant sets the variable that names the resource it grants.
    // The chunk function reads the uploaded object's version named in the event (GetObject with VersionId).
    this.grantBucket(this.chunkFunction, { read: [BucketLayout.uploadsPrefix], readVersions: true, write: [BucketLayout.chunksPrefix] });
    this.grantBucket(this.inferFunction, { read: [BucketLayout.chunksPrefix] });
    this.grantBucket(this.mergeFunction, {
      read: [BucketLayout.mapResultsPrefix, BucketLayout.chunksPrefix],
      write: [BucketLayout.resultsPrefix],
    });
    this.table.grant(this.mergeFunction, "dynamodb:UpdateItem");
    // Isolated mode: each function may open HTTPS connections only to the endpoints of the services its code calls.
    if (this.network) {
      this.network.allowEgress(this.startFunction, ["states"]);
      this.network.allowEgress(this.chunkFunction, ["s3"]);
      this.network.allowEgress(this.inferFunction, ["s3"]);
      this.network.allowEgress(this.mergeFunction, ["s3", "dynamodb"]);
    }
    this.mergeFunction.addEnvironment(EnvNames.table, this.table.tableName);

    // ---------------------------------------------------------------------------------------------------------------
    // The example consumer of the table's stream (docs/stream-contract.md): Lambda filters the records, so it runs
    // only for items that just became COMPLETED or PARTIAL.
    this.consumerFunction = nodeFunction("ResultsConsumerFunction", "functions/consumer/handler.ts", {
      memorySize: 256,
      timeout: Duration.seconds(60),
      description: "llambda example: DynamoDB stream records of documents that became COMPLETED or PARTIAL",
    });
    this.grantBucket(this.consumerFunction, { read: [BucketLayout.resultsPrefix] });
    this.network?.allowEgress(this.consumerFunction, ["s3"]);
    this.consumerDeadLetterQueue = new sqs.Queue(this, "ResultsConsumerDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.consumerFunction.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        bisectBatchOnError: true,
        retryAttempts: 5,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.consumerDeadLetterQueue),
        filters: readyTransitionFilters.map((pattern) => lambda.FilterCriteria.filter(pattern)),
      }),
    );

    // ---------------------------------------------------------------------------------------------------------------
    // The workflow: statemachine/definition.ts, the same definition the local twin runs.
    const stateMachineName = `${this.stackName}-document-workflow`;
    const workflowLogs = new logs.LogGroup(this, "DocumentWorkflowLogs", { retention: logRetention, removalPolicy });
    const definition = buildDocumentWorkflow(
      {
        chunkFunctionArn: this.chunkFunction.functionArn,
        inferFunctionArn: this.inferFunction.functionArn,
        mergeFunctionArn: this.mergeFunction.functionArn,
        tableName: this.table.tableName,
        bucketName: this.bucket.bucketName,
      },
      settings,
    );
    this.stateMachine = new sfn.StateMachine(this, "DocumentWorkflow", {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      // fromString infers no IAM and ignores `timeout` (the definition has its own TimeoutSeconds): see below.
      definitionBody: sfn.DefinitionBody.fromString(this.toJsonString(definition)),
      tracingEnabled: props.tracing ?? false,
      // Every state transition, without execution data: an audit trail that never holds document content.
      logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.grantWorkflow(this.stateMachine, stateMachineName);

    this.stateMachine.grantStartExecution(this.startFunction);
    // Counting running executions for admission.
    this.startFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["states:ListExecutions"], resources: [this.stateMachine.stateMachineArn] }),
    );
    this.startFunction.addEnvironment(EnvNames.stateMachineArn, this.stateMachine.stateMachineArn);

    // ---------------------------------------------------------------------------------------------------------------
    // Uploads start the workflow: S3 -> EventBridge -> queue -> start function (which names the execution
    // deterministically and admits uploads while few enough documents run).
    this.uploadRule = new events.Rule(this, "UploadRule", {
      description: `llambda: objects created under s3://<bucket>/${BucketLayout.uploadsPrefix} start the document workflow`,
      eventPattern: toCdkEventPattern(uploadEventPattern(this.bucket.bucketName)),
    });
    this.uploadRule.addTarget(
      new targets.SqsQueue(this.uploadQueue, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(2),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );

    // ---------------------------------------------------------------------------------------------------------------
    // Executions that fail beyond their retries, time out or are stopped end where they stopped (so a redrive can
    // resume there); this rule has their end recorded on the document's item.
    this.failedExecutionFunction = nodeFunction("FailedExecutionFunction", "functions/failed-execution/handler.ts", {
      memorySize: 256,
      timeout: Duration.seconds(30),
      description: "llambda: a document workflow execution that FAILED, TIMED_OUT or was ABORTED -> its item says FAILED",
    });
    this.table.grant(this.failedExecutionFunction, "dynamodb:UpdateItem");
    this.network?.allowEgress(this.failedExecutionFunction, ["dynamodb"]);
    this.failedExecutionFunction.addEnvironment(EnvNames.table, this.table.tableName);
    this.failedExecutionRule = new events.Rule(this, "FailedExecutionRule", {
      description: "llambda: unsuccessful document workflow executions are recorded on their document item",
      eventPattern: toCdkEventPattern(failedExecutionEventPattern(this.stateMachine.stateMachineArn)),
    });
    this.failedExecutionRule.addTarget(
      new targets.LambdaFunction(this.failedExecutionFunction, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );

    // ---------------------------------------------------------------------------------------------------------------
    // What the pipeline is doing: one dashboard, alarms on what needs a person (docs/observability.md).
    if (props.alarmEmail !== undefined) {
      const topic = new sns.Topic(this, "AlarmTopic", {
        displayName: `${this.stackName} alarms`,
        // Only HTTPS publishers (CloudWatch is one); cdk-nag SNS3.
        enforceSSL: true,
      });
      topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      this.alarmTopic = topic;
    } else if (props.alarmTopicArn !== undefined) {
      this.alarmTopic = sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn);
    }
    this.observability = new PipelineObservability(this, "Observability", {
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
      stateMachine: this.stateMachine,
      functions: {
        start: this.startFunction,
        chunk: this.chunkFunction,
        infer: this.inferFunction,
        merge: this.mergeFunction,
        consumer: this.consumerFunction,
        failedExecution: this.failedExecutionFunction,
      },
      inferTimeout: this.inferFunction.timeout ?? Duration.seconds(900),
      deadLetterQueues: {
        "upload-and-failed-execution-events": this.deadLetterQueue,
        "results-consumer": this.consumerDeadLetterQueue,
      },
    });

    // ---------------------------------------------------------------------------------------------------------------
    new CfnOutput(this, "BucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "UploadsPrefix", {
      value: `s3://${this.bucket.bucketName}/${BucketLayout.uploadsPrefix}`,
      description: "Copy documents here to process them",
    });
    new CfnOutput(this, "TableName", { value: this.table.tableName });
    new CfnOutput(this, "TableStreamArn", { value: this.table.tableStreamArn ?? "" });
    new CfnOutput(this, "StateMachineArn", { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, "StateMachineConsoleUrl", {
      value:
        `https://${Aws.REGION}.console.aws.amazon.com/states/home?region=${Aws.REGION}` +
        `#/statemachines/view/${this.stateMachine.stateMachineArn}`,
    });
    new CfnOutput(this, "DeadLetterQueueUrl", {
      value: this.deadLetterQueue.queueUrl,
      description: "Upload events whose workflow could not be started, and failed-execution events that could not be recorded",
    });
    new CfnOutput(this, "UploadQueueUrl", {
      value: this.uploadQueue.queueUrl,
      description: "Uploads waiting for room to start (ApproximateNumberOfMessagesVisible is the backlog)",
    });
    new CfnOutput(this, "ModelId", { value: this.model.id });
    if (this.alarmTopic) new CfnOutput(this, "AlarmTopicArn", { value: this.alarmTopic.topicArn, description: "Alarms notify this SNS topic" });
    if (this.network) new CfnOutput(this, "VpcId", { value: this.network.vpc.vpcId, description: "Isolated mode: the functions' VPC" });

    this.acknowledgeNagFindings(props.tracing ?? false);
  }

  /**
   * Prefix-scoped S3 grants of exactly the object actions the function's code sends (GetObject, PutObject); the
   * grantee also gets the bucket's name in its environment, and the key's use when the bucket has a KMS key.
   */
  private grantBucket(
    fn: lambda.Function,
    access: { read?: readonly string[]; readVersions?: boolean; write?: readonly string[] },
  ): void {
    const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => this.bucket.arnForObjects(under(prefix)));
    if (access.read?.length) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: access.readVersions ? ["s3:GetObject", "s3:GetObjectVersion"] : ["s3:GetObject"],
          resources: objects(access.read),
        }),
      );
      this.bucketKey?.grantDecrypt(fn);
    }
    if (access.write?.length) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:PutObject"], resources: objects(access.write) }));
      this.bucketKey?.grant(fn, "kms:GenerateDataKey");
    }
    fn.addEnvironment(EnvNames.bucket, this.bucket.bucketName);
  }

  /**
   * The state machine role's permissions, spelled out because DefinitionBody.fromString infers none. The state
   * machine's own ARN is built from its fixed name: referencing `stateMachineArn` here would be a dependency cycle.
   */
  private grantWorkflow(stateMachine: sfn.StateMachine, stateMachineName: string): void {
    const statesArn = (resource: string, resourceName: string): string =>
      this.formatArn({ service: "states", resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const functions = [this.chunkFunction, this.inferFunction, this.mergeFunction];
    const statements = [
      new iam.PolicyStatement({
        sid: "InvokeWorkflowFunctions",
        actions: ["lambda:InvokeFunction"],
        resources: functions.flatMap((fn) => [fn.functionArn, `${fn.functionArn}:*`]),
      }),
      new iam.PolicyStatement({
        sid: "UpdateDocumentItems",
        actions: ["dynamodb:UpdateItem"],
        resources: [this.table.tableArn],
      }),
      new iam.PolicyStatement({
        sid: "ReadChunkManifests",
        actions: ["s3:GetObject"],
        resources: [this.bucket.arnForObjects(under(BucketLayout.chunksPrefix))],
      }),
      new iam.PolicyStatement({
        sid: "WriteMapResults",
        actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        resources: [this.bucket.arnForObjects(under(BucketLayout.mapResultsPrefix))],
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
        resources: [statesArn("execution", `${stateMachineName}/${MapLabel}:*`)],
      }),
      new iam.PolicyStatement({
        sid: "DistributedMapRuns",
        actions: ["states:DescribeMapRun", "states:ListMapRuns", "states:UpdateMapRun"],
        resources: [statesArn("mapRun", `${stateMachineName}/*`), statesArn("execution", `${stateMachineName}:*`)],
      }),
    ];
    for (const statement of statements) stateMachine.addToRolePolicy(statement);
    // The ItemReader reads chunk manifests and the ResultWriter writes map results.
    this.bucketKey?.grant(stateMachine, "kms:Decrypt", "kms:GenerateDataKey");
  }

  /**
   * cdk-nag (AwsSolutions) findings accepted on purpose, each with its reason; test/cdk-nag.test.ts runs the checks and
   * fails on any finding not acknowledged here.
   */
  private acknowledgeNagFindings(tracing: boolean): void {
    const ack = (construct: Construct, ids: string[], reason: string) => {
      // A function's permission findings sit on its role, a sibling construct.
      const targets = construct instanceof lambda.Function && construct.role ? [construct, construct.role] : [construct];
      // cdk-nag 3 reports findings as "<pack>::<rule>[<finding>]".
      for (const target of targets) for (const id of ids) Validations.of(target).acknowledge({ id: `AwsSolutions::${id}`, reason });
    };
    const arnOf = (construct: Construct) => `<${this.getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
    const bucketArn = arnOf(this.bucket);
    const objectsUnder = (prefixes: string[]) => prefixes.map((prefix) => `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`);
    const prefixReason = "Object keys are per document; the grant is limited to the prefix this function reads or writes.";
    ack(this.chunkFunction, objectsUnder([BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix]), prefixReason);
    ack(this.inferFunction, objectsUnder([BucketLayout.chunksPrefix]), prefixReason);
    ack(this.mergeFunction, objectsUnder([BucketLayout.mapResultsPrefix, BucketLayout.chunksPrefix, BucketLayout.resultsPrefix]), prefixReason);
    ack(this.consumerFunction, objectsUnder([BucketLayout.resultsPrefix]), prefixReason);
    ack(
      this.consumerFunction,
      ["AwsSolutions-IAM5[Resource::*]"],
      "dynamodb:ListStreams has no resource-level permission; the stream event source mapping needs it.",
    );
    const nodeFunctions = [this.startFunction, this.chunkFunction, this.mergeFunction, this.consumerFunction, this.failedExecutionFunction];
    for (const fn of nodeFunctions) {
      ack(
        fn,
        ["AwsSolutions-L1"],
        "nodejs22.x is the runtime llambda is built and tested for; a newer one is adopted deliberately, with the tests.",
      );
    }
    if (tracing) {
      for (const fn of [...nodeFunctions, this.inferFunction]) {
        ack(fn, ["AwsSolutions-IAM5[Resource::*]"], "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permission.");
      }
    }
    const workflowReasons: Array<[string, string]> = [
      ...[this.chunkFunction, this.inferFunction, this.mergeFunction].map(
        (fn): [string, string] => [`AwsSolutions-IAM5[Resource::${arnOf(fn)}:*]`, "Invoking the function's versions and aliases."],
      ),
      [`AwsSolutions-IAM5[Resource::${bucketArn}/${BucketLayout.chunksPrefix}*]`, "The Distributed Map reads chunk manifests."],
      [`AwsSolutions-IAM5[Resource::${bucketArn}/${BucketLayout.mapResultsPrefix}*]`, "The Distributed Map writes its result files."],
      ["AwsSolutions-IAM5[Resource::*]", "CloudWatch Logs delivery (logs:*LogDelivery, DescribeLogGroups...) has no resource-level permission."],
    ];
    const stateMachineName = `${this.stackName}-document-workflow`;
    // cdk-nag names an unresolved pseudo parameter as <AWS::Name> in its finding ids.
    const literal = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    const statesArn = (resource: string, name: string) =>
      `arn:${literal(this.partition, "Partition")}:states:${literal(this.region, "Region")}:${literal(this.account, "AccountId")}:${resource}:${name}`;
    for (const [resource, name] of [
      ["mapRun", `${stateMachineName}/*`],
      ["execution", `${stateMachineName}:*`],
      ["execution", `${stateMachineName}/${MapLabel}:*`],
      ["execution", `${stateMachineName}/*`],
    ] as const) {
      workflowReasons.push([
        `AwsSolutions-IAM5[Resource::${statesArn(resource, name)}]`,
        "Distributed Map child executions and Map Runs have generated names under this state machine.",
      ]);
    }
    for (const [id, reason] of workflowReasons) ack(this.stateMachine, [id], reason);
    if (!tracing) {
      ack(this.stateMachine, ["AwsSolutions-SF2"], "X-Ray is opt-in (-c llambda:tracing=true): it costs per trace.");
    }
    ack(
      this.consumerDeadLetterQueue,
      ["AwsSolutions-SQS3"],
      "It is a dead-letter queue: the on-failure destination of the stream consumer's event source mapping.",
    );
    ack(this.accessLogsBucket, ["AwsSolutions-S1"], "It is the access-log bucket; logging it to itself would loop.");
    if (this.alarmTopic instanceof sns.Topic) {
      ack(
        this.alarmTopic,
        ["AwsSolutions-SNS2"],
        "Alarm notifications carry alarm names and metric values, never document content. CloudWatch cannot publish " +
          "to a topic under the AWS-managed SNS key, and a customer-managed key would cost $1 a month while idle.",
      );
    }
    if (this.network) {
      for (const lookup of ["S3PrefixList", "DynamoDbPrefixList"]) {
        ack(
          this.network.node.findChild(lookup),
          ["AwsSolutions-IAM5[Resource::*]"],
          "ec2:DescribeManagedPrefixLists has no resource-level permission; it runs once per deploy to find the endpoints' prefix lists.",
        );
      }
    }
    // CDK's own deploy-time helpers (turning on the bucket's EventBridge notifications; the prefix-list lookups of
    // isolated mode): constructs we do not define, which only write their logs.
    for (const child of this.node.findAll()) {
      if (child.node.id.startsWith("BucketNotificationsHandler") || child.node.id === "AWS679f53fac002430cb0da5b7982bd2287") {
        ack(
          child,
          ["AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"],
          "A CDK deploy-time handler (bucket notifications, prefix-list lookup); its managed policy only lets it write logs.",
        );
      }
    }
  }

  private annotateModel(fn: lambda.Function): void {
    const { id, relativePath, present, sha256Source, inManifest } = this.model;
    if (!present) {
      Annotations.of(fn).addWarningV2(
        "llambda:modelMissing",
        `Model file ${relativePath} does not exist: run \`npm run model:pull -- ${id}\` before \`cdk deploy\` ` +
          `(the inference image build copies it).`,
      );
    }
    if (sha256Source === "none") {
      Annotations.of(fn).addWarningV2(
        "llambda:modelUnverified",
        `No sha256 for model "${id}" (${inManifest ? "models/models.json has none" : "not in models/models.json"}): ` +
          "the inference image build refuses an unverified model. Add it to the manifest or pass " +
          "`-c llambda:modelSha256=<hex>`.",
      );
    }
  }
}

/** One address, no spaces or commas (an SNS e-mail subscription takes exactly one). */
export const alarmEmailPattern = /^[^\s@,;<>]+@[^\s@,;<>]+\.[^\s@,;<>]+$/;
export const alarmTopicArnPattern = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

function validateProps(props: LlambdaStackProps): void {
  const checks: Array<[boolean, string]> = [
    // The chunk function's own bound (LLAMBDA_CHUNK_TOKENS), so a value synth accepts never fails the function at init.
    [intInRange(String(props.chunkTokens), chunkTokensRange) !== undefined, `chunkTokens must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}`],
    [Number.isInteger(props.inferMemoryMb) && props.inferMemoryMb >= 128 && props.inferMemoryMb <= 10_240, "inferMemoryMb must be an integer from 128 to 10240"],
    [Number.isInteger(props.maxConcurrency) && props.maxConcurrency >= 1 && props.maxConcurrency <= 10_000, "maxConcurrency must be an integer from 1 to 10000"],
    [props.inferReservedConcurrency === undefined || (Number.isInteger(props.inferReservedConcurrency) && props.inferReservedConcurrency >= 1), "inferReservedConcurrency must be a positive integer"],
    [props.inferEphemeralStorageMb === undefined || (props.inferEphemeralStorageMb >= 512 && props.inferEphemeralStorageMb <= 10_240), "inferEphemeralStorageMb must be from 512 to 10240"],
    [props.alarmEmail === undefined || props.alarmTopicArn === undefined, "set alarmEmail or alarmTopicArn, not both (subscribe the address to your topic instead)"],
    [props.alarmEmail === undefined || alarmEmailPattern.test(props.alarmEmail), `alarmEmail must be an e-mail address, got ${JSON.stringify(props.alarmEmail)}`],
    [props.alarmTopicArn === undefined || Token.isUnresolved(props.alarmTopicArn) || alarmTopicArnPattern.test(props.alarmTopicArn), `alarmTopicArn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), got ${JSON.stringify(props.alarmTopicArn)}`],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, message]) => message);
  if (failed.length > 0) throw new Error(`Invalid LlambdaStack props: ${failed.join("; ")}`);
}

/** The AWS services the functions' code calls, as isolated mode's endpoints. */
type EndpointService = "s3" | "dynamodb" | "states";

/**
 * Isolated mode's network: a VPC with isolated subnets only (no route to the internet: no NAT gateway, no internet
 * gateway), flow logs, gateway endpoints for S3 and DynamoDB, an interface endpoint for Step Functions, and one
 * security group per function without default egress.
 */
export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly stepFunctionsEndpoint: ec2.InterfaceVpcEndpoint;
  private readonly securityGroups = new Map<string, ec2.SecurityGroup>();
  private readonly prefixLists: Record<"s3" | "dynamodb", string>;

  constructor(scope: Construct, id: string, props: { logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy }) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const flowLogs = new logs.LogGroup(this, "FlowLogs", { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.vpc.addFlowLog("FlowLog", { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
    this.stepFunctionsEndpoint = this.vpc.addInterfaceEndpoint("StepFunctionsEndpoint", {
      service: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
      privateDnsEnabled: true,
      open: false,
    });
    // Gateway endpoints are reached through their region's managed prefix lists, whose ids only AWS knows.
    const region = Stack.of(this).region;
    const prefixListId = (service: "s3" | "dynamodb") =>
      new cr.AwsCustomResource(this, `${service === "s3" ? "S3" : "DynamoDb"}PrefixList`, {
        onUpdate: {
          service: "EC2",
          action: "describeManagedPrefixLists",
          parameters: { Filters: [{ Name: "prefix-list-name", Values: [`com.amazonaws.${region}.${service}`] }] },
          physicalResourceId: cr.PhysicalResourceId.of(`${service}-prefix-list`),
          outputPaths: ["PrefixLists.0.PrefixListId"],
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({ actions: ["ec2:DescribeManagedPrefixLists"], resources: ["*"] }),
        ]),
        installLatestAwsSdk: false,
      }).getResponseField("PrefixLists.0.PrefixListId");
    this.prefixLists = { s3: prefixListId("s3"), dynamodb: prefixListId("dynamodb") };
  }

  /** A function's VPC settings: the isolated subnets and its own security group, with no egress until allowed. */
  placement(functionName: string): { vpc: ec2.IVpc; vpcSubnets: ec2.SubnetSelection; securityGroups: ec2.ISecurityGroup[] } {
    const group = new ec2.SecurityGroup(this, `${functionName}SecurityGroup`, {
      vpc: this.vpc,
      description: `llambda ${functionName}: HTTPS to the endpoints of the services it calls, nothing else`,
      allowAllOutbound: false,
    });
    this.securityGroups.set(functionName, group);
    return { vpc: this.vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [group] };
  }

  allowEgress(fn: lambda.Function, services: EndpointService[]): void {
    const group = this.securityGroups.get(fn.node.id);
    if (!group) throw new Error(`${fn.node.id} has no security group in the isolated network`);
    for (const service of services) {
      if (service === "states") {
        group.connections.allowTo(this.stepFunctionsEndpoint, ec2.Port.tcp(443), "HTTPS to the Step Functions endpoint");
      } else {
        group.addEgressRule(ec2.Peer.prefixList(this.prefixLists[service]), ec2.Port.tcp(443), `HTTPS to the ${service} gateway endpoint`);
      }
    }
  }
}
