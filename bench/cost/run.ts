/**
 * `npm run cost -- --pages <n> [--model <id>] (--bench <file.json> | --prompt-tps <t/s> --gen-tps <t/s>) [options]`:
 * what one document costs on llambda, estimated from measured inference throughput, beside what hosted models charge
 * for the same tokens and an always-on GPU instance, with the break-even points and an SVG chart of cost against
 * document size. docs/cost.md explains the model.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { LimitDefaults } from "../../functions/chunk/limits.ts";
import { awsPricesCheckedOn, awsPriceRegion } from "../../functions/shared/cost.ts";
import { defaultModelId, getModel, listModels, UnknownModelError, type ModelEntry } from "../../models/manifest.ts";
import { lineChartSvg, type ChartSeries } from "./chart.ts";
import {
  alwaysOnBreakEvenDocuments,
  estimateLlambda,
  formatUsd,
  hostedDocumentCost,
  hoursPerMonth,
  instanceMonthlyCost,
  manifestModelOfFile,
  llambdaIdleMonthlyCost,
  measuredTokensPerPage,
  modelDefaults,
  modelTokenDefaults,
  pagesBreakEven,
  parsePriceTable,
  throughputFromBench,
  workflowDefaults,
  workflowTransitions,
  type CostModelInputs,
  type PagesBreakEven,
  type Sourced,
  type Throughput,
} from "./model.ts";

const defaultPricesPath = join(import.meta.dirname, "hosted-prices.json");

const usage = `Usage: npm run cost -- --pages <n> (--bench <file.json> | --prompt-tps <t/s> --gen-tps <t/s>) [options]

Estimates what one document costs on llambda from measured inference throughput, beside hosted models' prices for
the same tokens (bench/cost/hosted-prices.json) and an always-on GPU instance, with break-even points, and writes an
SVG chart of cost per document against pages.

Throughput (required, one of):
  --bench <file.json>        output of: npm run -s bench -- inference --model <gguf> --json > bench.json
  --prompt-tps <t/s>         aggregate prompt tokens/s over the batch's parallel sequences (with --gen-tps)
  --gen-tps <t/s>            aggregate grammar-constrained generation tokens/s (with --prompt-tps)

Options:
  --pages <n>                document size in pages (required)
  --model <id>               model of models/models.json (default ${defaultModelId}): tokenizer ratio, instructions
  --tokens-per-page <n>      cl100k tokens per page (default ${measuredTokensPerPage.value}, measured on the shared corpus)
  --chunk-tokens <n>         tokens per chunk (default ${modelDefaults.chunkTokens.value})
  --output-tokens <n>        answer tokens per chunk (default ${modelDefaults.outputTokensPerChunk.value}, assumed)
  --init-seconds <s>         cold start of an inference container, billed (default ${modelDefaults.inferInitSeconds.value}, assumed)
  --cold-start-share <0..1>  share of a document's inference containers that start cold (default 1)
  --speed-factor <x>         Lambda's speed relative to the benchmarked machine (default 1)
  --infer-memory-mb <mb>     inference memory (default ${modelDefaults.inferMemoryMb.value}); vCPUs follow it: adjust --speed-factor
  --docs-per-month <n>       also compare monthly costs at this volume
  --chart <out.svg>          chart path (default cost-chart.svg)
  --prices <file.json>       hosted and instance price table (default bench/cost/hosted-prices.json)
  --json                     one JSON document on stdout instead of the text report`;

const noThroughput = `No throughput given: the estimate is built on measured inference speed, and there is no figure measured on
Lambda to default to. Measure it (on an arm64 machine like Lambda's if you can), then pass the report:

  npm run -s bench -- inference --model <gguf> --json > bench.json
  npm run cost -- --pages <n> --bench bench.json

or pass --prompt-tps <t/s> --gen-tps <t/s>. docs/performance.md has figures measured on a 2-core AMD EPYC VM for a
Llama 3.2 1B Q4_0-shaped model: --prompt-tps 60.7 --gen-tps 13.6 (4 sequences; prompt aggregate, constrained
generation). They are that machine's, not Lambda's.`;

function unknownBenchModel(benchFile: string, measuredModel: string | undefined): string {
  return (
    `--bench ${benchFile} measured ${measuredModel ?? "an unnamed model"}, which is not a model of models/models.json (the tiny ` +
    `test model, a random-weight stand-in or a file of your own), so there is no model to price.\n` +
    `Pass --model <id> to price that throughput as one of: ${listModels().map((entry) => entry.id).join(", ")}.\n` +
    `A random-weight file with a real model's shapes runs at that model's speed (random-llama-3.2-1b-*.gguf: ` +
    `--model llama-3.2-1b-instruct-q4_k_m); the tiny test model's speed says nothing about any real model.`
  );
}

class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Options {
  pages: number;
  model: ModelEntry;
  /** How the priced model was chosen, and a warning when it is not the model the bench report measured. */
  modelSource: string;
  modelNote?: string;
  measuredModel?: string;
  throughput: Throughput;
  inputs: CostModelInputs;
  sources: Record<string, string>;
  docsPerMonth?: number;
  chartPath: string;
  pricesPath: string;
  json: boolean;
}

