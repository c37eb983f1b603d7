import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  documentCost,
  lambdaCost,
  lambdaPricePerGbSecond,
  lambdaPricePerRequest,
  stepFunctionsCost,
  stepFunctionsPricePerStateTransition,
} from "../../functions/shared/cost.ts";
import { alwaysOnBreakEvenDocuments, estimateLlambda, hostedDocumentCost, measuredTokensPerPage, ocrDefaults, ocrPageCost, ocrTransitionsPerInvocation, pagesBreakEven, parsePriceTable, throughputFromBench, workflowTransitions } from "../../bench/cost/model.ts";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import { buildDocumentWorkflow, StateNames } from "../../statemachine/definition.ts";
import { estimateTextWidth, lineChartSvg, type ChartSeries } from "../../bench/cost/chart.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { inputs, priceTable } from "../helpers/cost-inputs.ts";


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
      if (!entry.verified) expect(entry.note, entry.id).toMatch(/\w/);
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

describe("OCR cost per scanned page (bench/cost/model.ts)", () => {
  const page = { memoryMb: 3584, secondsPerPage: 1.5, pagesPerInvocation: 8, architecture: "arm64" as const };

  it("prices the OCR function's time at its memory, its request, the page's S3 traffic and its share of the Map's transitions", () => {
    const cost = ocrPageCost(page);
    expect(cost.gbSeconds).toBeCloseTo(3.5 * 1.5, 10);
    // 5.25 GB-s at the arm64 price, and an eighth of a request.
    expect(cost.lambdaUsd).toBeCloseTo(5.25 * 0.0000133334 + 0.2 / 1_000_000 / 8, 12);
    // One PUT (the page's result), an eighth of a GET (the upload, once per invocation).
    expect(cost.s3Usd).toBeCloseTo(0.005 / 1000 + 0.0004 / 1000 / 8, 12);
    expect(cost.stepFunctionsUsd).toBeCloseTo((3 / 8) * (0.025 / 1000), 12);
    expect(cost.totalUsd).toBeCloseTo(cost.lambdaUsd + cost.s3Usd + cost.stepFunctionsUsd, 14);
    // Twice the seconds per page, about twice the cost.
    expect(ocrPageCost({ ...page, secondsPerPage: 3 }).lambdaUsd).toBeGreaterThan(1.9 * cost.lambdaUsd);
    expect(() => ocrPageCost({ ...page, secondsPerPage: 0 })).toThrow(/secondsPerPage/);
  });

  it("uses the deployed memory, and counts the OCR Map's child states on the definition", () => {
    expect(ocrDefaults.memoryMb.value).toBe(FunctionCatalogue.ocr.memoryMb);
    expect(ocrDefaults.secondsPerPage.source).toMatch(/^estimate: /);
    const definition = buildDocumentWorkflow({
      chunkFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:chunk",
      ocrFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:ocr",
      inferFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:infer",
      mergeFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:merge",
      reviewFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:review",
      tableName: "t",
      bucketName: "b",
    });
    const child = (definition.States[StateNames.ocr]!.ItemProcessor as { States: Record<string, unknown> }).States;
    expect(Object.keys(child)).toHaveLength(ocrTransitionsPerInvocation);
  });
});

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
