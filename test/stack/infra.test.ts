/**
 * The CDK stack, synthesized offline. One full synth (with real esbuild bundling of the zip functions) is shared by
 * the tests; a second, options-only synth skips bundling. Assertions use Match and logical ids taken from the stack's
 * constructs, never hashed ids or whole-template snapshots.
 */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { App, Stack, type CfnElement } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AssetManifestArtifact } from "aws-cdk-lib/cx-api";
import { beforeAll, describe, expect, it } from "vitest";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { readyTransitionFilters } from "../../functions/consumer/stream-filter.ts";
import { intEnv } from "../../functions/shared/config.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { INFER_MODEL_PATH, LlambdaStack, REPO_ROOT, toCdkEventPattern, type LlambdaStackProps } from "../../infra/llambda-stack.ts";
import { ContextError, ContextKeys, schemaRoutingContext, stackFromContext, stackNameFor } from "../../infra/context.ts";
import { otherModelFileExcludes, resolveModelArtifact } from "../../infra/model-artifact.ts";
import { runtimeClosure } from "../../infra/image/runtime-deps.ts";
import { uploadEventPattern } from "../../infra/specs.ts";
import { buildDocumentWorkflow, MapLabel, MapResultsPrefix } from "../../statemachine/definition.ts";
import { ABSENT_MODEL_ID, baseStackProps, featureFlags, unbundledApp } from "../helpers/stack-fixture.ts";

const baseProps: LlambdaStackProps = baseStackProps;

type Json = Record<string, unknown>;

/** The `source` of a docker image in a CDK asset manifest. */
interface DockerSource {
  directory: string;
  dockerFile?: string;
  dockerBuildArgs?: Record<string, string>;
  platform?: string;
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** `{"Ref": X}` -> `${Ref:X}`, `{"Fn::GetAtt": [X, "Arn"]}` -> `${GetAtt:X.Arn}`, so a joined JSON string parses. */
function placeholder(token: unknown): string {
  const t = token as Json;
  if (typeof t.Ref === "string") return `\${Ref:${t.Ref}}`;
  const getAtt = t["Fn::GetAtt"];
  if (Array.isArray(getAtt)) return `\${GetAtt:${getAtt.join(".")}}`;
  throw new Error(`Unexpected token in definition: ${JSON.stringify(token)}`);
}

function joinedString(value: unknown): string {
  if (typeof value === "string") return value;
  const join = (value as Json)["Fn::Join"] as [string, unknown[]] | undefined;
  if (!join) throw new Error(`Expected a string or Fn::Join, got ${JSON.stringify(value)}`);
  return join[1].map((part) => (typeof part === "string" ? part : placeholder(part))).join(join[0]);
}

function onlyResource(template: Template, type: string, props?: Json): Json {
  const found = Object.values(template.findResources(type, props ? { Properties: props } : undefined));
  expect(found, `${type} count`).toHaveLength(1);
  return found[0] as Json;
}

function statementsOf(policy: Json): Json[] {
  return ((policy.Properties as Json).PolicyDocument as Json).Statement as Json[];
}

function actionsOf(statement: Json): string[] {
  const action = statement.Action;
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

function resourcesOf(statement: Json): unknown[] {
  const resource = statement.Resource;
  return Array.isArray(resource) ? resource : [resource];
}

/** The IAM policy attached to a role (by the role's logical id). */
function policyOfRole(template: Template, roleLogicalId: string): Json {
  return onlyResource(template, "AWS::IAM::Policy", { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) });
}

function roleLogicalIdOf(stack: Stack, fn: { role?: unknown }): string {
  return stack.getLogicalId((fn.role as { node: { defaultChild: CfnElement } }).node.defaultChild);
}

describe("LlambdaStack (full synth, bundled)", () => {
  let app: App;
  let stack: LlambdaStack;
  let template: Template;
  let synthMs = 0;

  beforeAll(() => {
    const started = performance.now();
    app = new App({ context: featureFlags });
    stack = new LlambdaStack(app, "Test", baseProps);
    template = Template.fromStack(stack);
    synthMs = performance.now() - started;
    console.log(`infra.test: full synth with bundling took ${(synthMs / 1000).toFixed(1)} s`);
  }, 120_000);

  describe("state machine", () => {
    it("is one STANDARD state machine with a fixed name, logging every event without execution data", () => {
      template.resourceCountIs("AWS::StepFunctions::StateMachine", 1);
      template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
        StateMachineType: "STANDARD",
        StateMachineName: "Test-document-workflow",
        LoggingConfiguration: Match.objectLike({ Level: "ALL", IncludeExecutionData: false }),
      });
    });

    function definition(): { Comment: string; States: Record<string, Json> } {
      const sm = onlyResource(template, "AWS::StepFunctions::StateMachine");
      return JSON.parse(joinedString((sm.Properties as Json).DefinitionString)) as { Comment: string; States: Record<string, Json> };
    }

    it("deploys exactly statemachine/definition.ts with the stack's functions, table and bucket", () => {
      const expected = buildDocumentWorkflow(
        {
          chunkFunctionArn: `\${GetAtt:${logicalId(stack, stack.chunkFunction)}.Arn}`,
          inferFunctionArn: `\${GetAtt:${logicalId(stack, stack.inferFunction)}.Arn}`,
          mergeFunctionArn: `\${GetAtt:${logicalId(stack, stack.mergeFunction)}.Arn}`,
          tableName: `\${Ref:${logicalId(stack, stack.table)}}`,
          bucketName: `\${Ref:${logicalId(stack, stack.bucket)}}`,
        },
        stack.workflowSettings,
      );
      expect(definition()).toEqual(JSON.parse(JSON.stringify(expected)));
    });

    it("has a Distributed Map reading a JSONL manifest, batching items and writing results to the bucket", () => {
      const maps = Object.values(definition().States).filter((state) => state.Type === "Map");
      expect(maps).toHaveLength(1);
      const map = maps[0]!;
      expect(map).toMatchObject({
        Label: MapLabel,
        ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" } },
        ItemReader: { Resource: "arn:aws:states:::s3:getObject", ReaderConfig: { InputType: "JSONL" } },
        ItemBatcher: { MaxItemsPerBatch: expect.any(Number), MaxInputBytesPerBatch: expect.any(Number) },
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: `\${Ref:${logicalId(stack, stack.bucket)}}`, Prefix: MapResultsPrefix },
        },
        ToleratedFailurePercentage: expect.any(Number),
        MaxConcurrency: baseProps.maxConcurrency,
      });
    });