function numberOption(values: Record<string, unknown>, name: string, check: (n: number) => boolean, what: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return value;
}

const positive = (n: number) => n > 0;

function parseOptions(argv: string[]): Options | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      pages: { type: "string" },
      model: { type: "string" },
      bench: { type: "string" },
      "prompt-tps": { type: "string" },
      "gen-tps": { type: "string" },
      "tokens-per-page": { type: "string" },
      "chunk-tokens": { type: "string" },
      "output-tokens": { type: "string" },
      "init-seconds": { type: "string" },
      "cold-start-share": { type: "string" },
      "speed-factor": { type: "string" },
      "infer-memory-mb": { type: "string" },
      "docs-per-month": { type: "string" },
      chart: { type: "string" },
      prices: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const pages = numberOption(values, "pages", (n) => n > 0 && n <= LimitDefaults.maxPages, `a number of pages from 1 to ${LimitDefaults.maxPages}`);
  if (pages === undefined) throw new UsageError("--pages is required");
  let chosen: ModelEntry | undefined;
  try {
    chosen = values.model === undefined ? undefined : getModel(values.model);
  } catch (error) {
    if (error instanceof UnknownModelError) throw new UsageError(error.message);
    throw error;
  }

  const sources: Record<string, string> = {};
  const pick = (name: string, key: string, fallback: Sourced<number>, check: (n: number) => boolean, what: string): number => {
    const given = numberOption(values, name, check, what);
    sources[key] = given === undefined ? fallback.source : `--${name}`;
    return given ?? fallback.value;
  };

  const parallelSequences = workflowDefaults.parallelSequences;
  const promptTps = numberOption(values, "prompt-tps", positive, "a positive number of tokens/s");
  const genTps = numberOption(values, "gen-tps", positive, "a positive number of tokens/s");
  let benched: Throughput | undefined;
  let measuredModel: string | undefined;
  if (values.bench !== undefined) {
    let report: unknown;
    try {
      report = JSON.parse(readFileSync(resolve(values.bench), "utf8"));
    } catch (error) {
      throw new UsageError(`Cannot read --bench ${values.bench}: ${(error as Error).message}`);
    }
    try {
      benched = throughputFromBench(report, parallelSequences);
    } catch (error) {
      throw new UsageError(`--bench ${values.bench}: ${(error as Error).message}`);
    }
    measuredModel = (report as { model?: unknown }).model === undefined ? undefined : String((report as { model?: unknown }).model);
  }
  // Which model is priced (its tokenizer ratio, instructions and image size): the one asked for, else the one the
  // bench report measured; a report of a file outside the manifest (the tiny test model, a random stand-in) names none.
  const measuredEntry = measuredModel === undefined ? undefined : manifestModelOfFile(measuredModel, listModels());
  if (chosen === undefined && values.bench !== undefined && measuredEntry === undefined) {
    throw new UsageError(unknownBenchModel(values.bench, measuredModel));
  }
  const model = chosen ?? measuredEntry ?? getModel(defaultModelId);
  const modelSource =
    values.model !== undefined ? "--model" : measuredEntry !== undefined ? "the model the bench report measured" : "the default model; --model to change";
  const modelNote =
    measuredModel !== undefined && measuredEntry?.id !== model.id
      ? `throughput measured on ${measuredModel}, priced as ${model.id} (--model): its tokenizer, instructions and image size, that file's speed`
      : undefined;
  const promptTokensPerSecond = promptTps ?? benched?.promptTokensPerSecond;
  const generationTokensPerSecond = genTps ?? benched?.generationTokensPerSecond;
  if (promptTokensPerSecond === undefined || generationTokensPerSecond === undefined) {
    throw new UsageError(promptTps !== undefined || genTps !== undefined ? "Give both --prompt-tps and --gen-tps, or --bench <file.json>." : noThroughput);
  }
  const throughputSource = [
    promptTps !== undefined || genTps !== undefined ? `${promptTps !== undefined ? "--prompt-tps" : ""}${promptTps !== undefined && genTps !== undefined ? ", " : ""}${genTps !== undefined ? "--gen-tps" : ""}` : "",
    benched?.source ?? "",
  ].filter(Boolean).join("; ");
  const throughput: Throughput = { promptTokensPerSecond, generationTokensPerSecond, source: throughputSource };

  const perModel = modelTokenDefaults[model.id] ?? {
    modelTokensPerTextToken: { value: 1, source: `assumed: no tokenizer measurement for ${model.id}` },
    instructionTokens: { value: 409, source: `assumed: no measurement for ${model.id}; Qwen2.5's generic-schema overhead` },
  };
  const transitions = workflowTransitions();
  sources.transitions = `statemachine/definition.ts: ${transitions.parentStates.length} states on the parent's happy path, ${transitions.batchStates.length} per batch`;
  const inputs: CostModelInputs = {
    pages,
    tokensPerPage: pick("tokens-per-page", "tokensPerPage", measuredTokensPerPage, positive, "a positive number"),
    modelTokensPerTextToken: perModel.modelTokensPerTextToken.value,
    chunkTokens: pick("chunk-tokens", "chunkTokens", modelDefaults.chunkTokens, (n) => Number.isInteger(n) && n >= 16, "an integer >= 16"),
    instructionTokens: perModel.instructionTokens.value,
    outputTokensPerChunk: pick("output-tokens", "outputTokensPerChunk", modelDefaults.outputTokensPerChunk, (n) => n >= 0, "a number >= 0"),
    promptTokensPerSecond,
    generationTokensPerSecond,
    speedFactor: pick("speed-factor", "speedFactor", modelDefaults.speedFactor, positive, "a positive number"),
    parallelSequences,
    chunksPerBatch: workflowDefaults.chunksPerBatch,
    maxConcurrency: workflowDefaults.maxConcurrency,
    coldStartShare: pick("cold-start-share", "coldStartShare", modelDefaults.coldStartShare, (n) => n >= 0 && n <= 1, "a share from 0 to 1"),
    inferInitSeconds: pick("init-seconds", "inferInitSeconds", modelDefaults.inferInitSeconds, (n) => n >= 0, "a number >= 0"),
    inferMemoryMb: pick("infer-memory-mb", "inferMemoryMb", modelDefaults.inferMemoryMb, (n) => n >= 128 && n <= 10_240, "from 128 to 10240"),
    inferEphemeralStorageMb: modelDefaults.inferEphemeralStorageMb.value,
    architecture: "arm64",
    chunkMemoryMb: modelDefaults.chunkMemoryMb.value,
    chunkFixedSeconds: modelDefaults.chunkFixedSeconds.value,
    chunkSecondsPerPage: modelDefaults.chunkSecondsPerPage.value,
    mergeMemoryMb: modelDefaults.mergeMemoryMb.value,
    mergeSeconds: modelDefaults.mergeSeconds.value,
    startMemoryMb: modelDefaults.startMemoryMb.value,
    startSeconds: modelDefaults.startSeconds.value,
    finalItemKb: modelDefaults.finalItemKb.value,
    transitions,
  };
  sources.modelTokensPerTextToken = perModel.modelTokensPerTextToken.source;
  sources.instructionTokens = perModel.instructionTokens.source;
  for (const key of ["chunkFixedSeconds", "chunkSecondsPerPage", "mergeSeconds", "startSeconds", "finalItemKb"] as const) {
    sources[key] = modelDefaults[key].source;
  }
  const docsPerMonth = numberOption(values, "docs-per-month", positive, "a positive number");
  return {
    pages,
    model,
    modelSource,
    ...(modelNote !== undefined ? { modelNote } : {}),
    ...(measuredModel !== undefined ? { measuredModel } : {}),
    throughput,
    inputs,
    sources,
    ...(docsPerMonth !== undefined ? { docsPerMonth } : {}),
    chartPath: resolve(values.chart ?? "cost-chart.svg"),
    pricesPath: resolve(values.prices ?? defaultPricesPath),
    json: Boolean(values.json),
  };
}

