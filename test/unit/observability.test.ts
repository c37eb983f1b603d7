import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { extractBatch, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import type { ChunkItem } from "../../functions/shared/contracts.ts";
import { ModelOutputError } from "../../functions/shared/errors.ts";
import { addInvocationContext, logger, serviceName } from "../../functions/shared/logger.ts";
import {
  metricDefinitions,
  metricDimensions,
  MetricNames,
  metrics,
  metricsNamespace,
  publishMetrics,
  recordDocumentChunked,
  recordModelInit,
  type MetricSink,
} from "../../functions/shared/metrics.ts";
import { handlerBuildOptions } from "../../infra/esbuild-options.ts";
import { AlarmIds, deadLetterAlarmId, PipelineObservability } from "../../infra/observability.ts";
import { MapLabel } from "../../statemachine/definition.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * The dashboard and alarms of infra/observability.ts on a small stack of stand-in resources, and the metrics the
 * handlers record: the same names, namespace and dimensions as the construct graphs and alarms on.
 */

const inferTimeout = Duration.seconds(900);

function observedStack() {
  const app = new App();
  const stack = new Stack(app, "Observed");
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: "index.handler",
      code: lambda.Code.fromInline("exports.handler = async () => ({});"),
    });
  const functions = {
    start: fn("Start"),
    chunk: fn("Chunk"),
    infer: fn("Infer"),
    merge: fn("Merge"),
    consumer: fn("Consumer"),
    failedExecution: fn("FailedExecution"),
  };
  const stateMachine = new sfn.StateMachine(stack, "Workflow", {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, "Nothing")),
  });
  const queues = { uploads: new sqs.Queue(stack, "UploadsDlq"), consumer: new sqs.Queue(stack, "ConsumerDlq") };
  const topic = new sns.Topic(stack, "AlarmTopic");
  const observability = new PipelineObservability(stack, "Observability", {
    stateMachine,
    functions,
    inferTimeout,
    deadLetterQueues: queues,
    alarmTopic: topic,
  });
  return { stack, functions, stateMachine, queues, topic, observability, template: Template.fromStack(stack) };
}

/** A CloudFormation value in the dashboard body's text: tokens become `<{'Ref':'Id'}>` inside the JSON strings. */
const tokenText = (value: unknown): string => (typeof value === "string" ? value : `<${JSON.stringify(value).replace(/"/g, "'")}>`);

/** The dashboard body (an Fn::Join of JSON text and tokens) as JSON, with tokens as tokenText placeholders. */
function dashboardBody(template: Template): { widgets: Array<{ type: string; properties: { title?: string; metrics?: unknown[][] } }> } {
  const [dashboard] = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
  const body = (dashboard as { Properties: { DashboardBody: { "Fn::Join": [string, unknown[]] } } }).Properties.DashboardBody;
  return JSON.parse(body["Fn::Join"][1].map(tokenText).join(""));
}