    it("lets its role invoke the three functions and update the table, with no wildcard action", () => {
      const policy = policyOfRole(template, roleLogicalIdOf(stack, stack.stateMachine));
      const statements = statementsOf(policy);
      const invoke = statements.filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
      const invokable = invoke.flatMap(resourcesOf);
      for (const fn of [stack.chunkFunction, stack.inferFunction, stack.mergeFunction]) {
        expect(invokable).toContainEqual({ "Fn::GetAtt": [logicalId(stack, fn), "Arn"] });
      }
      expect(invokable).toHaveLength(6); // each function and its versions/aliases (`:*`), nothing else
      const update = statements.find((s) => actionsOf(s).includes("dynamodb:UpdateItem"));
      expect(resourcesOf(update!)).toEqual([{ "Fn::GetAtt": [logicalId(stack, stack.table), "Arn"] }]);
      for (const statement of statements) {
        for (const action of actionsOf(statement)) expect(action).not.toMatch(/(^|:)\*$/);
      }
    });

    it("grants the Distributed Map its child-execution and map-run permissions without a self-reference", () => {
      const statements = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.stateMachine)));
      const rendered = JSON.stringify(statements);
      expect(rendered).toContain(":stateMachine:Test-document-workflow");
      expect(rendered).toContain(":execution:Test-document-workflow/*");
      expect(rendered).toContain(":mapRun:Test-document-workflow/*");
      expect(rendered).not.toContain(logicalId(stack, stack.stateMachine) + '"');
      const s3Actions = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("s3:")));
      expect(JSON.stringify(s3Actions)).toContain("/chunks/*");
      expect(JSON.stringify(s3Actions)).toContain(`/${MapResultsPrefix}/*`);
      expect(JSON.stringify(s3Actions)).not.toContain("/uploads/");
    });
  });

  describe("functions", () => {
    it("runs inference in an arm64 container image with 10 GB and 15 minutes, unreserved by default", () => {
      const fn = onlyResource(template, "AWS::Lambda::Function", { PackageType: "Image" });
      expect(fn.Properties).toMatchObject({ Architectures: ["arm64"], MemorySize: 10240, Timeout: 900 });
      expect((fn.Properties as Json).ReservedConcurrentExecutions).toBeUndefined();
      expect((fn.Properties as Json).EphemeralStorage).toEqual({ Size: 1024 });
    });

    it("builds the image from functions/infer/Dockerfile for linux/arm64 with the model id as a build arg", () => {
      const assembly = app.synth();
      const manifests = assembly.artifacts.filter((a): a is AssetManifestArtifact => a instanceof AssetManifestArtifact);
      const dockerImages = manifests.flatMap((m) => {
        const contents = JSON.parse(readFileSync(m.file, "utf8")) as { dockerImages?: Record<string, { source: DockerSource }> };
        return Object.values(contents.dockerImages ?? {}).map((image) => image.source);
      });
      expect(dockerImages).toHaveLength(1);
      const image = dockerImages[0]!;
      expect(image.dockerFile).toBe("functions/infer/Dockerfile");
      expect(image.platform).toBe("linux/arm64");
      expect(image.dockerBuildArgs).toEqual({ MODEL_ID: ABSENT_MODEL_ID, MODEL_SHA256: "" });
      // The staged build context is the .dockerignore allow-list: no node_modules, tests or other models.
      const contextDir = join(assembly.directory, image.directory);
      const files = listFiles(contextDir);
      expect(files).toEqual(expect.arrayContaining(["functions/infer/Dockerfile", "functions/infer/handler.ts", "package-lock.json", "infra/esbuild-options.ts", "infra/image/bundle-infer.ts", "infra/image/runtime-deps.ts", "infra/image/lambda-entrypoint.sh"]));
      expect(files.filter((f) => /^(node_modules|test|cdk\.out|\.git|docs|bench)\//.test(f) || f.endsWith(".gguf"))).toEqual([]);
    });

    it("bundles the zip functions as ESM for nodejs22.x on arm64", () => {
      for (const fn of [stack.startFunction, stack.chunkFunction, stack.mergeFunction]) {
        const props = template.toJSON().Resources[logicalId(stack, fn)].Properties as Json;
        expect(props).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"], Handler: "index.handler" });
      }
      const chunk = template.toJSON().Resources[logicalId(stack, stack.chunkFunction)].Properties as Json;
      expect(chunk).toMatchObject({ MemorySize: 2048, Timeout: 300 });
      const merge = template.toJSON().Resources[logicalId(stack, stack.mergeFunction)].Properties as Json;
      expect(merge).toMatchObject({ MemorySize: 1024, Timeout: 300 });
    });

    it("gives each function the environment variables of what it was granted", () => {
      const env = (fn: { node: { defaultChild?: unknown } }): Json =>
        ((template.toJSON().Resources[logicalId(stack, fn)].Properties as Json).Environment as Json).Variables as Json;
      const bucketRef = { Ref: logicalId(stack, stack.bucket) };
      expect(env(stack.startFunction)).toEqual({
        [EnvNames.stateMachineArn]: { Ref: logicalId(stack, stack.stateMachine) },
        [EnvNames.schemaRouting]: JSON.stringify({ routes: {}, defaultSchemaId: "generic" }),
        // 800 of the account's default 1,000 concurrent executions ÷ 20 inferences per document.
        [EnvNames.maxRunningDocuments]: "40",
      });
      expect(env(stack.chunkFunction)).toEqual({ [EnvNames.bucket]: bucketRef, [EnvNames.chunkTokens]: "1000" });
      expect(env(stack.inferFunction)).toEqual({
        [EnvNames.bucket]: bucketRef,
        [EnvNames.modelPath]: INFER_MODEL_PATH,
        [EnvNames.modelId]: ABSENT_MODEL_ID,
        [EnvNames.parallelSequences]: String(stack.workflowSettings.maxItemsPerBatch),
        [EnvNames.schemaId]: "generic",
      });
      expect(env(stack.mergeFunction)).toEqual({
        [EnvNames.bucket]: bucketRef,
        [EnvNames.table]: { Ref: logicalId(stack, stack.table) },
        [EnvNames.schemaId]: "generic",
      });
      expect(env(stack.consumerFunction)).toEqual({ [EnvNames.bucket]: bucketRef });
      expect(env(stack.failedExecutionFunction)).toEqual({ [EnvNames.table]: { Ref: logicalId(stack, stack.table) } });
    });

    it("records this state machine's FAILED, TIMED_OUT and ABORTED executions on their item, retried, with a DLQ", () => {
      template.hasResourceProperties("AWS::Events::Rule", {
        EventPattern: {
          source: ["aws.states"],
          "detail-type": ["Step Functions Execution Status Change"],
          detail: { stateMachineArn: [{ Ref: logicalId(stack, stack.stateMachine) }], status: ["FAILED", "TIMED_OUT", "ABORTED"] },
        },
        Targets: [
          Match.objectLike({
            Arn: { "Fn::GetAtt": [logicalId(stack, stack.failedExecutionFunction), "Arn"] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [logicalId(stack, stack.deadLetterQueue), "Arn"] } },
            RetryPolicy: { MaximumRetryAttempts: Match.anyValue(), MaximumEventAgeInSeconds: Match.anyValue() },
          }),
        ],
      });
      const statements = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.failedExecutionFunction)));
      expect(statements.flatMap(actionsOf).sort()).toEqual(["dynamodb:UpdateItem", "logs:CreateLogStream", "logs:PutLogEvents"]);
    });

    it("deploys the example stream consumer with the ready-transition filter, per-record failures and a DLQ", () => {
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: { "Fn::GetAtt": [logicalId(stack, stack.table), "StreamArn"] },
        FunctionName: { Ref: logicalId(stack, stack.consumerFunction) },
        StartingPosition: "LATEST",
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        BisectBatchOnFunctionError: true,
        FilterCriteria: { Filters: readyTransitionFilters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })) },
        DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [logicalId(stack, stack.consumerDeadLetterQueue), "Arn"] } } },
      });
      const consumer = JSON.stringify(statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.consumerFunction))));
      expect(consumer).toContain("/results/*");
      expect(consumer).toContain("dynamodb:GetRecords");
      expect(consumer).not.toMatch(/s3:PutObject|dynamodb:PutItem|dynamodb:UpdateItem|uploads|chunks/);
    });

    it("scopes S3 and DynamoDB grants to prefixes and actions", () => {
      const policyText = (fn: { role?: unknown }): string => JSON.stringify(statementsOf(policyOfRole(template, roleLogicalIdOf(stack, fn))));
      const chunk = policyText(stack.chunkFunction);
      expect(chunk).toContain("/uploads/*");
      expect(chunk).toContain("/chunks/*");
      expect(chunk).not.toContain("dynamodb:");
      const infer = policyText(stack.inferFunction);
      expect(infer).toContain("/chunks/*");
      expect(infer).not.toMatch(/uploads|map-results|s3:PutObject|dynamodb:/);
      const merge = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.mergeFunction)));
      const dynamo = merge.filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
      expect(dynamo.flatMap(actionsOf).sort()).toEqual(["dynamodb:UpdateItem"]);
      expect(JSON.stringify(merge)).toContain("/map-results/*");
      // It writes only results too large for their item, under results/.
      const mergeWrites = merge.filter((s) => actionsOf(s).includes("s3:PutObject"));
      expect(JSON.stringify(mergeWrites)).toContain("/results/*");
      expect(JSON.stringify(mergeWrites)).not.toMatch(/uploads|chunks|map-results/);
      const start = policyText(stack.startFunction);
      expect(start).toContain("states:StartExecution");
      expect(start).not.toMatch(/s3:|dynamodb:/);
    });
  });

  describe("storage", () => {
    it("has a documentId-keyed on-demand table streaming new and old images, with PITR and encryption", () => {
      template.hasResourceProperties("AWS::DynamoDB::Table", {
        KeySchema: [{ AttributeName: "documentId", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "documentId", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain" });
    });

    it("has one private, versioned, encrypted, access-logged document bucket, retained, with expiring intermediate prefixes", () => {
      // The document bucket and its access-log bucket.
      template.resourceCountIs("AWS::S3::Bucket", 2);
      template.hasResource("AWS::S3::Bucket", {
        DeletionPolicy: "Retain",
        Properties: Match.objectLike({
          LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(stack, stack.accessLogsBucket) }, LogFilePrefix: "document-bucket/" },
          VersioningConfiguration: { Status: "Enabled" },
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
          LifecycleConfiguration: {
            Rules: Match.arrayWith([
              Match.objectLike({ Prefix: "chunks/", ExpirationInDays: 7, Status: "Enabled" }),
              Match.objectLike({ Prefix: "map-results/", ExpirationInDays: 7, Status: "Enabled" }),
            ]),
          },
        }),
      });
      template.hasResourceProperties("AWS::S3::BucketPolicy", {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    });

    it("turns on EventBridge notifications for the bucket", () => {
      template.hasResourceProperties("Custom::S3BucketNotifications", {
        BucketName: { Ref: logicalId(stack, stack.bucket) },
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      });
    });
  });

  describe("upload events", () => {
    it("routes Object Created under uploads/ to a queue the start function drains in bounded batches, with a DLQ", () => {
      template.hasResourceProperties("AWS::Events::Rule", {
        EventPattern: {
          source: ["aws.s3"],
          "detail-type": ["Object Created"],
          detail: {
            bucket: { name: [{ Ref: logicalId(stack, stack.bucket) }] },
            object: { key: [{ prefix: "uploads/" }] },
          },
        },
        Targets: [
          Match.objectLike({
            Arn: { "Fn::GetAtt": [logicalId(stack, stack.uploadQueue), "Arn"] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [logicalId(stack, stack.deadLetterQueue), "Arn"] } },
            RetryPolicy: { MaximumRetryAttempts: Match.anyValue(), MaximumEventAgeInSeconds: Match.anyValue() },
          }),
        ],
      });
      template.hasResourceProperties("AWS::SQS::Queue", {
        SqsManagedSseEnabled: true,
        VisibilityTimeout: 180,
        RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [logicalId(stack, stack.deadLetterQueue), "Arn"] }, maxReceiveCount: 400 },
      });
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: { "Fn::GetAtt": [logicalId(stack, stack.uploadQueue), "Arn"] },
        FunctionName: { Ref: logicalId(stack, stack.startFunction) },
        BatchSize: 10,
        ScalingConfig: { MaximumConcurrency: 2 },
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      });
      // The start function may count running executions (admission) and start them, nothing else of the workflow.
      const start = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.startFunction)));
      const states = start.flatMap(actionsOf).filter((action) => action.startsWith("states:")).sort();
      expect(states).toEqual(["states:ListExecutions", "states:StartExecution"]);
    });
  });

  it("outputs what a user needs to upload, watch and consume", () => {
    for (const name of ["BucketName", "UploadsPrefix", "TableName", "TableStreamArn", "StateMachineArn", "StateMachineConsoleUrl"]) {
      template.hasOutput(name, Match.anyValue());
    }
  });

  it("warns, without failing synth, when the model file or its sha256 is missing", () => {
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning("/Test/InferFunction", Match.stringLikeRegexp(`npm run model:pull -- ${ABSENT_MODEL_ID}`));
    annotations.hasWarning("/Test/InferFunction", Match.stringLikeRegexp("llambda:modelSha256"));
  });

  it("synthesizes in reasonable time", () => {
    expect(synthMs).toBeLessThan(90_000);
  });
});