// ---------------------------------------------------------------------------------------------------------------------

const usd = formatUsd;
const count = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const round = (value: number, digits = 6) => Number(value.toPrecision(digits));

function describeBreakEven(breakEven: PagesBreakEven): string {
  const at = breakEven.crossings.map((pages) => count(pages, 1)).join(" and ");
  switch (breakEven.llambdaCheaper) {
    case "never":
      return `never: ${breakEven.reason}`;
    case "always":
      return `none, llambda is cheaper: ${breakEven.reason}`;
    case "above":
      return `equal at ${at} pages; llambda cheaper above`;
    case "below":
      return `equal at ${at} pages; llambda cheaper below`;
    case "between":
      return `equal at ${at} pages; llambda cheaper between them`;
    case "outside":
      return `equal at ${at} pages; llambda cheaper outside them`;
  }
}

export async function main(argv: string[]): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(argv);
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(error instanceof UsageError && message === noThroughput ? `${message}\n` : `${message}\n\n${usage}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  let prices;
  try {
    prices = parsePriceTable(JSON.parse(readFileSync(options.pricesPath, "utf8")));
  } catch (error) {
    process.stderr.write(`Price table ${options.pricesPath}: ${(error as Error).message}\n`);
    return 2;
  }
  const { inputs, pages, model } = options;
  if (options.modelNote) process.stderr.write(`npm run cost: ${options.modelNote}\n`);
  const maxPages = LimitDefaults.maxPages;
  const estimateAt = (n: number) => estimateLlambda({ ...inputs, pages: n });
  const llambdaAt = (n: number) => estimateAt(n).cost.total;
  const estimate = estimateAt(pages);
  const { shape, cost } = estimate;
  const idleMonthly = llambdaIdleMonthlyCost(model.sizeBytes);

  const hosted = prices.hostedModels.map((price) => {
    const perDocument = hostedDocumentCost(price, shape);
    const breakEven = pagesBreakEven(llambdaAt, (n) => hostedDocumentCost(price, estimateAt(n).shape), maxPages);
    return { price, perDocument, llambdaTimes: cost.total / perDocument, breakEven };
  });
  const alwaysOn = prices.alwaysOnInstances.map((instance) => {
    const monthly = instanceMonthlyCost(instance);
    const documents = alwaysOnBreakEvenDocuments(monthly, cost.total, idleMonthly);
    // What the instance would have to sustain at that volume: a check on "one instance keeps up".
    const tokensPerSecond = (documents * (shape.hostedInputTokens + shape.outputTokens)) / (hoursPerMonth * 3600);
    return { instance, monthly, breakEvenDocumentsPerMonth: documents, sustainedTokensPerSecond: tokensPerSecond };
  });

  // Chart: cost per document against pages, up to past the interesting crossings.
  const crossingsInRange = hosted.flatMap((h) => h.breakEven.crossings);
  const xMax = Math.min(maxPages, Math.max(20, pages * 2, ...crossingsInRange.map((c) => c * 1.3)));
  const xs = Array.from({ length: 101 }, (_, i) => Math.max(1, (xMax * i) / 100));
  const series: ChartSeries[] = [
    { label: `llambda (${model.id}, Lambda arm64 ${count(inputs.inferMemoryMb)} MB)`, emphasis: true, points: xs.map((x) => ({ x, y: llambdaAt(x) })) },
    ...hosted.map((h) => ({
      label: `${h.price.label}${h.price.verified ? "" : " (unverified price)"}`,
      points: xs.map((x) => ({ x, y: hostedDocumentCost(h.price, estimateAt(x).shape) })),
    })),
    ...(options.docsPerMonth !== undefined
      ? alwaysOn.map((a) => {
          const perDocument = a.monthly / options.docsPerMonth!;
          return {
            label: `${a.instance.id} at ${count(options.docsPerMonth!)} docs/month: ${usd(perDocument)}/doc`,
            dashed: true,
            outsideScale: true,
            points: xs.map((x) => ({ x, y: perDocument })),
          };
        })
      : []),
  ];
  const svg = lineChartSvg({
    title: "Cost per document against document size",
    subtitle:
      `${model.id}; prompt ${count(inputs.promptTokensPerSecond, 1)} t/s, generation ${count(inputs.generationTokensPerSecond, 1)} t/s ` +
      `× ${inputs.speedFactor}; ${count(inputs.tokensPerPage)} tokens/page; AWS ${awsPriceRegion} prices of ${awsPricesCheckedOn}`,
    xLabel: "document size (pages)",
    yLabel: "cost per document (USD)",
    series,
    marker: { x: pages, label: `${count(pages, 1)} pages` },
  });
  writeFileSync(options.chartPath, svg);

  const unverified = [...prices.hostedModels, ...prices.alwaysOnInstances].filter((entry) => !entry.verified).map((entry) => entry.id);
  const monthly =
    options.docsPerMonth === undefined
      ? undefined
      : {
          documents: options.docsPerMonth,
          llambda: options.docsPerMonth * cost.total + idleMonthly,
          hosted: hosted.map((h) => ({ id: h.price.id, usd: options.docsPerMonth! * h.perDocument })),
          alwaysOn: alwaysOn.map((a) => ({ id: a.instance.id, usd: a.monthly })),
        };

  if (options.json) {
    const report = {
      pages,
      model: model.id,
      modelSource: options.modelSource,
      ...(options.measuredModel !== undefined ? { measuredModel: options.measuredModel } : {}),
      ...(options.modelNote !== undefined ? { modelNote: options.modelNote } : {}),
      throughput: options.throughput,
      inputs: { ...inputs, transitions: { fixed: inputs.transitions.fixed, perBatch: inputs.transitions.perBatch } },
      sources: options.sources,
      shape,
      cost,
      idleMonthlyUsd: idleMonthly,
      hosted: hosted.map((h) => ({
        id: h.price.id,
        label: h.price.label,
        verified: h.price.verified,
        perDocumentUsd: h.perDocument,
        llambdaTimes: round(h.llambdaTimes, 4),
        breakEvenPages: h.breakEven,
      })),
      alwaysOn: alwaysOn.map((a) => ({
        id: a.instance.id,
        label: a.instance.label,
        verified: a.instance.verified,
        monthlyUsd: a.monthly,
        breakEvenDocumentsPerMonth: a.breakEvenDocumentsPerMonth,
        sustainedTokensPerSecondAtBreakEven: a.sustainedTokensPerSecond,
      })),
      ...(monthly ? { monthly } : {}),
      chart: options.chartPath,
      unverifiedPrices: unverified,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }

  const lines: string[] = [];
  const out = (line = "") => lines.push(line);
  const infer = cost.lambda.infer!;
  const others = (["chunk", "merge", "start"] as const).map((name) => ({ name, fn: estimate.usage.functions[name]!, cost: cost.lambda[name]! }));
  const othersUsd = others.reduce((sum, o) => sum + o.cost.totalUsd, 0);
  out(`llambda: one ${count(pages, 1)}-page document, priced as ${model.id} (${options.modelSource})`);
  if (options.modelNote) out(`  NOTE: ${options.modelNote}`);
  out(`  throughput: prompt ${count(inputs.promptTokensPerSecond, 1)} t/s, generation ${count(inputs.generationTokensPerSecond, 1)} t/s (${options.throughput.source}), speed factor on Lambda ${inputs.speedFactor}`);
  out(
    `  document: ${count(shape.textTokens)} text tokens (${count(inputs.tokensPerPage)}/page) → ${count(shape.chunks, 2)} chunks of ≤ ${count(inputs.chunkTokens)} tokens → ` +
      `${count(shape.batches, 2)} batches of ${inputs.chunksPerBatch} on ${count(shape.containers, 2)} containers (${count(shape.coldContainers, 2)} cold)`,
  );
  out(`  model tokens: ${count(shape.promptTokens)} prompt (instructions ${count(inputs.instructionTokens)} once per cold sequence), ${count(shape.outputTokens)} generated (${count(inputs.outputTokensPerChunk)}/chunk)`);
  out();
  out(`Per document (USD; AWS on-demand, ${awsPriceRegion}, prices of ${awsPricesCheckedOn}; free tiers not counted):`);
  out(
    `  inference Lambda  ${count(inputs.inferMemoryMb)} MB arm64, ${count(shape.inferSeconds, 1)} s (${count(shape.inferInitSeconds, 1)} s cold init), ` +
      `${count(infer.gbSeconds, 1)} GB-s, ${count(infer.invocations, 2)} invocations   ${usd(infer.totalUsd)}`,
  );
  out(
    `  other Lambdas     ${others.map((o) => `${o.name} ${count(o.fn.billedDurationMs / 1000, 2)} s × ${count(o.fn.memoryMb)} MB`).join(", ")}` +
      `, ${count(others.reduce((sum, o) => sum + o.cost.gbSeconds, 0), 2)} GB-s   ${usd(othersUsd)}`,
  );
  out(`  Step Functions    ${count(cost.stepFunctions.transitions, 2)} state transitions (${inputs.transitions.fixed} + ${inputs.transitions.perBatch} per batch)   ${usd(cost.stepFunctions.usd)}`);
  out(
    `  requests          S3 ${cost.requests.s3Puts} PUT + ${cost.requests.s3Gets} GET, DynamoDB ${cost.requests.dynamoDbWriteUnits} write units, SQS ${cost.requests.sqsRequests}   ${usd(cost.requests.totalUsd)}`,
  );
  out(`  total             ${usd(cost.total)}   (inference ${((infer.totalUsd / cost.total) * 100).toFixed(1)} %)`);
  out(`  idle: ${usd(idleMonthly)}/month for the inference image in ECR (${(model.sizeBytes / 1024 ** 3).toFixed(2)} GB model + ~0.3 GB)`);
  out();
  out(`Hosted models for the same tokens: ${count(shape.hostedInputTokens)} input (instructions with every chunk), ${count(shape.outputTokens)} output; prices ${prices.checkedOn}, ${options.pricesPath}`);
  const labelWidth = Math.max(...hosted.map((h) => h.price.label.length + 1));
  out(`  ${"model".padEnd(labelWidth)}  ${"$/M in".padStart(7)}  ${"$/M out".padStart(7)}  ${"per doc".padStart(10)}  ${"llambda vs".padStart(10)}  break-even in pages`);
  for (const h of hosted) {
    const label = `${h.price.label}${h.price.verified ? "" : "*"}`.padEnd(labelWidth);
    const times = h.llambdaTimes >= 10 ? h.llambdaTimes.toFixed(0) : h.llambdaTimes.toFixed(2);
    out(
      `  ${label}  ${h.price.inputPerMillionTokens.toFixed(3).padStart(7)}  ${h.price.outputPerMillionTokens.toFixed(3).padStart(7)}  ` +
        `${usd(h.perDocument).padStart(10)}  ${`${times}×`.padStart(9)}  ${describeBreakEven(h.breakEven)}`,
    );
  }
  if (unverified.length > 0) out(`  * price not read on the vendor's own page (see the note in the price table)`);
  out();
  out("Always-on GPU instance (assuming one instance keeps up; its own throughput is not measured here):");
  for (const a of alwaysOn) {
    out(
      `  ${a.instance.label}${a.instance.verified ? "" : "*"}: $${a.instance.hourlyUsd}/h = ${usd(a.monthly)}/month → cheaper than llambda above ` +
        `${count(a.breakEvenDocumentsPerMonth)} documents/month of ${count(pages, 1)} pages (≈ ${count(a.sustainedTokensPerSecond, 1)} tokens/s sustained, around the clock)`,
    );
  }
  out("  Hosted models have no volume break-even with llambda: both cost per document, so the per-document figures decide.");
  if (monthly) {
    out();
    out(`At ${count(monthly.documents)} documents/month of ${count(pages, 1)} pages:`);
    out(`  llambda ${usd(monthly.llambda)}; ${monthly.hosted.map((h) => `${h.id} ${usd(h.usd)}`).join("; ")}; ${monthly.alwaysOn.map((a) => `${a.id} ${usd(a.usd)}`).join("; ")}`);
  }
  out();
  out(`Chart: ${options.chartPath}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

process.exit(await main(process.argv.slice(2)));
