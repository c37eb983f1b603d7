import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  documentCost,
  lambdaCost,
  lambdaPricePerGbSecond,
  lambdaPricePerRequest,
  stepFunctionsCost,
  stepFunctionsPricePerStateTransition,
} from "../../functions/shared/cost.ts";
import {
  alwaysOnBreakEvenDocuments,
  estimateLlambda,
  hostedDocumentCost,
  measuredTokensPerPage,
  modelDefaults,
  pagesBreakEven,
  parsePriceTable,
  throughputFromBench,
  workflowDefaults,
  workflowTransitions,
  type CostModelInputs,
} from "../../bench/cost/model.ts";
import { StateNames } from "../../statemachine/definition.ts";
import { estimateTextWidth, lineChartSvg, type ChartSeries } from "../../bench/cost/chart.ts";
import { repoRoot } from "../helpers/repo-root.ts";

const priceTable = parsePriceTable(JSON.parse(readFileSync(join(repoRoot, "bench/cost/hosted-prices.json"), "utf8")));

/** README → Performance: 2-core AMD EPYC, 4 sequences, prompt aggregate and constrained generation. */
const inputs = (overrides: Partial<CostModelInputs> = {}): CostModelInputs => ({
  pages: 10,
  tokensPerPage: measuredTokensPerPage.value,
  modelTokensPerTextToken: 1.011,
  chunkTokens: 1000,
  instructionTokens: 409,
  outputTokensPerChunk: 300,
  promptTokensPerSecond: 60.7,
  generationTokensPerSecond: 13.6,
  speedFactor: 1,
  parallelSequences: workflowDefaults.parallelSequences,
  chunksPerBatch: workflowDefaults.chunksPerBatch,
  maxConcurrency: workflowDefaults.maxConcurrency,
  coldStartShare: 1,
  inferInitSeconds: 8,
  inferMemoryMb: 10_240,
  inferEphemeralStorageMb: 1024,
  architecture: "arm64",
  chunkMemoryMb: 2048,
  chunkFixedSeconds: modelDefaults.chunkFixedSeconds.value,
  chunkSecondsPerPage: modelDefaults.chunkSecondsPerPage.value,
  mergeMemoryMb: 1024,
  mergeSeconds: 1,
  startMemoryMb: 256,
  startSeconds: 0.2,
  finalItemKb: 4,
  transitions: workflowTransitions(),
  ...overrides,
});

