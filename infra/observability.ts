import { Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { metricDimensions, MetricNames, metricsNamespace, type MetricName } from "../functions/shared/metrics.ts";
import { MapLabel, OcrMapLabel } from "../statemachine/definition.ts";

/**
 * The pipeline's CloudWatch dashboard and alarms: the document workflow's executions and its Distributed Maps' child
 * executions, each function's invocations, errors, throttles and duration, llambda's own metrics (functions/shared/
 * metrics.ts: tokens, speed, durations, cost, OCR'd pages) and the dead-letter queues. docs/observability.md lists every metric and
 * alarm.
 */

export interface PipelineFunctions {
  start: lambda.IFunction;
  chunk: lambda.IFunction;
  ocr: lambda.IFunction;
  infer: lambda.IFunction;
  merge: lambda.IFunction;
  review: lambda.IFunction;
  consumer: lambda.IFunction;
  failedExecution: lambda.IFunction;
}

export interface PipelineObservabilityProps {
  stateMachine: sfn.IStateMachine;
  functions: PipelineFunctions;
  /** The inference function's timeout: its duration alarm fires near it. */
  inferTimeout: Duration;
  /** Dead-letter queues by a readable name (e.g. `uploads`, `consumer`); any message in one raises its alarm. */
  deadLetterQueues: Record<string, sqs.IQueue>;
  /** Where alarms notify when they go into ALARM. Default: nowhere (the alarms only show in the console). */
  alarmTopic?: sns.ITopic;
  /** Default `<stack name>-pipeline`. */
  dashboardName?: string;
  /** Prefix of every alarm's name. Default: the stack's name. */
  alarmNamePrefix?: string;
  /** Share of the inference timeout at which the duration alarm fires. Default 0.8. */
  inferDurationAlarmRatio?: number;
  /**
   * Percent of the Distributed Map's child executions (batches of chunks) that may fail or time out in an alarm
   * period before the map failure rate alarm fires. Default 5: half the Map's default tolerance (10 %), so the alarm
   * says "documents are losing chunks" before documents fail for it.
   */
  mapFailureRatePercent?: number;
  /** Period of the alarms and graphs. Default 5 minutes. */
  period?: Duration;
}

/** The names the alarms get after the prefix, and what `alarms` holds them under. */
export const AlarmIds = {
  failedExecutions: "workflow-failed-executions",
  inferThrottles: "infer-throttles",
  inferErrors: "infer-errors",
  inferDurationNearTimeout: "infer-duration-near-timeout",
  ocrErrors: "ocr-errors",
  reviewErrors: "review-errors",
  mapFailureRate: "map-failure-rate",
} as const;

/** The dead-letter queue alarm's name suffix for a queue name. */
export const deadLetterAlarmId = (queueName: string): string => `dead-letters-${queueName}`;

/**
 * The state machine ARN under which Step Functions publishes the Map Run child executions' metrics:
 * `<state machine ARN>/<Map label>`.
 */
export function mapRunStateMachineArn(stateMachine: sfn.IStateMachine, label: string = MapLabel): string {
  return `${stateMachine.stateMachineArn}/${label}`;
}

export class PipelineObservability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm, by its id (AlarmIds, deadLetterAlarmId). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: PipelineObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const period = props.period ?? Duration.minutes(5);
    const prefix = props.alarmNamePrefix ?? stack.stackName;
    const ratio = props.inferDurationAlarmRatio ?? 0.8;
    const mapFailureRatePercent = props.mapFailureRatePercent ?? 5;
    const { stateMachine, functions } = props;
    const sum = { statistic: cloudwatch.Stats.SUM, period };

    const alarm = (alarmId: string, alarmProps: Omit<cloudwatch.AlarmProps, "alarmName" | "treatMissingData">): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, `Alarm-${alarmId}`, {
        ...alarmProps,
        alarmName: `${prefix}-${alarmId}`,
        // No documents, no data: quiet is not an alarm.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) created.addAlarmAction(new SnsAction(props.alarmTopic));
      this.alarms[alarmId] = created;
      return created;
    };

    // -------------------------------------------------------------------------------------------------------------
    // The workflow and the Distributed Map's child executions (one per batch of chunks).
    const executions = {
      started: stateMachine.metricStarted({ ...sum, label: "Started" }),
      succeeded: stateMachine.metricSucceeded({ ...sum, label: "Succeeded" }),
      failed: stateMachine.metricFailed({ ...sum, label: "Failed" }),
      timedOut: stateMachine.metricTimedOut({ ...sum, label: "Timed out" }),
      aborted: stateMachine.metricAborted({ ...sum, label: "Aborted" }),
    };
    const childMetric = (metricName: string, label: string, mapLabel: string = MapLabel) =>
      new cloudwatch.Metric({
        namespace: "AWS/States",
        metricName,
        dimensionsMap: { StateMachineArn: mapRunStateMachineArn(stateMachine, mapLabel) },
        label,
        ...sum,
      });
    const children = {
      started: childMetric("ExecutionsStarted", "Batches started"),
      succeeded: childMetric("ExecutionsSucceeded", "Batches succeeded"),
      failed: childMetric("ExecutionsFailed", "Batches failed"),
      timedOut: childMetric("ExecutionsTimedOut", "Batches timed out"),
    };
    // The OCR Distributed Map's child executions (one per group of pages of a scanned document).
    const ocrChildren = [
      childMetric("ExecutionsStarted", "Page groups started", OcrMapLabel),
      childMetric("ExecutionsSucceeded", "Page groups succeeded", OcrMapLabel),
      childMetric("ExecutionsFailed", "Page groups failed", OcrMapLabel),
      childMetric("ExecutionsTimedOut", "Page groups timed out", OcrMapLabel),
    ];
    const childFailures = new cloudwatch.MathExpression({
      expression: "FILL(failed, 0) + FILL(timedOut, 0)",
      usingMetrics: { failed: children.failed, timedOut: children.timedOut },
      label: "Batches failed or timed out",
      period,
    });
    // Failures over batches started; a period with failures but no starts (long batches) counts them over themselves.
    const mapFailureRate = new cloudwatch.MathExpression({
      expression: "IF(failures > 0, 100 * failures / MAX([failures, FILL(started, 0)]), 0)",
      usingMetrics: { failures: childFailures, started: children.started },
      label: `${MapLabel} batch failure rate (%)`,
      period,
    });

    alarm(AlarmIds.failedExecutions, {
      alarmDescription:
        "A document workflow execution failed: its item says FAILED with the error and cause. Input errors " +
        "(DocumentInputError) end here too; other failures can be redriven once the cause is fixed " +
        "(README → Troubleshooting).",
      metric: executions.failed,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm(AlarmIds.mapFailureRate, {
      alarmDescription:
        `At least ${mapFailureRatePercent} % of the ${MapLabel} Distributed Map's child executions (batches of ` +
        "chunks) failed or timed out: documents are losing chunks (PARTIAL) or failing. Open the Map Run in the " +
        "Step Functions console.",
      metric: mapFailureRate,
      threshold: mapFailureRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // -------------------------------------------------------------------------------------------------------------
    // The functions.
    const named = Object.entries(functions) as Array<[keyof PipelineFunctions, lambda.IFunction]>;
    const perFunction = (metric: (fn: lambda.IFunction, label: string) => cloudwatch.IMetric) =>
      named.map(([name, fn]) => metric(fn, name));
    const timeoutMs = props.inferTimeout.toMilliseconds();
    const nearTimeoutMs = Math.round(timeoutMs * ratio);
    const inferMaxDuration = functions.infer.metricDuration({ statistic: cloudwatch.Stats.MAXIMUM, period, label: "infer max" });

    alarm(AlarmIds.inferThrottles, {
      alarmDescription:
        "The inference function was throttled: the Distributed Map runs more batches at once than the account's or " +
        "the function's concurrency allows. They are retried, but documents wait; lower llambda:maxConcurrency or " +
        "raise the concurrency limit.",
      metric: functions.infer.metricThrottles(sum),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm(AlarmIds.inferErrors, {
      alarmDescription:
        "An inference invocation failed as a whole (init failure, out of memory, timeout, crash); chunk errors are " +
        "results, not invocation errors. Read the function's logs.",
      metric: functions.infer.metricErrors(sum),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm(AlarmIds.inferDurationNearTimeout, {
      alarmDescription:
        `An inference invocation ran ${Math.round(ratio * 100)} % of its ${props.inferTimeout.toSeconds()} s timeout ` +
        `or more (${nearTimeoutMs / 1000} s): chunks barely finish, so some are split or fail with DeadlineExceeded. ` +
        "Use smaller chunks or batches, more memory (vCPUs), or a faster model.",
      metric: inferMaxDuration,
      threshold: nearTimeoutMs,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    alarm(AlarmIds.ocrErrors, {
      alarmDescription:
        "An OCR invocation failed as a whole (init failure, out of memory, timeout, crash); a page that cannot be " +
        "read is a result (OCR_FAILED, OCR_TIMEOUT), not an invocation error. The workflow retries it; when the " +
        "retries fail too, the page group's pages count as failed pages of their document. Read the function's logs.",
      metric: functions.ocr.metricErrors(sum),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    alarm(AlarmIds.reviewErrors, {
      alarmDescription:
        "A review page invocation failed (init failure, out of memory, timeout, crash); pages that cannot be drawn are " +
        "no error (the page then lists the fields alone). The document is not affected: its item is written and its " +
        "execution succeeds with the error in its output, but the item points to a review page that is missing. Read " +
        "the function's logs.",
      metric: functions.review.metricErrors(sum),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // -------------------------------------------------------------------------------------------------------------
    // Dead-letter queues.
    const deadLetters = Object.entries(props.deadLetterQueues).map(([name, queue]) => {
      const visible = queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period, label: name });
      alarm(deadLetterAlarmId(name), {
        alarmDescription:
          `The ${name} dead-letter queue holds messages: events that could not be handled after their retries. ` +
          "Read them, fix the cause, and redrive them (SQS console → Start DLQ redrive).",
        metric: visible,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      return visible;
    });

    // -------------------------------------------------------------------------------------------------------------
    // llambda's own metrics.
    const custom = (metricName: MetricName, statistic: string, label: string) =>
      new cloudwatch.Metric({ namespace: metricsNamespace, metricName, dimensionsMap: { ...metricDimensions }, statistic, period, label });

    const width = 8;
    const height = 6;
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width, height, ...extra });

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: props.dashboardName ?? `${stack.stackName}-pipeline`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          "# llambda pipeline\nUploads → start → document workflow (chunk → " +
          `${MapLabel} Distributed Map → infer → merge) → DynamoDB. Metrics and alarms: docs/observability.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph("Document workflow executions", Object.values(executions)),
      graph(`${MapLabel}: child executions (batches of chunks)`, Object.values(children)),
      graph(`${MapLabel}: batch failure rate (%)`, [mapFailureRate], {
        leftYAxis: { min: 0, max: 100 },
        leftAnnotations: [{ value: mapFailureRatePercent, label: "alarm" }],
      }),
    );
    this.dashboard.addWidgets(
      graph("Lambda invocations", perFunction((fn, label) => fn.metricInvocations({ ...sum, label }))),
      graph("Lambda errors", perFunction((fn, label) => fn.metricErrors({ ...sum, label }))),
      graph("Lambda throttles", perFunction((fn, label) => fn.metricThrottles({ ...sum, label }))),
    );
    this.dashboard.addWidgets(
      graph("Lambda duration (max, ms)", perFunction((fn, label) => fn.metricDuration({ statistic: cloudwatch.Stats.MAXIMUM, period, label }))),
      graph(
        "Inference duration (ms) vs timeout",
        [
          functions.infer.metricDuration({ statistic: cloudwatch.Stats.AVERAGE, period, label: "infer average" }),
          functions.infer.metricDuration({ statistic: cloudwatch.Stats.p(90), period, label: "infer p90" }),
          inferMaxDuration,
        ],
        {
          leftAnnotations: [
            { value: timeoutMs, label: "timeout", color: cloudwatch.Color.RED },
            { value: nearTimeoutMs, label: "alarm" },
          ],
        },
      ),
      graph("Model init duration (ms), one value per cold start", [
        custom(MetricNames.modelInitDuration, cloudwatch.Stats.MAXIMUM, "max"),
        custom(MetricNames.modelInitDuration, cloudwatch.Stats.SAMPLE_COUNT, "cold starts"),
      ]),
    );
    this.dashboard.addWidgets(
      graph("Tokens (sum)", [
        custom(MetricNames.chunkTokensIn, cloudwatch.Stats.SUM, "in (prompt)"),
        custom(MetricNames.chunkTokensOut, cloudwatch.Stats.SUM, "out (generated)"),
      ]),
      graph("Generation speed (tokens/s per chunk)", [
        custom(MetricNames.chunkTokensPerSecond, cloudwatch.Stats.AVERAGE, "average"),
        custom(MetricNames.chunkTokensPerSecond, cloudwatch.Stats.MINIMUM, "slowest chunk"),
      ]),
      graph("Chunk duration (ms)", [
        custom(MetricNames.chunkDuration, cloudwatch.Stats.p(50), "p50"),
        custom(MetricNames.chunkDuration, cloudwatch.Stats.p(90), "p90"),
        custom(MetricNames.chunkDuration, cloudwatch.Stats.MAXIMUM, "max"),
      ]),
    );
    this.dashboard.addWidgets(
      graph("Chunks (sum)", [
        custom(MetricNames.chunksSucceeded, cloudwatch.Stats.SUM, "succeeded"),
        custom(MetricNames.chunksFailed, cloudwatch.Stats.SUM, "failed"),
        custom(MetricNames.documentChunks, cloudwatch.Stats.SUM, "chunked"),
      ]),
      graph("Documents chunked: pages and chunking (ms)", [
        custom(MetricNames.documentPages, cloudwatch.Stats.AVERAGE, "pages per document"),
        custom(MetricNames.documentChunks, cloudwatch.Stats.AVERAGE, "chunks per document"),
      ], {
        right: [custom(MetricNames.documentChunkingDuration, cloudwatch.Stats.MAXIMUM, "chunking max (ms)")],
      }),
      graph("Cost per document (USD, estimated)", [
        custom(MetricNames.documentCostUsd, cloudwatch.Stats.AVERAGE, "average"),
        custom(MetricNames.documentCostUsd, cloudwatch.Stats.MAXIMUM, "max"),
      ], {
        right: [custom(MetricNames.documentCostUsd, cloudwatch.Stats.SUM, "total")],
      }),
    );
    this.dashboard.addWidgets(
      graph("OCR: pages (sum)", [
        custom(MetricNames.pagesOcrd, cloudwatch.Stats.SUM, "read"),
        custom(MetricNames.ocrPagesFailed, cloudwatch.Stats.SUM, "failed"),
      ]),
      graph("OCR: page duration (ms, render and recognition)", [
        custom(MetricNames.ocrPageDuration, cloudwatch.Stats.p(50), "p50"),
        custom(MetricNames.ocrPageDuration, cloudwatch.Stats.p(90), "p90"),
        custom(MetricNames.ocrPageDuration, cloudwatch.Stats.MAXIMUM, "max"),
      ]),
      graph(`${OcrMapLabel}: child executions (groups of pages)`, ocrChildren),
    );
    this.dashboard.addWidgets(
      graph("Dead-letter queues: messages visible", deadLetters),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: Object.values(this.alarms), width: 16, height }),
    );
  }
}