describe("LlambdaStack options (no bundling)", () => {
  let stack: LlambdaStack;
  let template: Template;

  beforeAll(() => {
    // Bundling of every stack is skipped, as `cdk deploy --exclusively` does for stacks it does not deploy.
    const app = unbundledApp();
    stack = new LlambdaStack(app, "Options", {
      ...baseProps,
      destroyOnRemoval: true,
      inferReservedConcurrency: 5,
      inferMemoryMb: 4096,
      maxConcurrency: 8,
      schemaRouting: { routes: { "uploads/invoices/": "invoice" }, defaultSchemaId: "review-sentiment" },
      tracing: true,
      modelSha256: "a".repeat(64),
    });
    template = Template.fromStack(stack);
  }, 120_000);

  it("deletes storage with the stack when asked, emptying the bucket", () => {
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Delete" });
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete", Properties: Match.objectLike({ DeletionProtectionEnabled: false }) });
    // The document bucket and its access-log bucket are both emptied.
    template.resourceCountIs("Custom::S3AutoDeleteObjects", 2);
  });

  it("passes memory, reserved concurrency, map concurrency and schema through", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      PackageType: "Image",
      MemorySize: 4096,
      ReservedConcurrentExecutions: 5,
      Environment: { Variables: Match.objectLike({ [EnvNames.schemaId]: "review-sentiment" }) },
      TracingConfig: { Mode: "Active" },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          [EnvNames.schemaRouting]: JSON.stringify({ routes: { "uploads/invoices/": "invoice" }, defaultSchemaId: "review-sentiment" }),
        }),
      },
    });
    expect(stack.workflowSettings.maxConcurrency).toBe(8);
    Annotations.fromStack(stack).hasWarning("/Options/InferFunction", Match.stringLikeRegexp("reserved concurrency is 5"));
    Annotations.fromStack(stack).hasNoWarning("/Options/InferFunction", Match.stringLikeRegexp("llambda:modelSha256"));
  });

  it("with tracing, has every function load Powertools Tracer (POWERTOOLS_TRACE_ENABLED); without, none", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function")) as Array<{ Properties: Json }>;
    const ours = functions.filter(({ Properties }) => String(Properties.Description ?? "").startsWith("llambda"));
    expect(ours).toHaveLength(6);
    for (const { Properties } of ours) {
      expect(((Properties.Environment as Json).Variables as Json).POWERTOOLS_TRACE_ENABLED, String(Properties.Description)).toBe("true");
    }
    const untraced = Template.fromStack(new LlambdaStack(unbundledApp(), "Untraced", baseProps));
    for (const fn of Object.values(untraced.findResources("AWS::Lambda::Function")) as Array<{ Properties: Json }>) {
      expect(JSON.stringify(fn.Properties.Environment ?? {})).not.toContain("POWERTOOLS_TRACE_ENABLED");
    }
  }, 120_000);

  it("rejects out-of-range props", () => {
    expect(() => new LlambdaStack(new App(), "Bad", { ...baseProps, inferMemoryMb: 20_000 })).toThrow(/inferMemoryMb/);
    expect(() => new LlambdaStack(new App(), "Bad", { ...baseProps, modelId: "../etc/passwd" })).toThrow(/Model id/);
  });

  it("refuses, at synth time, schema routes to unknown schemas or outside the uploads prefix", () => {
    const routed = (routes: Record<string, string>, defaultSchemaId = "generic") =>
      () => new LlambdaStack(new App(), "Bad", { ...baseProps, schemaRouting: { routes, defaultSchemaId } });
    expect(routed({ "uploads/x/": "invoices" })).toThrow(/prefix "uploads\/x\/" routes to unknown schema "invoices".*Known schemas: generic, invoice, review-sentiment/);
    expect(routed({ "inbox/": "invoice" })).toThrow(/outside "uploads\/"/);
    expect(routed({}, "nope")).toThrow(/default schema "nope" is unknown/);
  });

  it("reads the schema routing from context, as cdk.json writes it or as -c passes it", () => {
    const context = (values: Record<string, unknown>) => schemaRoutingContext((key) => values[key]);
    expect(context({})).toEqual({ routes: {}, defaultSchemaId: "generic" });
    expect(context({ "llambda:schemaRoutes": { "uploads/i/": "invoice" }, "llambda:schemaId": "review-sentiment" })).toEqual({
      routes: { "uploads/i/": "invoice" },
      defaultSchemaId: "review-sentiment",
    });
    expect(context({ "llambda:schemaRoutes": '{"uploads/i/":"invoice"}' }).routes).toEqual({ "uploads/i/": "invoice" });
    expect(() => context({ "llambda:schemaRoutes": ["uploads/"] })).toThrow(/llambda:schemaRoutes/);
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> };
    expect(context(cdkJson.context).routes).toEqual({ "uploads/invoices/": "invoice", "uploads/reviews/": "review-sentiment" });
  });
});

