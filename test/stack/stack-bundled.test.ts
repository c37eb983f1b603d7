/**
 * The CDK stack, synthesized offline with real esbuild bundling of the zip functions (one synth, shared by the tests).
 * Assertions use Match and logical ids taken from the stack's constructs, never hashed ids or whole-template snapshots.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AssetManifestArtifact } from "aws-cdk-lib/cx-api";
import { beforeAll, describe, expect, it } from "vitest";
import { readyTransitionFilters } from "../../functions/consumer/stream-filter.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { REVIEW_IMAGE_HANDLER } from "../../infra/image/bundle-review.ts";
import { INFER_MODEL_PATH, LlambdaStack, type LlambdaStackProps } from "../../infra/llambda-stack.ts";
import { buildDocumentWorkflow, MapLabel, MapResultsPrefix, OcrMapLabel, StateNames } from "../../statemachine/definition.ts";
import { ABSENT_MODEL_ID, baseStackProps, featureFlags } from "../helpers/stack-fixture.ts";
import { actionsOf, joinedString, listFiles, logicalId, onlyResource, policyOfRole, resourcesOf, roleLogicalIdOf, statementsOf, type DockerSource, type Json } from "../helpers/template-queries.ts";

const baseProps: LlambdaStackProps = baseStackProps;

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
    console.log(`stack-bundled: full synth with bundling took ${(synthMs / 1000).toFixed(1)} s`);
  }, 120_000);

  const resourceOfFn = (fn: { node: { defaultChild?: unknown } }): Json => template.toJSON().Resources[logicalId(stack, fn)] as Json;

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
          ocrFunctionArn: `\${GetAtt:${logicalId(stack, stack.ocrFunction)}.Arn}`,
          inferFunctionArn: `\${GetAtt:${logicalId(stack, stack.inferFunction)}.Arn}`,
          mergeFunctionArn: `\${GetAtt:${logicalId(stack, stack.mergeFunction)}.Arn}`,
          reviewFunctionArn: `\${GetAtt:${logicalId(stack, stack.reviewFunction)}.Arn}`,
          tableName: `\${Ref:${logicalId(stack, stack.table)}}`,
          bucketName: `\${Ref:${logicalId(stack, stack.bucket)}}`,
        },
        stack.workflowSettings,
      );
      expect(definition()).toEqual(JSON.parse(JSON.stringify(expected)));
    });

    it("invokes the review function after the merge, with a timeout above its own", () => {
      expect(definition().States[StateNames.review]).toMatchObject({
        Parameters: { FunctionName: `\${GetAtt:${logicalId(stack, stack.reviewFunction)}.Arn}` },
        TimeoutSeconds: stack.workflowSettings.reviewTimeoutSeconds,
      });
      expect(stack.workflowSettings.reviewTimeoutSeconds).toBeGreaterThan((resourceOfFn(stack.reviewFunction).Properties as Json).Timeout as number);
    });

    it("has a Distributed Map reading a JSONL manifest, batching items and writing results to the bucket", () => {
      const maps = Object.values(definition().States).filter((state) => state.Type === "Map");
      expect(maps.map((map) => map.Label).sort()).toEqual([MapLabel, OcrMapLabel].sort());
      const map = maps.find((candidate) => candidate.Label === MapLabel)!;
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

    it("has an OCR Distributed Map whose child executions invoke the OCR function", () => {
      const ocrMap = definition().States[StateNames.ocr] as Json;
      expect(ocrMap).toMatchObject({
        Type: "Map",
        Label: OcrMapLabel,
        ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" } },
        ItemReader: { Resource: "arn:aws:states:::s3:getObject", ReaderConfig: { InputType: "JSONL" } },
        ResultWriter: { Parameters: { Bucket: `\${Ref:${logicalId(stack, stack.bucket)}}`, Prefix: MapResultsPrefix } },
        MaxConcurrency: baseProps.maxConcurrency,
      });
      const child = (ocrMap.ItemProcessor as { States: Record<string, Json> }).States[StateNames.ocrGroup]!;
      expect(child).toMatchObject({
        Resource: "arn:aws:states:::lambda:invoke",
        Parameters: { FunctionName: `\${GetAtt:${logicalId(stack, stack.ocrFunction)}.Arn}` },
        TimeoutSeconds: stack.workflowSettings.ocrTimeoutSeconds,
      });
    });

    it("lets its role invoke the five task functions and update the table, with no wildcard action", () => {
      const policy = policyOfRole(template, roleLogicalIdOf(stack, stack.stateMachine));
      const statements = statementsOf(policy);
      const invoke = statements.filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
      const invokable = invoke.flatMap(resourcesOf);
      for (const fn of [stack.chunkFunction, stack.ocrFunction, stack.inferFunction, stack.mergeFunction, stack.reviewFunction]) {
        expect(invokable).toContainEqual({ "Fn::GetAtt": [logicalId(stack, fn), "Arn"] });
      }
      expect(invokable).toHaveLength(10); // each function and its versions/aliases (`:*`), nothing else
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
      // Both Maps' child executions can be redriven.
      expect(rendered).toContain(`:execution:Test-document-workflow/${MapLabel}:*`);
      expect(rendered).toContain(`:execution:Test-document-workflow/${OcrMapLabel}:*`);
      expect(rendered).not.toContain(logicalId(stack, stack.stateMachine) + '"');
      const s3Actions = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("s3:")));
      expect(JSON.stringify(s3Actions)).toContain("/chunks/*");
      expect(JSON.stringify(s3Actions)).toContain(`/${MapResultsPrefix}/*`);
      expect(JSON.stringify(s3Actions)).not.toContain("/uploads/");
    });
  });

  describe("functions", () => {
    const resourceOf = (fn: { node: { defaultChild?: unknown } }): Json => template.toJSON().Resources[logicalId(stack, fn)] as Json;

    it("runs inference in an arm64 container image with 10 GB and 15 minutes, unreserved by default", () => {
      const fn = resourceOf(stack.inferFunction);
      expect(fn.Properties).toMatchObject({ PackageType: "Image", Architectures: ["arm64"], MemorySize: 10240, Timeout: 900 });
      expect((fn.Properties as Json).ReservedConcurrentExecutions).toBeUndefined();
      expect((fn.Properties as Json).EphemeralStorage).toEqual({ Size: 1024 });
    });

    it("runs OCR in an arm64 container image with 2,048 MB (one page at a time) and 15 minutes, with its language", () => {
      const images = Object.values(template.findResources("AWS::Lambda::Function", { Properties: { PackageType: "Image" } }));
      expect(images).toHaveLength(3);
      template.hasResourceProperties("AWS::Lambda::Function", {
        PackageType: "Image",
        Architectures: ["arm64"],
        MemorySize: 2048,
        Timeout: 900,
        Environment: { Variables: Match.objectLike({ [EnvNames.ocrLanguage]: "eng" }) },
        Role: { "Fn::GetAtt": [roleLogicalIdOf(stack, stack.ocrFunction), "Arn"] },
      });
      expect(resourceOf(stack.ocrFunction).Properties).toMatchObject({ MemorySize: 2048, Timeout: 900, PackageType: "Image" });
    });

    it("writes review pages from the OCR image started with the review handler: arm64, 2,048 MB, 120 s", () => {
      template.hasResourceProperties("AWS::Lambda::Function", {
        PackageType: "Image",
        Architectures: ["arm64"],
        MemorySize: 2048,
        Timeout: 120,
        ImageConfig: { Command: [REVIEW_IMAGE_HANDLER] },
        Environment: { Variables: Match.objectLike({ [EnvNames.table]: { Ref: logicalId(stack, stack.table) } }) },
        Role: { "Fn::GetAtt": [roleLogicalIdOf(stack, stack.reviewFunction), "Arn"] },
      });
      expect(REVIEW_IMAGE_HANDLER).toBe("review-handler.handler");
      // The same image asset as OCR: one build, one push.
      const imageUri = (fn: { node: { defaultChild?: unknown } }) => JSON.stringify((resourceOf(fn).Properties as Json).Code);
      expect(imageUri(stack.reviewFunction)).toBe(imageUri(stack.ocrFunction));
      expect((resourceOf(stack.ocrFunction).Properties as Json).ImageConfig).toBeUndefined();
    });

    it("builds both images from infra/image/Dockerfile for linux/arm64, one target each; only the inference image gets the model", () => {
      const assembly = app.synth();
      const manifests = assembly.artifacts.filter((a): a is AssetManifestArtifact => a instanceof AssetManifestArtifact);
      const dockerImages = manifests.flatMap((m) => {
        const contents = JSON.parse(readFileSync(m.file, "utf8")) as { dockerImages?: Record<string, { source: DockerSource }> };
        return Object.values(contents.dockerImages ?? {}).map((image) => image.source);
      });
      expect(dockerImages.map((image) => image.dockerBuildTarget).sort()).toEqual(["infer", "ocr"]);
      const infer = dockerImages.find((image) => image.dockerBuildTarget === "infer")!;
      const ocr = dockerImages.find((image) => image.dockerBuildTarget === "ocr")!;
      for (const image of [infer, ocr]) {
        expect(image.dockerFile).toBe("infra/image/Dockerfile");
        expect(image.platform).toBe("linux/arm64");
      }
      expect(infer.dockerBuildArgs).toEqual({ MODEL_ID: ABSENT_MODEL_ID, MODEL_SHA256: "" });
      expect(ocr.dockerBuildArgs).toEqual({ OCR_LANGUAGE: "eng" });
      // The staged build contexts are the .dockerignore allow-list: no node_modules, tests or other models.
      const inferFiles = listFiles(join(assembly.directory, infer.directory));
      expect(inferFiles).toEqual(expect.arrayContaining(["infra/image/Dockerfile", "functions/infer/handler.ts", "package-lock.json", "infra/esbuild-options.ts", "infra/image/bundle-infer.ts", "infra/image/runtime-deps.ts", "infra/image/lambda-entrypoint.sh", "layers/llama-addon/build.sh", "layers/llama-addon/addon.patch"]));
      const ocrFiles = listFiles(join(assembly.directory, ocr.directory));
      expect(ocrFiles).toEqual(expect.arrayContaining(["infra/image/Dockerfile", "functions/ocr/handler.ts", "infra/image/bundle-ocr.ts", "infra/pdfjs-decode-bound.ts", "infra/image/runtime-deps.ts", "functions/review/handler.ts", "infra/image/bundle-review.ts"]));
      for (const files of [inferFiles, ocrFiles]) {
        expect(files.filter((f) => /^(node_modules|test|cdk\.out|\.git|docs|bench)\//.test(f) || f.endsWith(".gguf"))).toEqual([]);
      }
      expect(ocrFiles.filter((f) => f.startsWith("models/"))).toEqual([]);
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

    it("gives each function the environment variables it reads (functions/catalogue.ts)", () => {
      const env = (fn: { node: { defaultChild?: unknown } }): Json =>
        ((template.toJSON().Resources[logicalId(stack, fn)].Properties as Json).Environment as Json).Variables as Json;
      const bucketRef = { Ref: logicalId(stack, stack.bucket) };
      expect(env(stack.startFunction)).toEqual({
        [EnvNames.stateMachineArn]: { Ref: logicalId(stack, stack.stateMachine) },
        [EnvNames.schemaRouting]: JSON.stringify({ routes: {}, defaultSchemaId: "generic" }),
        [EnvNames.ocr]: "auto",
        [EnvNames.ocrRoutes]: "{}",
        // 800 of the account's default 1,000 concurrent executions ÷ 20 inferences per document.
        [EnvNames.maxRunningDocuments]: "40",
      });
      expect(env(stack.chunkFunction)).toEqual({ [EnvNames.bucket]: bucketRef, [EnvNames.chunkTokens]: "1000" });
      expect(env(stack.ocrFunction)).toEqual({ [EnvNames.bucket]: bucketRef, [EnvNames.ocrLanguage]: "eng" });
      // Infer reads chunk texts where their item says; it reads no bucket name.
      expect(env(stack.inferFunction)).toEqual({
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
      // The consumer reads no settings: results name their own bucket.
      expect(template.toJSON().Resources[logicalId(stack, stack.consumerFunction)].Properties).not.toHaveProperty("Environment");
      expect(env(stack.failedExecutionFunction)).toEqual({ [EnvNames.table]: { Ref: logicalId(stack, stack.table) } });
      expect(env(stack.reviewFunction)).toEqual({ [EnvNames.table]: { Ref: logicalId(stack, stack.table) }, [EnvNames.bucket]: bucketRef });
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
      expect(chunk).toContain("/map-results/*");
      expect(chunk).not.toContain("dynamodb:");
      // OCR reads the upload's version and writes page results under chunks/, nothing else of the bucket.
      const ocr = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.ocrFunction)));
      const ocrS3 = ocr.filter((s) => actionsOf(s).some((a) => a.startsWith("s3:")));
      const ocrReads = ocrS3.filter((s) => actionsOf(s).includes("s3:GetObject"));
      expect(ocrReads.flatMap(actionsOf).sort()).toEqual(["s3:GetObject", "s3:GetObjectVersion"]);
      expect(JSON.stringify(ocrReads)).toContain("/uploads/*");
      expect(JSON.stringify(ocrReads)).not.toMatch(/chunks|map-results|results/);
      const ocrWrites = ocrS3.filter((s) => actionsOf(s).includes("s3:PutObject"));
      expect(ocrWrites.flatMap(actionsOf)).toEqual(["s3:PutObject"]);
      expect(JSON.stringify(ocrWrites)).toContain("/chunks/*");
      expect(JSON.stringify(ocrWrites)).not.toMatch(/uploads|map-results|results/);
      expect(JSON.stringify(ocr)).not.toMatch(/dynamodb:|states:/);
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
      // Review: reads the item (GetItem only), the upload's version, the layout and offloaded results; writes only under reviews/.
      const review = statementsOf(policyOfRole(template, roleLogicalIdOf(stack, stack.reviewFunction)));
      const reviewTable = review.filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
      expect(reviewTable.flatMap(actionsOf)).toEqual(["dynamodb:GetItem"]);
      expect(reviewTable.flatMap(resourcesOf)).toEqual([{ "Fn::GetAtt": [logicalId(stack, stack.table), "Arn"] }]);
      const reviewReads = review.filter((s) => actionsOf(s).includes("s3:GetObject"));
      expect(reviewReads.flatMap(actionsOf).sort()).toEqual(["s3:GetObject", "s3:GetObjectVersion"]);
      for (const prefix of ["/uploads/*", "/chunks/*", "/results/*"]) expect(JSON.stringify(reviewReads)).toContain(prefix);
      expect(JSON.stringify(reviewReads)).not.toMatch(/map-results|reviews/);
      const reviewWrites = review.filter((s) => actionsOf(s).includes("s3:PutObject"));
      expect(reviewWrites.flatMap(actionsOf)).toEqual(["s3:PutObject"]);
      expect(JSON.stringify(reviewWrites)).toContain("/reviews/*");
      expect(JSON.stringify(reviewWrites)).not.toMatch(/uploads|chunks|results\/|map-results/);
      expect(JSON.stringify(review)).not.toMatch(/dynamodb:(UpdateItem|PutItem)|states:/);
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
      // Results and review pages are kept: no rule expires anything under them (nor the whole bucket).
      const documentBucket = template.toJSON().Resources[logicalId(stack, stack.bucket)].Properties as Json;
      const rules = (documentBucket.LifecycleConfiguration as { Rules: Json[] }).Rules;
      const expiring = rules.filter((rule) => rule.ExpirationInDays !== undefined || rule.ExpirationDate !== undefined);
      expect(expiring.map((rule) => rule.Prefix).sort()).toEqual(["chunks/", "map-results/"]);
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
