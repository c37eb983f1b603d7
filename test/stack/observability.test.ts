import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { describe, expect, it } from "vitest";
import { serviceName } from "../../functions/shared/logger.ts";
import { MetricNames, metricsNamespace } from "../../functions/shared/metrics.ts";
import { handlerBuildOptions } from "../../infra/esbuild-options.ts";
import { AlarmIds, deadLetterAlarmId, PipelineObservability } from "../../infra/observability.ts";
import { MapLabel, OcrMapLabel } from "../../statemachine/definition.ts";

/**
 * The dashboard and alarms of infra/observability.ts on a small stack of stand-in resources, and the tracer bundled with
 * the handlers by esbuild. The metrics the handlers record are in test/unit/observability.test.ts.
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
    ocr: fn("Ocr"),
    infer: fn("Infer"),
    merge: fn("Merge"),
    review: fn("Review"),
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
      expect(has("AWS/States", name, "StateMachineArn", `${tokenText(stateMachineArn)}/${OcrMapLabel}`), `${OcrMapLabel} ${name}`).toBe(true);
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

  it("alarms on any OCR invocation error", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: `Observed-${AlarmIds.ocrErrors}`,
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: ref(functions.ocr.functionName) }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmActions: [ref(topic.topicArn)],
    });
  });

  it("alarms on any review page invocation error", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: `Observed-${AlarmIds.reviewErrors}`,
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: ref(functions.review.functionName) }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [ref(topic.topicArn)],
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
      functions: { start: fn("S"), chunk: fn("C"), ocr: fn("O"), infer: fn("I"), merge: fn("M"), review: fn("V"), consumer: fn("R"), failedExecution: fn("F") },
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

describe("X-Ray through Powertools Tracer", () => {
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