describe("infra helpers", () => {
  it("maps the specs' upload pattern to the CDK's EventPattern", () => {
    expect(toCdkEventPattern(uploadEventPattern("b"))).toEqual({
      source: ["aws.s3"],
      detailType: ["Object Created"],
      detail: { bucket: { name: ["b"] }, object: { key: [{ prefix: "uploads/" }] } },
    });
    expect(() => toCdkEventPattern({ "no-such-field": [] })).toThrow(/no-such-field/);
  });

  describe("model artifact", () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "llambda-infra-"));
      mkdirSync(join(root, "models"));
      writeFileSync(
        join(root, "models", "models.json"),
        JSON.stringify({
          defaultModelId: "m1",
          models: [
            { id: "m1", sha256: "b".repeat(64) },
            { id: "m2", sha256: null },
            { id: "ft", sha256: "d".repeat(64), lora: { url: "https://example.invalid/a.gguf", sha256: "E".repeat(64), scale: 0.5 } },
          ],
        }),
      );
      for (const name of ["m1.gguf", "m2.gguf", "tiny.gguf", "m3.gguf.part", "notes.md", "ft.gguf", "ft.lora.gguf"]) writeFileSync(join(root, "models", name), "x");
      return () => rmSync(root, { recursive: true, force: true });
    });

    it("takes the sha256 from the manifest, an override, or reports none", () => {
      expect(resolveModelArtifact(root, "m1")).toMatchObject({ present: true, sha256: "b".repeat(64), sha256Source: "manifest", relativePath: "models/m1.gguf" });
      expect(resolveModelArtifact(root, "m2")).toMatchObject({ present: true, sha256: "", sha256Source: "none", inManifest: true });
      expect(resolveModelArtifact(root, "m2", "C".repeat(64))).toMatchObject({ sha256: "c".repeat(64), sha256Source: "override" });
      expect(resolveModelArtifact(root, "zz")).toMatchObject({ present: false, inManifest: false, sha256Source: "none" });
      expect(() => resolveModelArtifact(root, "m1", "nothex")).toThrow(/sha256/);
      expect(() => resolveModelArtifact(root, "a/b")).toThrow(/Model id/);
    });

    it("names the LoRA adapter of a fine-tune and keeps it in the image context with its model", () => {
      const fineTune = resolveModelArtifact(root, "ft");
      expect(fineTune.lora).toEqual({ relativePath: "models/ft.lora.gguf", sha256: "e".repeat(64), scale: 0.5 });
      expect(resolveModelArtifact(root, "m1").lora).toBeUndefined();
      const excludes = otherModelFileExcludes(root, fineTune);
      expect(excludes).toContain("models/m1.gguf");
      expect(excludes).not.toContain("models/ft.lora.gguf");
      expect(excludes.slice(-2)).toEqual(["!models/ft.gguf", "!models/ft.lora.gguf"]);
    });

    it("excludes every other model file from the image context, keeping the selected one", () => {
      expect(otherModelFileExcludes(root, resolveModelArtifact(root, "m1"))).toEqual([
        "models/ft.gguf",
        "models/ft.lora.gguf",
        "models/m2.gguf",
        "models/m3.gguf.part",
        "models/tiny.gguf",
        "!models/m1.gguf",
      ]);
    });
  });

  it("computes node-llama-cpp's run-time closure from the lockfile, without unrelated packages", () => {
    const closure = runtimeClosure(REPO_ROOT, "node-llama-cpp");
    expect(closure).toContain("node_modules/node-llama-cpp");
    expect(closure).not.toContain("node_modules/aws-cdk-lib");
    expect(closure).not.toContain("node_modules/@aws-sdk/client-s3");
    expect(closure).not.toContain("node_modules/typescript"); // an optional peer of node-llama-cpp
    expect(closure.every((location) => location.startsWith("node_modules/"))).toBe(true);
  });
});

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(dir, full).split("\\").join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

