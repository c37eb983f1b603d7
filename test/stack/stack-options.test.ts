/**
 * The stack's options and stages, synthesized offline without bundling: context values, the model, schema routing,
 * alarm notifications. The bundled synth is in stack-bundled.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { functionSpecs } from "../../functions/catalogue.ts";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { intEnv } from "../../functions/shared/config.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { LlambdaStack, REPO_ROOT, type LlambdaStackProps } from "../../infra/llambda-stack.ts";
import { ContextError, ContextKeys, schemaRoutingContext, stackFromContext, stackNameFor } from "../../infra/context.ts";
import { ABSENT_MODEL_ID, baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";
import { logicalId, type Json } from "../helpers/template-queries.ts";

const baseProps: LlambdaStackProps = baseStackProps;

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
    expect(ours).toHaveLength(functionSpecs.length);
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

  /** A function's environment variables in the template. */
  const variablesOf = (stack: LlambdaStack, fn: { node: { defaultChild?: unknown } }): Record<string, unknown> =>
    ((Template.fromStack(stack).toJSON().Resources[logicalId(stack, fn)].Properties as Json).Environment as Json).Variables as Record<string, unknown>;

  it("gives the start function the OCR mode and routes from context, and the OCR function the OCR language", () => {
    const stack = fromContext({
      [ContextKeys.ocr]: "never",
      [ContextKeys.ocrRoutes]: { "uploads/scans/": "always" },
      [ContextKeys.ocrLanguage]: "eng",
    });
    expect(variablesOf(stack, stack.startFunction)).toMatchObject({
      [EnvNames.ocr]: "never",
      [EnvNames.ocrRoutes]: JSON.stringify({ "uploads/scans/": "always" }),
    });
    expect(variablesOf(stack, stack.ocrFunction)).toMatchObject({ [EnvNames.ocrLanguage]: "eng" });
    // As -c passes them (strings), and cdk.json's default.
    const fromCommandLine = fromContext({ [ContextKeys.ocrRoutes]: '{"uploads/scans/":"always"}' });
    expect(variablesOf(fromCommandLine, fromCommandLine.startFunction)).toMatchObject({
      [EnvNames.ocr]: "auto",
      [EnvNames.ocrRoutes]: JSON.stringify({ "uploads/scans/": "always" }),
    });
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> };
    expect(cdkJson.context[ContextKeys.ocr]).toBe("auto");
  });

  it("gives the review function llambda:reviewMaxPages, checked by the context's bound and, in code, by the function's own reader", () => {
    const stack = fromContext({ [ContextKeys.reviewMaxPages]: "5" });
    expect(variablesOf(stack, stack.reviewFunction)).toMatchObject({ [EnvNames.reviewMaxPages]: "5" });
    expect(variablesOf(fromContext({}), fromContext({}).reviewFunction)).not.toHaveProperty(EnvNames.reviewMaxPages);
    expect(() => fromContext({ [ContextKeys.reviewMaxPages]: "0" })).toThrow(/llambda:reviewMaxPages/);
    expect(() => new LlambdaStack(unbundledApp(), "BadReview", { ...baseProps, reviewMaxPages: 1000 })).toThrow(
      /ReviewFunction: Environment variable LLAMBDA_REVIEW_MAX_PAGES must be an integer from 1 to 100, got "1000"/,
    );
  });

  it("fails synth with a clear message on a bad OCR mode, route or language", () => {
    expect(() => fromContext({ [ContextKeys.ocr]: "sometimes" })).toThrow(ContextError);
    expect(() => fromContext({ [ContextKeys.ocr]: "sometimes" })).toThrow(
      /Context llambda:ocr must be one of auto, scans, always, never, got "sometimes"/,
    );
    expect(() => fromContext({ [ContextKeys.ocrRoutes]: { "inbox/": "always" } })).toThrow(/llambda:ocrRoutes/);
    expect(() => fromContext({ [ContextKeys.ocrRoutes]: { "uploads/scans/": "maybe" } })).toThrow(/llambda:ocrRoutes.*maybe/);
    // A language whose model package is not installed: the OCR function's own reader refuses it at synth.
    expect(() => fromContext({ [ContextKeys.ocrLanguage]: "xyz" })).toThrow(/OcrFunction: LLAMBDA_OCR_LANGUAGE=xyz: its model package @tesseract\.js-data\/xyz is not installed/);
    // Props built in code get the same checks.
    expect(() => new LlambdaStack(unbundledApp(), "Bad", { ...baseProps, ocrRouting: { routes: {}, defaultMode: "sometimes" as never } })).toThrow(
      /ocrRouting.*sometimes/,
    );
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