describe("AWS prices (functions/shared/cost.ts)", () => {
  it("prices 10,240 MB for 1 s on arm64 as 10 GB-seconds plus one request", () => {
    const cost = lambdaCost({ memoryMb: 10_240, billedDurationMs: 1000, architecture: "arm64" });
    expect(cost.gbSeconds).toBe(10);
    expect(cost.computeUsd).toBeCloseTo(10 * 0.0000133334, 15);
    expect(cost.requestUsd).toBeCloseTo(0.0000002, 15);
    expect(cost.ephemeralStorageUsd).toBe(0);
    expect(cost.totalUsd).toBeCloseTo(0.000133334 + 0.0000002, 15);
  });

  it("bills 128 MB as 0.125 GB, per millisecond, with ephemeral storage only beyond 512 MB", () => {
    const small = lambdaCost({ memoryMb: 128, billedDurationMs: 1, architecture: "x86_64", invocations: 0 });
    expect(small.gbSeconds).toBeCloseTo(0.125 * 0.001, 15);
    expect(small.totalUsd).toBeCloseTo(0.000125 * 0.0000166667, 18);
    const storage = lambdaCost({ memoryMb: 1024, billedDurationMs: 1_000_000, architecture: "arm64", ephemeralStorageMb: 1024 });
    expect(storage.ephemeralStorageUsd).toBeCloseTo(0.5 * 1000 * 0.0000000309, 15);
    expect(() => lambdaCost({ memoryMb: 1024, billedDurationMs: -1, architecture: "arm64" })).toThrow(/billedDurationMs/);
  });

  it("makes arm64 cheaper than x86_64 for the same memory and duration, by the published ratio", () => {
    const arm = lambdaCost({ memoryMb: 2048, billedDurationMs: 60_000, architecture: "arm64", invocations: 0 });
    const x86 = lambdaCost({ memoryMb: 2048, billedDurationMs: 60_000, architecture: "x86_64", invocations: 0 });
    expect(arm.totalUsd).toBeLessThan(x86.totalUsd);
    expect(x86.totalUsd / arm.totalUsd).toBeCloseTo(lambdaPricePerGbSecond.x86_64 / lambdaPricePerGbSecond.arm64, 10);
  });

  it("prices Standard state transitions at $0.025 per 1,000", () => {
    expect(stepFunctionsCost(1000)).toBeCloseTo(0.025, 12);
    expect(stepFunctionsCost(7)).toBeCloseTo(7 * stepFunctionsPricePerStateTransition, 15);
  });

  it("sums a document's measured parts into a total, by part", () => {
    const cost = documentCost({
      functions: {
        infer: { memoryMb: 10_240, billedDurationMs: 120_000, architecture: "arm64", invocations: 2, ephemeralStorageMb: 1024 },
        chunk: { memoryMb: 2048, billedDurationMs: 800, architecture: "arm64" },
      },
      stateTransitions: 13,
      requests: { s3Puts: 3, s3Gets: 4, dynamoDbWriteUnits: 6, dynamoDbReadUnits: 0, sqsRequests: 3 },
    });
    expect(cost.currency).toBe("USD");
    expect(Object.keys(cost.lambda)).toEqual(["infer", "chunk"]);
    expect(cost.lambda.infer!.requestUsd).toBeCloseTo(2 * lambdaPricePerRequest, 15);
    expect(cost.requests.s3Usd).toBeCloseTo(3 * 0.000005 + 4 * 0.0000004, 15);
    expect(cost.requests.dynamoDbUsd).toBeCloseTo(6 * 0.000000625, 15);
    const parts = cost.lambda.infer!.totalUsd + cost.lambda.chunk!.totalUsd + cost.stepFunctions.usd + cost.requests.totalUsd;
    expect(cost.total).toBeCloseTo(parts, 15);
    expect(cost.total).toBeGreaterThan(cost.lambda.infer!.computeUsd);
  });
});