describe("PipelineObservability", () => {
  const built = observedStack();
  const { stack, template, functions, stateMachine, queues, topic } = built;
  const ref = (value: string) => stack.resolve(value) as unknown;
  const stateMachineArn = ref(stateMachine.stateMachineArn);
  const childStateMachineArn = ref(`${stateMachine.stateMachineArn}/${MapLabel}`);
  /** The child ARN in the dashboard body: the ARN's token, then the label (the body's Fn::Join flattens it). */
  const childArnText = `${tokenText(stateMachineArn)}/${MapLabel}`;
  const inferName = ref(functions.infer.functionName);

  it("builds one dashboard that graphs every custom metric, with the handlers' namespace and service dimension", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "Observed-pipeline" });
    const graphed = dashboardBody(template).widgets.flatMap((widget) => widget.properties.metrics ?? []);
    for (const name of Object.values(MetricNames)) {
      expect(
        graphed.some((metric) => metric[0] === metricsNamespace && metric[1] === name && metric[2] === "service" && metric[3] === serviceName),
        name,
      ).toBe(true);
    }
  });

  it("graphs the workflow's executions, the Map Run's child executions, every function and every dead-letter queue", () => {
    const graphed = dashboardBody(template).widgets.flatMap((widget) => widget.properties.metrics ?? []);
    const has = (namespace: string, name: string, dimension: string, value: unknown) =>
      graphed.some((metric) => metric[0] === namespace && metric[1] === name && metric[2] === dimension && metric[3] === tokenText(value));
    for (const name of ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"]) {
      expect(has("AWS/States", name, "StateMachineArn", stateMachineArn), name).toBe(true);
      expect(has("AWS/States", name, "StateMachineArn", childArnText), `${MapLabel} ${name}`).toBe(true);
    }
    for (const [fnName, fn] of Object.entries(functions)) {
      for (const name of ["Invocations", "Errors", "Throttles", "Duration"]) {
        expect(has("AWS/Lambda", name, "FunctionName", ref(fn.functionName)), `${fnName} ${name}`).toBe(true);
      }
    }
    for (const [queueName, queue] of Object.entries(queues)) {
      expect(has("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", ref(queue.queueName)), queueName).toBe(true);
    }
  });

  it("alarms on failed executions, inference throttles and errors, inference duration near its timeout", () => {
    const common = {
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmActions: [ref(topic.topicArn)],
    };
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      ...common,
      AlarmName: `Observed-${AlarmIds.failedExecutions}`,
      Threshold: 1,
      Metrics: [
        Match.objectLike({
          MetricStat: {
            Metric: { Namespace: "AWS/States", MetricName: "ExecutionsFailed", Dimensions: [{ Name: "StateMachineArn", Value: stateMachineArn }] },
            Period: 300,
            Stat: "Sum",
          },
        }),
      ],
    });
    for (const [id, metricName] of [[AlarmIds.inferThrottles, "Throttles"], [AlarmIds.inferErrors, "Errors"]] as const) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        ...common,
        AlarmName: `Observed-${id}`,
        Namespace: "AWS/Lambda",
        MetricName: metricName,
        Dimensions: [{ Name: "FunctionName", Value: inferName }],
        Statistic: "Sum",
        Threshold: 1,
      });
    }
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      ...common,
      AlarmName: `Observed-${AlarmIds.inferDurationNearTimeout}`,
      Threshold: inferTimeout.toMilliseconds() * 0.8,
      Metrics: [
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: { Namespace: "AWS/Lambda", MetricName: "Duration", Dimensions: [{ Name: "FunctionName", Value: inferName }] },
            Stat: "Maximum",
          }),
        }),
      ],
    });
  });

  it("alarms on the Map Run's failure rate: failed and timed-out child executions over started ones, by the child state machine ARN", () => {
    const childMetric = (id: string, metricName: string) =>
      Match.objectLike({
        Id: id,
        ReturnData: false,
        MetricStat: Match.objectLike({
          Metric: { Namespace: "AWS/States", MetricName: metricName, Dimensions: [{ Name: "StateMachineArn", Value: childStateMachineArn }] },
          Stat: "Sum",
        }),
      });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: `Observed-${AlarmIds.mapFailureRate}`,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      Threshold: 5,
      TreatMissingData: "notBreaching",
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: "IF(failures > 0, 100 * failures / MAX([failures, FILL(started, 0)]), 0)", ReturnData: true }),
        Match.objectLike({ Id: "failures", Expression: "FILL(failed, 0) + FILL(timedOut, 0)" }),
        childMetric("failed", "ExecutionsFailed"),
        childMetric("timedOut", "ExecutionsTimedOut"),
        childMetric("started", "ExecutionsStarted"),
      ]),
    });
    // The dimension really is `<state machine ARN>/<Map label>`.
    expect(childStateMachineArn).toEqual({ "Fn::Join": ["", [stateMachineArn, `/${MapLabel}`]] });
  });

  it("alarms on any message in each dead-letter queue", () => {
    for (const [name, queue] of Object.entries(queues)) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        AlarmName: `Observed-${deadLetterAlarmId(name)}`,
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching",
        Metrics: [
          Match.objectLike({
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: "AWS/SQS",
                MetricName: "ApproximateNumberOfMessagesVisible",
                Dimensions: [{ Name: "QueueName", Value: ref(queue.queueName) }],
              },
              Stat: "Maximum",
            }),
          }),
        ],
      });
    }
  });

  it("makes every alarm quiet without data, named after the stack, described, and notifying the topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")) as Array<{ Properties: Record<string, unknown> }>;
    expect(alarms).toHaveLength(Object.keys(AlarmIds).length + Object.keys(queues).length);
    for (const { Properties: alarm } of alarms) {
      expect(alarm.TreatMissingData, String(alarm.AlarmName)).toBe("notBreaching");
      expect(alarm.AlarmName).toMatch(/^Observed-[a-z-]+$/);
      expect(String(alarm.AlarmDescription).length, String(alarm.AlarmName)).toBeGreaterThan(60);
      expect(alarm.AlarmActions).toEqual([ref(topic.topicArn)]);
    }
    // The dashboard shows them all.
    const statusWidget = JSON.stringify(dashboardBody(template).widgets.find((widget) => widget.type === "alarm"));
    for (const [id, alarm] of Object.entries(built.observability.alarms)) expect(statusWidget, id).toContain(tokenText(ref(alarm.alarmArn)));
    expect(Object.keys(built.observability.alarms)).toHaveLength(alarms.length);
  });

  it("leaves out alarm actions without a topic", () => {
    const app = new App();
    const stack = new Stack(app, "Quiet");
    const fn = (id: string) =>
      new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: "index.handler", code: lambda.Code.fromInline("x") });
    new PipelineObservability(stack, "Observability", {
      stateMachine: new sfn.StateMachine(stack, "Workflow", { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, "P")) }),
      functions: { start: fn("S"), chunk: fn("C"), infer: fn("I"), merge: fn("M"), consumer: fn("R"), failedExecution: fn("F") },
      inferTimeout: Duration.seconds(600),
      deadLetterQueues: {},
    });
    const quiet = Template.fromStack(stack);
    quiet.resourceCountIs("AWS::CloudWatch::Alarm", Object.keys(AlarmIds).length);
    quiet.hasResourceProperties("AWS::CloudWatch::Alarm", { AlarmName: `Quiet-${AlarmIds.inferDurationNearTimeout}`, Threshold: 480_000 });
    for (const alarm of Object.values(quiet.findResources("AWS::CloudWatch::Alarm"))) {
      expect((alarm as { Properties: Record<string, unknown> }).Properties.AlarmActions).toBeUndefined();
    }
  });
});

