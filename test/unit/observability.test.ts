import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { functionSpecs } from "../../functions/catalogue.ts";
import { extractBatch, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import { parseModelAnswer } from "../../functions/infer/model-output.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
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
import { AlarmIds, deadLetterAlarmId } from "../../infra/observability.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { chunkItem } from "../helpers/chunk-items.ts";

/**
 * The metrics the handlers record (the same names, namespace and dimensions as infra/observability.ts graphs and alarms
 * on), the invocation on every log line, X-Ray on the SDK clients, and docs/observability.md. The dashboard and alarms
 * on a stack, and the tracer in the bundles, are in test/stack/observability.test.ts.
 */

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

const chunk = (index: number, text: string): ChunkItem => chunkItem({ index, text });

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

  it("keeps a model answer that may quote the document out of WARN lines and out of the failure's cause", async () => {
    const written = captureOutput();
    // The error the inference engine raises for an answer that is not JSON and quotes the document.
    const refusal = (() => {
      try {
        return parseModelAnswer(`{"title": ${secret}}`, JSON.parse, getExtractionSchema("generic"));
      } catch (error) {
        return error as Error;
      }
    })();
    expect(refusal).toBeInstanceOf(ModelOutputError);
    const engine: ChunkExtractor = { extractAll: async () => [{ ok: false, error: refusal as Error }] };
    const output = await extractBatch({ Items: [chunk(3, secret)] }, { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 } });
    expect(output.failed[0]).toMatchObject({ error: "ModelOutputError", cause: expect.stringMatching(/^The model's answer \(\d+ characters\) is not JSON$/) });
    const lines = written.join("").split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "WARN", message: "Chunk failed", error: "ModelOutputError", errorMessage: output.failed[0]!.cause, chunk: 3, document: "doc-1" }),
    );
    expect(written.join("")).not.toContain("Quentin");

    // At DEBUG the parser's message, with the answer, is there for whoever debugs the model.
    const level = logger.getLevelName();
    logger.setLogLevel("DEBUG");
    try {
      written.length = 0;
      await extractBatch({ Items: [chunk(3, secret)] }, { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 } });
      const debug = written.join("").split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(debug).toContainEqual(expect.objectContaining({ level: "DEBUG", chunk: 3, detail: expect.stringContaining("Quentin") }));
    } finally {
      logger.setLogLevel(level);
    }
  });
});

describe("the invocation on every log line", () => {
  it("every function's handler is made by the one invocation wrapper, which adds the Lambda context first", () => {
    expect(functionSpecs).toHaveLength(8);
    for (const spec of functionSpecs) {
      const source = readFileSync(join(repoRoot, spec.factory), "utf8");
      expect(source, `${spec.factory} wraps its handler`).toMatch(/return invocationHandler\(/);
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