describe("cost model (bench/cost/model.ts)", () => {
  it("counts state transitions on the real workflow: a parent happy path with the Map, and each batch's child", () => {
    const transitions = workflowTransitions();
    expect(transitions.parentStates[0]).toBe(StateNames.markProcessing);
    expect(transitions.parentStates).toContain(StateNames.extract);
    expect(transitions.parentStates.at(-1)).toBe(StateNames.succeeded);
    expect(transitions.batchStates).toEqual(expect.arrayContaining([StateNames.inferBatch, StateNames.batchExtracted]));
    expect(transitions.fixed).toBe(transitions.parentStates.length);
    expect(transitions.perBatch).toBe(transitions.batchStates.length);
  });

  it("derives chunks, batches and transitions from the document's size", () => {
    const { shape, cost } = estimateLlambda(inputs({ pages: 100 }));
    expect(shape.textTokens).toBe(100 * measuredTokensPerPage.value);
    expect(shape.chunks).toBeCloseTo(shape.textTokens / 1000, 10);
    expect(shape.batches).toBeCloseTo(shape.chunks / 4, 10);
    const transitions = workflowTransitions();
    expect(cost.stepFunctions.transitions).toBeCloseTo(transitions.fixed + shape.batches * transitions.perBatch, 10);
    expect(cost.lambda.infer!.invocations).toBeCloseTo(shape.batches, 10);
    // Inference time is the measured speeds applied to the tokens, plus the cold containers' init.
    const expectedSeconds = shape.promptTokens / 60.7 + shape.outputTokens / 13.6 + shape.coldContainers * 8;
    expect(shape.inferSeconds).toBeCloseTo(expectedSeconds, 8);
    expect(cost.lambda.infer!.gbSeconds).toBeCloseTo(10 * expectedSeconds, 6);
  });

  it("grows with pages", () => {
    const sizes = [1, 2, 3, 5, 10, 30, 100, 150, 300, 1000, 2000];
    const totals = sizes.map((pages) => estimateLlambda(inputs({ pages })).cost.total);
    for (let i = 1; i < totals.length; i++) expect(totals[i], `${sizes[i]} pages`).toBeGreaterThan(totals[i - 1]!);
  });

  it("costs less with a faster machine, warm containers or fewer answer tokens", () => {
    const base = estimateLlambda(inputs()).cost.total;
    expect(estimateLlambda(inputs({ speedFactor: 3 })).cost.total).toBeLessThan(base);
    expect(estimateLlambda(inputs({ coldStartShare: 0 })).cost.total).toBeLessThan(base);
    expect(estimateLlambda(inputs({ outputTokensPerChunk: 100 })).cost.total).toBeLessThan(base);
  });

  it("reports a page break-even where both costs are equal, with llambda cheaper on the side it says", () => {
    const haiku45 = { inputPerMillionTokens: 1, outputPerMillionTokens: 5 }; // Claude Haiku 4.5's list price
    const at = (pages: number) => estimateLlambda(inputs({ pages, speedFactor: 3 }));
    const llambda = (pages: number) => at(pages).cost.total;
    const hosted = (pages: number) => hostedDocumentCost(haiku45, at(pages).shape);
    const breakEven = pagesBreakEven(llambda, hosted);
    expect(breakEven.crossings.length).toBeGreaterThan(0);
    const crossing = breakEven.crossings[0]!;
    expect(Math.abs(llambda(crossing) - hosted(crossing)) / hosted(crossing)).toBeLessThan(1e-9);
    expect(breakEven.llambdaCheaper).toBe("above");
    expect(llambda(crossing + 1)).toBeLessThan(hosted(crossing + 1));
    expect(llambda(Math.max(1, crossing - 1))).toBeGreaterThan(hosted(Math.max(1, crossing - 1)));
  });

  it("says never, with the reason, when llambda costs more at every size", () => {
    const breakEven = pagesBreakEven((pages) => 0.01 + 0.002 * pages, (pages) => 0.001 * pages, 2000);
    expect(breakEven).toMatchObject({ crossings: [], llambdaCheaper: "never" });
    expect(breakEven.reason).toMatch(/costs more at every size from 1 to 2000 pages/);
  });

  it("puts the always-on break-even where monthly costs are equal", () => {
    const documents = alwaysOnBreakEvenDocuments(734.38, 0.0344, 0.13);
    expect(documents * 0.0344 + 0.13).toBeCloseTo(734.38, 8);
  });

  it("reads the bench's aggregate prompt speed and constrained generation at the batch's sequences", () => {
    const report = {
      bench: "inference",
      model: "m.gguf",
      cpu: "AMD EPYC",
      cores: 2,
      results: [
        { threads: 1, pp: 33, tg: 14, parallel: [], extraction: [] },
        {
          threads: 2,
          pp: 56.7,
          tg: 19.3,
          parallel: [
            { sequences: 1, promptTokensPerSecond: 59.2, generationTokensPerSecond: 15.2 },
            { sequences: 4, promptTokensPerSecond: 60.7, generationTokensPerSecond: 17.7 },
            { sequences: 8, promptTokensPerSecond: 59.7, generationTokensPerSecond: 20.5 },
          ],
          extraction: [{ sequences: 4, constrainedGenerationTokensPerSecond: 13.6 }],
        },
      ],
    };
    expect(throughputFromBench(report, 4)).toMatchObject({ promptTokensPerSecond: 60.7, generationTokensPerSecond: 13.6 });
    // Fewer sequences than the bench has rows for: the nearest below; no extraction row: free generation.
    expect(throughputFromBench(report, 2)).toMatchObject({ promptTokensPerSecond: 59.2, generationTokensPerSecond: 15.2 });
    expect(() => throughputFromBench({ bench: "chunker" }, 4)).toThrow(/npm run -s bench -- inference/);
  });

  it("ships a dated price table whose every entry names its source and whether it was verified", () => {
    expect(priceTable.hostedModels.length).toBeGreaterThanOrEqual(5);
    expect(priceTable.alwaysOnInstances.length).toBeGreaterThanOrEqual(1);
    for (const entry of [...priceTable.hostedModels, ...priceTable.alwaysOnInstances]) {
      expect(entry.checkedOn, entry.id).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(entry.source, entry.id).toMatch(/^https:\/\//);
      expect(typeof entry.verified, entry.id).toBe("boolean");
      if (!entry.verified) expect(entry.note, entry.id).toBeTruthy();
    }
    const broken = structuredClone(JSON.parse(readFileSync(join(repoRoot, "bench/cost/hosted-prices.json"), "utf8")));
    delete broken.hostedModels[0].verified;
    expect(() => parsePriceTable(broken)).toThrow(/"verified"/);
  });
});

/** Text widths from a real font engine when one is installed (@napi-rs/canvas, which pdf.js brings along). */
async function fontMeasurer(): Promise<((text: string, bold: boolean) => number) | undefined> {
  try {
    const { createCanvas } = await import("@napi-rs/canvas");
    const context = createCanvas(10, 10).getContext("2d");
    return (text, bold) => {
      context.font = `${bold ? "bold " : ""}12px Helvetica, Arial, sans-serif`;
      return context.measureText(text).width;
    };
  } catch {
    return undefined;
  }
}

const unescapeXml = (text: string) => text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

/** The chart's geometry, read back from its SVG. */
function chartGeometry(svg: string) {
  const [, width, height] = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
  const [, left, top, plotWidth, plotHeight] = /<clipPath id="plot-area"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg)!.map(Number);
  const paths = [...svg.matchAll(/<path data-series="([^"]+)" d="([^"]+)"/g)].map(([, label, d]) => ({
    label: unescapeXml(label!),
    points: [...d!.matchAll(/[ML]([\d.-]+),([\d.-]+)/g)].map(([, x, y]) => ({ x: Number(x), y: Number(y) })),
  }));
  const legend = [...svg.matchAll(/<text class="legend" data-for="([^"]+)" x="([\d.]+)" y="([\d.]+)"[^>]*?( font-weight="bold")?>([^<]*)<\/text>/g)].map(
    ([, series, x, y, bold, text]) => ({ series: unescapeXml(series!), x: Number(x), y: Number(y), bold: Boolean(bold), text: unescapeXml(text!) }),
  );
  return { width: width!, height: height!, plot: { left: left!, top: top!, right: left! + plotWidth!, bottom: top! + plotHeight! }, paths, legend };
}

