/**
 * The command line of `npm run cost` (run.ts): usage, flags and their checks, and the cost model's inputs with where
 * each comes from (a flag, a measurement, the deployed configuration, an assumption).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { LimitDefaults } from "../../functions/chunk/limits.ts";
import { defaultModelId, getModel, listModels, UnknownModelError, type ModelEntry } from "../../models/manifest.ts";
import {
  manifestModelOfFile,
  measuredTokensPerPage,
  modelDefaults,
  modelTokenDefaults,
  throughputFromBench,
  workflowDefaults,
  workflowTransitions,
  type CostModelInputs,
  type Sourced,
  type Throughput,
} from "./model.ts";

const defaultPricesPath = join(import.meta.dirname, "hosted-prices.json");

export const usage = `Usage: npm run cost -- --pages <n> (--bench <file.json> | --prompt-tps <t/s> --gen-tps <t/s>) [options]

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

export const noThroughput = `No throughput given: the estimate is built on measured inference speed, and there is no figure measured on
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

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface Options {
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

export function parseOptions(argv: string[]): Options | "help" {
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