describe("stages and alarm notifications (no bundling)", () => {
  /** The stack app.ts builds from this context, in an app that skips bundling. */
  const fromContext = (context: Record<string, unknown>) => {
    const app = unbundledApp();
    for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
    const { id, props } = stackFromContext(app.node, { account: "123456789012", region: "eu-west-1" });
    return new LlambdaStack(app, id, { ...props, modelId: ABSENT_MODEL_ID });
  };
  /** Names that must be unique in an account and region, where the template sets them itself. */
  const accountScopedNames = ["StateMachineName", "AlarmName", "DashboardName", "FunctionName", "BucketName", "TableName", "QueueName", "TopicName", "LogGroupName", "RoleName", "Name"];
  const explicitNames = (template: Template): string[] =>
    Object.values(template.toJSON().Resources as Record<string, { Properties?: Record<string, unknown> }>).flatMap(({ Properties }) =>
      Object.entries(Properties ?? {})
        .filter(([key, value]) => accountScopedNames.includes(key) && typeof value === "string")
        .map(([, value]) => value as string),
    );

  it("names the stack Llambda without a stage and Llambda-<stage> with one; rejects a bad stage", () => {
    const app = unbundledApp();
    expect(stackFromContext(app.node)).toMatchObject({ id: "Llambda", props: { stackName: "Llambda" } });
    app.node.setContext(ContextKeys.stage, "dev");
    expect(stackFromContext(app.node)).toMatchObject({ id: "Llambda-dev", props: { stackName: "Llambda-dev" } });
    expect(stackNameFor("prod-eu-2")).toBe("Llambda-prod-eu-2");
    for (const bad of ["Dev", "a_b", "-x", "x-", "1st", "a".repeat(21), "dev prod"]) {
      expect(() => stackNameFor(bad), bad).toThrow(ContextError);
    }
  });

  it("accepts exactly the chunk-token values the chunk function accepts at init (one rule, no drift)", () => {
    const contextTokens = (value: number) => {
      const app = unbundledApp();
      app.node.setContext(ContextKeys.chunkTokens, String(value));
      return stackFromContext(app.node).props.chunkTokens;
    };
    expect(contextTokens(chunkTokensRange.min)).toBe(chunkTokensRange.min);
    expect(contextTokens(chunkTokensRange.max)).toBe(chunkTokensRange.max);
    // 50000 used to pass synth and then fail every chunk invocation at init.
    for (const bad of [chunkTokensRange.min - 1, chunkTokensRange.max + 1, 50_000]) {
      expect(() => contextTokens(bad), String(bad)).toThrow(ContextError);
      expect(() => intEnv(EnvNames.chunkTokens, 1000, chunkTokensRange, { [EnvNames.chunkTokens]: String(bad) }), String(bad)).toThrow(/LLAMBDA_CHUNK_TOKENS/);
      expect(() => new LlambdaStack(unbundledApp(), "BadTokens", { ...baseStackProps, chunkTokens: bad }), String(bad)).toThrow(/chunkTokens must be an integer from 16 to 32000/);
    }
  });

  it("gives a staged stack the same resources under distinct names, so two stages deploy side by side", () => {
    const base = Template.fromStack(fromContext({}));
    const dev = Template.fromStack(fromContext({ [ContextKeys.stage]: "dev" }));
    // The CDK names a few resources after the path of their target, which starts with the stack's id: only those differ.
    const baseIds = Object.keys(base.toJSON().Resources as Json);
    const devIds = Object.keys(dev.toJSON().Resources as Json);
    expect(devIds.filter((id) => !baseIds.includes(id)).every((id) => id.includes("Llambdadev"))).toBe(true);
    expect(baseIds.filter((id) => !devIds.includes(id)).every((id) => id.includes("Llambda"))).toBe(true);
    expect(devIds.filter((id) => !baseIds.includes(id))).toHaveLength(3);
    expect(devIds).toHaveLength(baseIds.length);
    base.hasResourceProperties("AWS::StepFunctions::StateMachine", { StateMachineName: "Llambda-document-workflow" });
    dev.hasResourceProperties("AWS::StepFunctions::StateMachine", { StateMachineName: "Llambda-dev-document-workflow" });
    dev.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "Llambda-dev-pipeline" });
    const baseNames = explicitNames(base);
    const devNames = explicitNames(dev);
    expect(devNames.length).toBeGreaterThan(5);
    expect(devNames.filter((name) => baseNames.includes(name))).toEqual([]);
    for (const name of devNames) expect(name).toMatch(/^Llambda-dev-/);
  }, 120_000);

  it("without a setting, alarms notify nobody and no topic exists", () => {
    const template = Template.fromStack(fromContext({}));
    template.resourceCountIs("AWS::SNS::Topic", 0);
    for (const alarm of Object.values(template.findResources("AWS::CloudWatch::Alarm"))) {
      expect((alarm as { Properties: Json }).Properties.AlarmActions).toBeUndefined();
    }
  }, 120_000);

  it("-c llambda:alarmEmail creates an SSL-only topic with that e-mail subscription, and every alarm notifies it", () => {
    const stack = fromContext({ [ContextKeys.alarmEmail]: "ops@example.com" });
    const template = Template.fromStack(stack);
    template.resourceCountIs("AWS::SNS::Topic", 1);
    const topicId = logicalId(stack, stack.alarmTopic as unknown as { node: { defaultChild?: unknown } });
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com", TopicArn: { Ref: topicId } });
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")) as Array<{ Properties: Json }>;
    expect(alarms.length).toBe(Object.keys(stack.observability.alarms).length);
    for (const { Properties } of alarms) expect(Properties.AlarmActions, String(Properties.AlarmName)).toEqual([{ Ref: topicId }]);
    template.hasOutput("AlarmTopicArn", { Value: { Ref: topicId } });
  }, 120_000);

  it("-c llambda:alarmTopicArn makes every alarm notify that topic, creating none", () => {
    const arn = "arn:aws:sns:eu-west-1:123456789012:ops-pager";
    const template = Template.fromStack(fromContext({ [ContextKeys.alarmTopicArn]: arn }));
    template.resourceCountIs("AWS::SNS::Topic", 0);
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")) as Array<{ Properties: Json }>;
    expect(alarms.length).toBeGreaterThan(5);
    for (const { Properties } of alarms) expect(Properties.AlarmActions).toEqual([arn]);
  }, 120_000);

  it("rejects a malformed address or ARN, and both settings at once, at synth time", () => {
    expect(() => fromContext({ [ContextKeys.alarmEmail]: "ops at example.com" })).toThrow(/alarmEmail must be an e-mail address/);
    expect(() => fromContext({ [ContextKeys.alarmEmail]: "a@b.c,d@e.f" })).toThrow(/alarmEmail/);
    expect(() => fromContext({ [ContextKeys.alarmTopicArn]: "ops-pager" })).toThrow(/alarmTopicArn must be an SNS topic ARN/);
    expect(() =>
      fromContext({ [ContextKeys.alarmEmail]: "ops@example.com", [ContextKeys.alarmTopicArn]: "arn:aws:sns:eu-west-1:123456789012:t" }),
    ).toThrow(/not both/);
  });
});