describe("cost chart (bench/cost/chart.ts)", () => {
  const xs = Array.from({ length: 21 }, (_, i) => 1 + i);
  const series: ChartSeries[] = [
    { label: "llambda (llama-3.2-1b-instruct-q4_k_m, Lambda arm64 10,240 MB)", emphasis: true, points: xs.map((x) => ({ x, y: 0.0034 * x })) },
    { label: "Amazon Bedrock Llama 3.1 8B Instruct (unverified price)", points: xs.map((x) => ({ x, y: 0.0002 * x })) },
    { label: "Wide Model WWW MMM (unverified price)", points: xs.map((x) => ({ x, y: 0.001 * x })) },
    { label: "ec2-g5.xlarge at 1,000 docs/month: $0.7344/doc", dashed: true, outsideScale: true, points: xs.map((x) => ({ x, y: 0.7344 })) },
    { label: "gpu at 100,000 docs/month: $0.0073/doc", dashed: true, outsideScale: true, points: xs.map((x) => ({ x, y: 0.0073 })) },
  ];
  const svg = lineChartSvg({ title: "Cost", subtitle: "a subtitle", xLabel: "pages", yLabel: "USD", series, marker: { x: 10, label: "10 pages" } });
  const chart = chartGeometry(svg);

  it("draws only lines that show inside the plot, and lists a reference line above the range as above the chart", () => {
    for (const path of chart.paths) {
      const inside = path.points.some((p) => p.x >= chart.plot.left && p.x <= chart.plot.right && p.y >= chart.plot.top && p.y <= chart.plot.bottom);
      expect(inside, path.label).toBe(true);
    }
    expect(chart.paths.map((path) => path.label)).not.toContain(series[3]!.label);
    // A reference line within the range is drawn like the others.
    expect(chart.paths.map((path) => path.label)).toContain(series[4]!.label);
    const ec2 = chart.legend.filter((line) => line.series === series[3]!.label).map((line) => line.text).join(" ");
    expect(ec2).toBe(`above the chart: ${series[3]!.label}`);
    for (const { label } of series) expect(chart.legend.filter((line) => line.series === label).map((line) => line.text).join(" "), label).toContain(label);
  });

  it("keeps every legend line inside the image, by its estimate and by a real font's measure", async () => {
    for (const line of chart.legend) {
      expect(line.x + estimateTextWidth(line.text, 12, line.bold), line.text).toBeLessThanOrEqual(chart.width);
      expect(line.y + 8, line.text).toBeLessThanOrEqual(chart.height);
    }
    const measure = await fontMeasurer();
    if (!measure) {
      console.warn("cost chart: @napi-rs/canvas is not installed; legend widths checked against the estimate only");
      return;
    }
    for (const line of chart.legend) {
      const measured = measure(line.text, line.bold);
      expect(measured, `${line.text}: the estimate must not be smaller than a real font`).toBeLessThanOrEqual(estimateTextWidth(line.text, 12, line.bold));
      expect(line.x + measured, line.text).toBeLessThanOrEqual(chart.width);
    }
  });
});