/** What the process writes to stdout and stderr from now until the test's end (the logger: INFO to stdout, WARN to stderr). */
function captureOutput(): string[] {
  const written: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  }
  return written;
}

/** Records addMetric calls as [name, unit, value]. */
function recordingSink(): MetricSink & { calls: Array<[string, string, number]> } {
  const calls: Array<[string, string, number]> = [];
  return {
    calls,
    addMetric(name, unit, value) {
      calls.push([name, unit, value]);
      return metrics;
    },
  };
}

const chunk = (index: number, text: string): ChunkItem => ({
  documentId: "doc-1",
  index,
  chunkId: `c${index}`,
  pageStart: 1,
  pageEnd: 1,
  charStart: 0,
  charEnd: text.length,
  tokenCount: 10,
  text,
});

describe("the metrics the handlers record", () => {
  const secret = "Quentin Zarkovsky owes 48213 florins";

  afterEach(() => {
    vi.restoreAllMocks();
    metrics.clearMetrics();
    metrics.clearMetadata();
  });

  it("per chunk and per inference invocation: tokens, speed, duration, and chunks that succeeded or failed", async () => {
    const engine: ChunkExtractor = {
      extractAll: async (chunks) =>
        chunks.map((_, i) =>
          i === 0
            ? { ok: true, extraction: { data: {}, tokensIn: 120, tokensReused: 300, tokensOut: 40, promptMs: 500, generationMs: 2000, ms: 2600 } }
            : { ok: false, error: new ModelOutputError("not JSON") },
        ),
    };
    const sink = recordingSink();
    captureOutput();
    const output = await extractBatch(
      { Items: [chunk(0, "first"), chunk(1, "second")], failed: [{ documentId: "doc-1", index: 7, error: "X", cause: "earlier pass" }] },
      { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 }, metrics: sink },
    );
    expect(output.results).toHaveLength(1);
    expect(sink.calls).toEqual([
      [MetricNames.chunkTokensIn, "Count", 120],
      [MetricNames.chunkTokensOut, "Count", 40],
      [MetricNames.chunkTokensPerSecond, "Count/Second", 20],
      [MetricNames.chunkDuration, "Milliseconds", 2600],
      // The failure carried from an earlier pass is not counted again.
      [MetricNames.chunksSucceeded, "Count", 1],
      [MetricNames.chunksFailed, "Count", 1],
    ]);
  });

  it("records no speed for a chunk that generated nothing, and nothing without a sink", async () => {
    const engine: ChunkExtractor = {
      extractAll: async () => [{ ok: true, extraction: { data: {}, tokensIn: 5, tokensReused: 0, tokensOut: 0, promptMs: 1, generationMs: 0, ms: 1 } }],
    };
    const sink = recordingSink();
    captureOutput();
    const deadline = { at: Date.now() + 60_000, freshBudgetMs: 60_000 };
    await extractBatch({ Items: [chunk(0, "x")] }, { engine, modelId: "m", deadline, metrics: sink });
    expect(sink.calls.map(([name]) => name)).not.toContain(MetricNames.chunkTokensPerSecond);
    const spy = vi.spyOn(metrics, "addMetric");
    await extractBatch({ Items: [chunk(0, "x")] }, { engine, modelId: "m", deadline });
    expect(spy).not.toHaveBeenCalled();
  });

  it("serializes to EMF in the namespace and with the dimension the dashboard and alarms query", () => {
    recordModelInit(metrics, 4321);
    recordDocumentChunked(metrics, { pageCount: 3, chunkCount: 5, ms: 250 });
    metrics.addMetadata("document", "doc-1");
    const emf = metrics.serializeMetrics() as unknown as {
      _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
    } & Record<string, unknown>;
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive!.Namespace).toBe(metricsNamespace);
    expect(directive!.Dimensions).toEqual([Object.keys(metricDimensions)]);
    expect(emf).toMatchObject({ ...metricDimensions, document: "doc-1" });
    expect(directive!.Metrics).toEqual(
      [MetricNames.modelInitDuration, MetricNames.documentPages, MetricNames.documentChunks, MetricNames.documentChunkingDuration].map(
        (name) => ({ Name: name, Unit: metricDefinitions[name].unit }),
      ),
    );
    expect(emf).toMatchObject({ ModelInitDuration: 4321, DocumentPages: 3, DocumentChunks: 5, DocumentChunkingDuration: 250 });
  });

  it("publishes one EMF line, nothing when nothing was recorded, and nothing with POWERTOOLS_METRICS_DISABLED=true", async () => {
    const written = captureOutput();
    metrics.addMetadata("document", "doc-1");
    publishMetrics();
    expect(written).toEqual([]);
    // The metadata of an invocation without metrics does not reach the next one's line.
    recordModelInit(metrics, 10);
    publishMetrics();
    expect(written).toHaveLength(1);
    const line = JSON.parse(written[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ ModelInitDuration: 10, service: serviceName });
    expect(line.document).toBeUndefined();
    expect(metrics.hasStoredMetrics()).toBe(false);

    const { Metrics } = await import("@aws-lambda-powertools/metrics");
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "true");
    try {
      const disabled = new Metrics({ namespace: metricsNamespace, serviceName });
      recordModelInit(disabled, 10);
      publishMetrics(disabled);
      expect(disabled.hasStoredMetrics()).toBe(false);
      expect(written).toHaveLength(1);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("keeps a model answer that may quote the document out of WARN lines", async () => {
    const written = captureOutput();
    const engine: ChunkExtractor = {
      extractAll: async () => [{ ok: false, error: new ModelOutputError(`The model's answer is not valid JSON: "${secret}" x`) }],
    };
    const output = await extractBatch({ Items: [chunk(3, secret)] }, { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 } });
    expect(output.failed[0]?.cause).toContain(secret); // recorded on the item, for the operator
    const lines = written.join("").split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ level: "WARN", message: "Chunk failed", error: "ModelOutputError", chunk: 3, document: "doc-1" }));
    expect(written.join("")).not.toContain("Quentin");
  });
});