describe("npm run cost (bench/cost/run.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "llambda-cost-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) =>
    promisify(execFile)("npx", ["tsx", "bench/cost/run.ts", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });

  it("estimates from explicit throughput, prints the break-evens and writes an SVG with a line per option", async () => {
    const chart = join(dir, "chart.svg");
    const { stdout } = await run(["--pages", "10", "--prompt-tps", "60.7", "--gen-tps", "13.6", "--chart", chart]);
    expect(stdout).toMatch(/total\s+\$0\.\d+/);
    expect(stdout).toMatch(/break-even/);
    expect(stdout).toMatch(/cheaper than llambda above [\d,]+ documents\/month/);
    expect(stdout).toContain(`Chart: ${chart}`);
    for (const model of priceTable.hostedModels) expect(stdout).toContain(model.label);
    const svg = readFileSync(chart, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const series = [...svg.matchAll(/<path data-series="([^"]+)" d="M[^"]+"/g)].map((match) => match[1]);
    expect(series).toHaveLength(1 + priceTable.hostedModels.length);
    expect(series.some((label) => label!.startsWith("llambda"))).toBe(true);
    expect(svg).toContain("document size (pages)");
    expect(svg).toContain("cost per document (USD)");
  });

  it("reads a bench report, and its JSON break-evens are points of equal cost", async () => {
    const bench = join(dir, "bench.json");
    writeFileSync(
      bench,
      JSON.stringify({
        bench: "inference",
        model: "random-llama-3.2-1b-q4_0.gguf",
        cpu: "AMD EPYC",
        cores: 2,
        results: [{ threads: 2, pp: 56.7, tg: 19.3, parallel: [{ sequences: 4, promptTokensPerSecond: 60.7, generationTokensPerSecond: 17.7 }], extraction: [{ sequences: 4, constrainedGenerationTokensPerSecond: 13.6 }] }],
      }),
    );
    // A price table of our own, so the test does not depend on today's prices: one model dear enough to cross.
    const prices = join(dir, "prices.json");
    const table = {
      checkedOn: "2026-11-28",
      currency: "USD",
      hostedModels: [
        { id: "dear", label: "Dear model", provider: "test", inputPerMillionTokens: 1, outputPerMillionTokens: 5, checkedOn: "2026-11-28", source: "https://example.com/dear", verified: true },
        { id: "cheap", label: "Cheap model", provider: "test", inputPerMillionTokens: 0.01, outputPerMillionTokens: 0.01, checkedOn: "2026-11-28", source: "https://example.com/cheap", verified: false, note: "test" },
      ],
      alwaysOnInstances: [{ id: "gpu", label: "GPU", hourlyUsd: 1, checkedOn: "2026-11-28", source: "https://example.com/gpu", verified: true }],
    };
    writeFileSync(prices, JSON.stringify(table));
    const { stdout } = await run(["--pages", "25", "--bench", bench, "--model", "llama-3.2-1b-instruct-q4_k_m", "--speed-factor", "3", "--docs-per-month", "1000", "--prices", prices, "--json", "--chart", join(dir, "b.svg")]);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ model: "llama-3.2-1b-instruct-q4_k_m", modelSource: "--model", measuredModel: "random-llama-3.2-1b-q4_0.gguf" });
    expect(report.modelNote).toMatch(/measured on random-llama-3\.2-1b-q4_0\.gguf, priced as llama-3\.2-1b-instruct-q4_k_m/);
    expect(report.throughput).toMatchObject({ promptTokensPerSecond: 60.7, generationTokensPerSecond: 13.6 });
    expect(report.cost.currency).toBe("USD");
    expect(report.monthly.llambda).toBeCloseTo(1000 * report.cost.total + report.idleMonthlyUsd, 8);
    const [instance] = report.alwaysOn;
    expect(instance.breakEvenDocumentsPerMonth * report.cost.total + report.idleMonthlyUsd).toBeCloseTo(instance.monthlyUsd, 6);
    expect(report.unverifiedPrices).toEqual(["cheap"]);
    const byId = Object.fromEntries(report.hosted.map((h: { id: string }) => [h.id, h]));
    expect(byId.cheap.breakEvenPages).toMatchObject({ crossings: [], llambdaCheaper: "never" });
    expect(byId.dear.breakEvenPages.crossings.length).toBeGreaterThan(0);
    for (const h of [byId.dear]) {
      const price = table.hostedModels.find((model) => model.id === h.id)!;
      const pages = h.breakEvenPages.crossings[0];
      const at = estimateLlambda(inputs({ pages, speedFactor: 3, outputTokensPerChunk: report.inputs.outputTokensPerChunk, modelTokensPerTextToken: report.inputs.modelTokensPerTextToken, instructionTokens: report.inputs.instructionTokens }));
      expect(Math.abs(at.cost.total - hostedDocumentCost(price, at.shape)) / at.cost.total, h.id).toBeLessThan(1e-6);
    }
  });

  const benchReport = (model: string) => ({
    bench: "inference",
    model,
    cpu: "AMD EPYC",
    cores: 2,
    results: [{ threads: 2, pp: 56.7, tg: 19.3, parallel: [{ sequences: 4, promptTokensPerSecond: 60.7, generationTokensPerSecond: 17.7 }], extraction: [{ sequences: 4, constrainedGenerationTokensPerSecond: 13.6 }] }],
  });

  it("refuses to price a bench report of the tiny model as another model unless told which, and then says so", async () => {
    const bench = join(dir, "tiny-bench.json");
    writeFileSync(bench, JSON.stringify(benchReport("tiny.gguf")));
    const refused = await run(["--pages", "10", "--bench", bench, "--chart", join(dir, "tiny.svg")]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/measured tiny\.gguf, which is not a model of models\/models\.json/);
    expect(refused?.stderr).toContain("--model <id>");
    const { stdout, stderr } = await run(["--pages", "10", "--bench", bench, "--model", "qwen2.5-1.5b-instruct-q4_k_m", "--chart", join(dir, "tiny.svg")]);
    expect(stdout).toMatch(/priced as qwen2\.5-1\.5b-instruct-q4_k_m \(--model\)/);
    expect(stdout).toMatch(/NOTE: throughput measured on tiny\.gguf, priced as qwen2\.5-1\.5b-instruct-q4_k_m/);
    expect(stderr).toMatch(/throughput measured on tiny\.gguf/);
  });

  it("prices the model a bench report measured when it is a pulled model of the manifest", async () => {
    const bench = join(dir, "llama-bench.json");
    writeFileSync(bench, JSON.stringify(benchReport("llama-3.2-1b-instruct-q4_k_m.gguf")));
    const { stdout } = await run(["--pages", "10", "--bench", bench, "--json", "--chart", join(dir, "llama.svg")]);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ model: "llama-3.2-1b-instruct-q4_k_m", modelSource: "the model the bench report measured" });
    expect(report.modelNote).toBeUndefined();
  });

  it("refuses without throughput, naming the bench command", async () => {
    const failure = await run(["--pages", "10", "--chart", join(dir, "none.svg")]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("npm run -s bench -- inference --model <gguf> --json");
    expect(failure?.stderr).toContain("--prompt-tps");
  });

  it("refuses a missing --pages and an unknown model with the usage", async () => {
    const noPages = await run(["--prompt-tps", "60", "--gen-tps", "13"]).catch((error: { code: number; stderr: string }) => error);
    expect(noPages).toMatchObject({ code: 2 });
    expect((noPages as { stderr: string }).stderr).toMatch(/--pages is required[\s\S]*Usage: npm run cost/);
    const unknown = await run(["--pages", "3", "--model", "nope", "--prompt-tps", "60", "--gen-tps", "13"]).catch((error: { code: number; stderr: string }) => error);
    expect((unknown as { stderr: string }).stderr).toMatch(/Unknown model id "nope"/);
  });
});