describe("the invocation on every log line", () => {
  it("every Lambda handler adds its context (request id, cold start) before anything else", () => {
    const handlers = readdirSync(join(repoRoot, "functions"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join("functions", entry.name, "handler.ts"))
      .filter((file) => existsSync(join(repoRoot, file)));
    expect(handlers.length).toBe(6);
    for (const file of handlers) {
      const source = readFileSync(join(repoRoot, file), "utf8");
      const body = /export async function handler\(([\s\S]*?)\)[^{]*\{\s*([^;]*);/.exec(source);
      expect(body, file).not.toBeNull();
      expect(body![1], `${file} takes the Lambda context`).toMatch(/context\??:/);
      expect(body![2], `${file}: first statement`).toBe("addInvocationContext(context)");
    }
  });

  it("adds request id, function and cold start with a Lambda context, nothing without one", () => {
    const written = captureOutput();
    addInvocationContext(undefined);
    logger.info("without");
    addInvocationContext({ awsRequestId: "r-1", functionName: "F", invokedFunctionArn: "arn:f", memoryLimitInMB: "256", functionVersion: "$LATEST" });
    logger.info("with");
    vi.restoreAllMocks();
    const lines = written.join("").split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.message === "without")).not.toHaveProperty("function_request_id");
    expect(lines.find((line) => line.message === "with")).toMatchObject({ function_request_id: "r-1", function_name: "F", cold_start: expect.any(Boolean) });
  });
});

describe("X-Ray through Powertools Tracer", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  /** The middleware names of the SDK clients, as a handler module (fresh) builds them in this environment. */
  async function clientMiddleware(env: Record<string, string | undefined>): Promise<string[][]> {
    for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
    vi.stubEnv("AWS_REGION", "eu-west-1");
    vi.resetModules();
    const clients = await import("../../functions/shared/aws-clients.ts");
    return [clients.s3Client(), clients.documentClient(), clients.sfnClient()].map((client) =>
      client.middlewareStack.identify().map((entry) => entry.split(" ")[0] ?? ""),
    );
  }

  it("instruments every AWS SDK client when the stack turned tracing on, and none otherwise", async () => {
    const xray = (names: string[]) => names.some((name) => /xray/i.test(name));
    const on = await clientMiddleware({ POWERTOOLS_TRACE_ENABLED: "true", AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x", _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" });
    expect(on.map(xray)).toEqual([true, true, true]);
    const off = await clientMiddleware({ POWERTOOLS_TRACE_ENABLED: undefined, AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" });
    expect(off.map(xray)).toEqual([false, false, false]);
  });

  it("is bundled with the handlers: esbuild resolves the lazy import", async () => {
    const result = await build({
      ...handlerBuildOptions("functions/failed-execution/handler.ts", join(tmpdir(), `llambda-tracer-${process.pid}.mjs`)),
      write: false,
      metafile: true,
      logLevel: "error",
    });
    expect(Object.keys(result.metafile.inputs).some((input) => input.includes("node_modules/aws-xray-sdk-core/"))).toBe(true);
    expect(Object.keys(result.metafile.inputs).some((input) => input.includes("node_modules/@aws-lambda-powertools/tracer/"))).toBe(true);
  }, 60_000);
});

describe("docs/observability.md", () => {
  let text = "";
  beforeAll(() => {
    text = readFileSync(join(repoRoot, "docs", "observability.md"), "utf8");
  });

  it("lists every metric with its unit, and every alarm", () => {
    for (const [name, definition] of Object.entries(metricDefinitions)) {
      const row = text.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, name).toBeDefined();
      expect(row, name).toContain(definition.unit);
    }
    for (const id of Object.values(AlarmIds)) expect(text, id).toContain(`\`${id}\``);
    expect(text).toContain(`\`${deadLetterAlarmId("<queue>")}\``);
  });
});
