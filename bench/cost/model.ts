/**
 * The cost model behind `npm run cost`: what one document of N pages costs on llambda, estimated from measured
 * throughput and the workflow's shape, next to what hosted models charge for the same tokens. Pure: no I/O; the CLI
 * (run.ts) reads files and prints. docs/cost.md explains every input and which are measured.
 */
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import { DEFAULT_CHUNK_TOKENS, LimitDefaults } from "../../functions/chunk/limits.ts";
import { OCR_PAGES_PER_GROUP } from "../../functions/chunk/ocr-plan.ts";
import {
  documentCost,
  ecrPricePerGbMonth,
  lambdaCost,
  s3PricePerGetRequest,
  s3PricePerPutRequest,
  stepFunctionsCost,
  type DocumentCost,
  type DocumentUsage,
  type LambdaArchitecture,
} from "../../functions/shared/cost.ts";
import { defaultWorkflowSettings } from "../../statemachine/definition.ts";

// ---------------------------------------------------------------------------------------------------------------------
// Workflow shape: state transitions counted on the real definition (the merge records each document's the same way).

export { happyPathStates, type WorkflowTransitions } from "../../statemachine/happy-path.ts";
export { workflowTransitions } from "../../statemachine/transitions.ts";
import type { WorkflowTransitions } from "../../statemachine/happy-path.ts";

// ---------------------------------------------------------------------------------------------------------------------
// Inputs.

export interface CostModelInputs {
  pages: number;
  /** cl100k tokens of extracted text per page (the chunker's count). */
  tokensPerPage: number;
  /** Model tokens per cl100k token: the model's tokenizer counts a little differently (docs/chunking.md). */
  modelTokensPerTextToken: number;
  chunkTokens: number;
  /** System turn (instructions and schema guide), model tokens: evaluated once per sequence, then kept in its KV cache. */
  instructionTokens: number;
  /** Answer tokens generated per chunk. */
  outputTokensPerChunk: number;
  /** Aggregate prompt tokens/s of the inference function over `parallelSequences` sequences. */
  promptTokensPerSecond: number;
  /** Aggregate (grammar-constrained) generated tokens/s over `parallelSequences` sequences. */
  generationTokensPerSecond: number;
  /** Lambda's speed relative to the machine the throughput was measured on (1: the same). */
  speedFactor: number;
  parallelSequences: number;
  chunksPerBatch: number;
  /** Distributed Map child executions at once: also the inference containers one document can use. */
  maxConcurrency: number;
  /** Share of a document's inference containers that start cold (1: scale to zero between documents). */
  coldStartShare: number;
  /** Init duration of a cold inference container (image pull, llama.cpp and model load): billed. */
  inferInitSeconds: number;
  inferMemoryMb: number;
  inferEphemeralStorageMb: number;
  architecture: LambdaArchitecture;
  chunkMemoryMb: number;
  chunkFixedSeconds: number;
  chunkSecondsPerPage: number;
  mergeMemoryMb: number;
  mergeSeconds: number;
  startMemoryMb: number;
  startSeconds: number;
  /** Size of the final document item (result, provenance): DynamoDB bills one write unit per KB written. */
  finalItemKb: number;
  transitions: Pick<WorkflowTransitions, "fixed" | "perBatch">;
}

/** Values that come from a measurement or the deployed configuration, each with where it comes from. */
export interface Sourced<T> {
  value: T;
  source: string;
}

/**
 * Measured on this repository's shared corpus (`../shared/corpus`, docs/ and invoices/: 26 PDFs with text, 150 pages,
 * 80,648 cl100k tokens after running headers and footers are dropped), with `npm run chunk -- --json`, 2026-11-28.
 * The corpus's 352-page book (pdfjs/freeculture.pdf) has 418 per page; single-page invoices 222 to 603.
 */
export const measuredTokensPerPage: Sourced<number> = {
  value: 538,
  source: "measured: shared corpus docs/ + invoices/ (26 PDFs, 150 pages), npm run chunk -- --json, 2026-11-28",
};

/** Per model of models/models.json: tokenizer ratio and instructions, from docs/chunking.md's measurements. */
export const modelTokenDefaults: Record<string, { modelTokensPerTextToken: Sourced<number>; instructionTokens: Sourced<number> }> = {
  "qwen2.5-1.5b-instruct-q4_k_m": {
    modelTokensPerTextToken: { value: 1.011, source: "measured: Qwen2.5 tokens / cl100k, median of full chunks (docs/chunking.md)" },
    instructionTokens: { value: 409, source: "measured: generic schema's prompt overhead for Qwen2.5 (docs/chunking.md)" },
  },
  "llama-3.2-1b-instruct-q4_k_m": {
    modelTokensPerTextToken: { value: 1.0, source: "measured: Llama 3 tokens / cl100k, median of full chunks (docs/chunking.md)" },
    instructionTokens: { value: 403, source: "measured: generic schema's prompt overhead for Llama 3 (docs/chunking.md)" },
  },
};

/** Defaults that are not per model. `assumed` ones are not measured: pass your own figures when you have them. */
export const modelDefaults = {
  chunkTokens: { value: DEFAULT_CHUNK_TOKENS, source: "deployed default (llambda:chunkTokens)" },
  outputTokensPerChunk: { value: 300, source: "assumed: a generic-schema answer (title, type, summary ≤ 600 chars, a few entities, dates, amounts)" },
  speedFactor: { value: 1, source: "assumed: Lambda runs as fast as the machine the throughput was measured on" },
  coldStartShare: { value: 1, source: "assumed: every document meets cold inference containers (scale to zero between documents)" },
  inferInitSeconds: { value: 8, source: "assumed: image pull and model load; read Init Duration in the function's REPORT log lines" },
  inferMemoryMb: { value: FunctionCatalogue.infer.memoryMb, source: "deployed default (llambda:inferMemoryMb)" },
  inferEphemeralStorageMb: { value: 1024, source: "deployed (infra/stack/task-functions.ts)" },
  chunkMemoryMb: { value: FunctionCatalogue.chunk.memoryMb, source: "deployed (functions/catalogue.ts)" },
  chunkFixedSeconds: { value: 0.5, source: "0.326 s measured (a fresh extraction worker, docs/performance.md) + 0.2 s S3 I/O assumed" },
  chunkSecondsPerPage: { value: 1 / 33.6, source: "measured: 33.6 pages/s extraction + chunking on a 2-core AMD EPYC (docs/performance.md)" },
  mergeMemoryMb: { value: FunctionCatalogue.merge.memoryMb, source: "deployed (functions/catalogue.ts)" },
  mergeSeconds: { value: 1, source: "assumed: read the Map Run's result files, merge, one DynamoDB write" },
  startMemoryMb: { value: FunctionCatalogue.start.memoryMb, source: "deployed (functions/catalogue.ts)" },
  startSeconds: { value: 0.2, source: "assumed: one StartExecution" },
  finalItemKb: { value: 4, source: "assumed: result, provenance and conflicts of a generic-schema item" },
} satisfies Record<string, Sourced<number>>;

/**
 * Requests per document besides Lambda, counted on the code paths (excluding the upload itself, which any option
 * needs, and rare paths: chunk texts or results too large for the state and the item travel through S3).
 * S3: PUT the chunk manifest; the Map's ResultWriter PUTs manifest.json and SUCCEEDED_0.json. GET the upload, the
 * manifest (ItemReader), and the two result files (merge). DynamoDB: two small progress writes (1 KB each) and the
 * final item. SQS: the upload event's send, receive and delete.
 */
export const requestsPerDocument = { s3Puts: 3, s3Gets: 4, progressWriteUnits: 2, dynamoDbReadUnits: 0, sqsRequests: 3 } as const;

/** The workflow's defaults, read from the definition: batches of 4 chunks, 20 at once. */
export const workflowDefaults = {
  chunksPerBatch: defaultWorkflowSettings.maxItemsPerBatch,
  parallelSequences: defaultWorkflowSettings.maxItemsPerBatch,
  maxConcurrency: defaultWorkflowSettings.maxConcurrency,
};

// ---------------------------------------------------------------------------------------------------------------------
// Throughput from `npm run -s bench -- inference --json`.

/** The parts of bench/inference.ts's JSON report the cost model reads. */
export interface InferenceBenchReport {
  bench: "inference";
  model: string;
  cpu?: string;
  cores?: number;
  results: Array<{
    threads: number;
    pp: number;
    tg: number;
    parallel: Array<{ sequences: number; promptTokensPerSecond: number; generationTokensPerSecond: number }>;
    extraction: Array<{ sequences: number; constrainedGenerationTokensPerSecond: number }>;
  }>;
}

/**
 * The manifest model a bench report measured, by its file name: `models/<id>.gguf` as `npm run model:pull` writes it,
 * or the manifest's own file name. Undefined for any other file (the tiny test model, a random-weight stand-in).
 */
export function manifestModelOfFile<T extends { id: string; fileName?: string }>(file: string, models: readonly T[]): T | undefined {
  const name = file.split(/[\\/]/).pop()!.toLowerCase();
  return models.find((model) => name === `${model.id}.gguf`.toLowerCase() || name === model.fileName?.toLowerCase());
}

export interface Throughput {
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
  source: string;
}

/**
 * Picks the figures that match how the function runs: the largest thread count measured, aggregate speeds at the
 * batch's parallel sequences (else the nearest fewer), and grammar-constrained generation when the bench measured
 * whole extractions (what the function does) rather than free generation.
 */
export function throughputFromBench(report: unknown, parallelSequences: number): Throughput {
  const bench = report as Partial<InferenceBenchReport> | null;
  if (!bench || bench.bench !== "inference" || !Array.isArray(bench.results) || bench.results.length === 0) {
    throw new Error("Not an inference bench report: expected the JSON of `npm run -s bench -- inference --model <gguf> --json`");
  }
  const result = [...bench.results].sort((a, b) => b.threads - a.threads)[0]!;
  const nearest = <T extends { sequences: number }>(rows: T[] | undefined): T | undefined =>
    [...(rows ?? [])].filter((row) => row.sequences <= parallelSequences).sort((a, b) => b.sequences - a.sequences)[0];
  const parallel = nearest(result.parallel);
  const extraction = nearest(result.extraction);
  const promptTokensPerSecond = parallel?.promptTokensPerSecond ?? result.pp;
  const generationTokensPerSecond = extraction?.constrainedGenerationTokensPerSecond ?? parallel?.generationTokensPerSecond ?? result.tg;
  if (!(promptTokensPerSecond > 0) || !(generationTokensPerSecond > 0)) throw new Error("The bench report has no positive prompt and generation speeds");
  const where = `${bench.model ?? "?"} on ${bench.cpu ?? "an unnamed CPU"}${bench.cores ? ` (${bench.cores} cores)` : ""}, ${result.threads} threads`;
  const promptWhat = parallel ? `prompt aggregate over ${parallel.sequences} sequences` : "prompt, one sequence";
  const genWhat = extraction
    ? `constrained generation over ${extraction.sequences} sequences`
    : parallel
      ? `generation aggregate over ${parallel.sequences} sequences`
      : "generation, one sequence";
  return { promptTokensPerSecond, generationTokensPerSecond, source: `bench: ${where}; ${promptWhat}, ${genWhat}` };
}

// ---------------------------------------------------------------------------------------------------------------------
// The estimate.

export interface DocumentShape {
  textTokens: number;
  /** Expected chunks of a document this size: text tokens / chunk tokens, at least 1 (whole chunks round up). */
  chunks: number;
  batches: number;
  /** Inference containers the document runs on, and how many of them start cold. */
  containers: number;
  coldContainers: number;
  /** Model tokens evaluated by llambda: the text, plus the instructions once per cold sequence. */
  promptTokens: number;
  outputTokens: number;
  /** What a hosted API bills for the same requests: the instructions again with every chunk. */
  hostedInputTokens: number;
  inferSeconds: number;
  inferInitSeconds: number;
  stateTransitions: number;
}

export interface LlambdaEstimate {
  shape: DocumentShape;
  usage: DocumentUsage;
  cost: DocumentCost;
}

/**
 * One document's expected llambda cost. Chunk and batch counts are expectations (fractional) so the cost is a
 * continuous function of pages: a real document rounds up to whole chunks and batches, and its chunks are not all
 * full (the chunker cuts at paragraphs), so real counts run a little higher.
 */
export function estimateLlambda(inputs: CostModelInputs): LlambdaEstimate {
  validateInputs(inputs);
  const textTokens = inputs.pages * inputs.tokensPerPage;
  const chunks = Math.max(1, textTokens / inputs.chunkTokens);
  const batches = Math.max(1, chunks / inputs.chunksPerBatch);
  const containers = Math.min(batches, inputs.maxConcurrency);
  const coldContainers = containers * inputs.coldStartShare;
  // A cold container's sequences each evaluate the instructions before their first chunk; warm ones hold them.
  const instructionEvaluations = Math.min(chunks, coldContainers * inputs.parallelSequences);
  const textModelTokens = textTokens * inputs.modelTokensPerTextToken;
  const promptTokens = textModelTokens + instructionEvaluations * inputs.instructionTokens;
  const outputTokens = chunks * inputs.outputTokensPerChunk;
  const inferInitSeconds = coldContainers * inputs.inferInitSeconds;
  const inferSeconds =
    promptTokens / (inputs.promptTokensPerSecond * inputs.speedFactor) +
    outputTokens / (inputs.generationTokensPerSecond * inputs.speedFactor) +
    inferInitSeconds;
  const stateTransitions = inputs.transitions.fixed + batches * inputs.transitions.perBatch;
  const usage: DocumentUsage = {
    functions: {
      infer: {
        memoryMb: inputs.inferMemoryMb,
        billedDurationMs: inferSeconds * 1000,
        architecture: inputs.architecture,
        invocations: batches,
        ephemeralStorageMb: inputs.inferEphemeralStorageMb,
      },
      chunk: {
        memoryMb: inputs.chunkMemoryMb,
        billedDurationMs: (inputs.chunkFixedSeconds + inputs.pages * inputs.chunkSecondsPerPage) * 1000,
        architecture: inputs.architecture,
      },
      merge: { memoryMb: inputs.mergeMemoryMb, billedDurationMs: inputs.mergeSeconds * 1000, architecture: inputs.architecture },
      start: { memoryMb: inputs.startMemoryMb, billedDurationMs: inputs.startSeconds * 1000, architecture: inputs.architecture },
    },
    stateTransitions,
    requests: {
      s3Puts: requestsPerDocument.s3Puts,
      s3Gets: requestsPerDocument.s3Gets,
      dynamoDbWriteUnits: requestsPerDocument.progressWriteUnits + Math.ceil(inputs.finalItemKb),
      dynamoDbReadUnits: requestsPerDocument.dynamoDbReadUnits,
      sqsRequests: requestsPerDocument.sqsRequests,
    },
  };
  const shape: DocumentShape = {
    textTokens,
    chunks,
    batches,
    containers,
    coldContainers,
    promptTokens,
    outputTokens,
    hostedInputTokens: textModelTokens + chunks * inputs.instructionTokens,
    inferSeconds,
    inferInitSeconds,
    stateTransitions,
  };
  return { shape, usage, cost: documentCost(usage) };
}

function validateInputs(inputs: CostModelInputs): void {
  const positive: Array<keyof CostModelInputs> = [
    "pages", "tokensPerPage", "modelTokensPerTextToken", "chunkTokens", "promptTokensPerSecond", "generationTokensPerSecond",
    "speedFactor", "parallelSequences", "chunksPerBatch", "maxConcurrency", "inferMemoryMb",
  ];
  for (const key of positive) {
    const value = inputs[key] as number;
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${key} must be a positive number, got ${value}`);
  }
  const nonNegative: Array<keyof CostModelInputs> = [
    "instructionTokens", "outputTokensPerChunk", "inferInitSeconds", "chunkFixedSeconds", "chunkSecondsPerPage",
    "mergeSeconds", "startSeconds", "finalItemKb", "coldStartShare",
  ];
  for (const key of nonNegative) {
    const value = inputs[key] as number;
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${key} must be a number >= 0, got ${value}`);
  }
  if (inputs.coldStartShare > 1) throw new RangeError(`coldStartShare is a share from 0 to 1, got ${inputs.coldStartShare}`);
}

// ---------------------------------------------------------------------------------------------------------------------
// OCR of scanned pages: a cost per page, apart from the document's (only pages without a usable text layer, and image
// uploads, are OCR'd; a born-digital PDF costs nothing here).

export interface OcrPageInputs {
  memoryMb: number;
  /** Billed OCR function time per page: wall time of a page, over the pages the function works on at once. */
  secondsPerPage: number;
  /** Pages one OCR invocation (one child execution of the OCR Map) is given. */
  pagesPerInvocation: number;
  architecture: LambdaArchitecture;
}

/** The OCR Map's child execution: the OCR task, the "pages left?" Choice, the Succeed state. */
export const ocrTransitionsPerInvocation = 3;

/** The OCR image in ECR, MB: Node, the Runtime Interface Client, Tesseract's WebAssembly and model, pdf.js, canvas. */
export const ocrImageMb = 430;

export const ocrDefaults = {
  memoryMb: { value: FunctionCatalogue.ocr.memoryMb, source: "deployed (functions/catalogue.ts): one page at a time" },
  secondsPerPage: {
    value: 3,
    source:
      "estimate: ~3 s per page at 300 dpi (render 0.39 s + tesseract.js 2.5 s per page per core on corpus pages, " +
      "measured on a 2-core x86 AMD EPYC, docs/performance.md; not measured on Lambda's arm64), one page at a time",
  },
  pagesPerInvocation: { value: OCR_PAGES_PER_GROUP, source: "the chunk step's page groups (functions/chunk/ocr-plan.ts)" },
} satisfies Record<string, Sourced<number>>;

export interface OcrPageCost {
  gbSeconds: number;
  lambdaUsd: number;
  /** S3: the page's result written; the upload read once per invocation. */
  s3Usd: number;
  stepFunctionsUsd: number;
  totalUsd: number;
}

/** What OCR adds per scanned page: the OCR function's time and request, the page's S3 traffic, its share of the Map's transitions. */
export function ocrPageCost(inputs: OcrPageInputs): OcrPageCost {
  for (const [name, value] of Object.entries({ memoryMb: inputs.memoryMb, secondsPerPage: inputs.secondsPerPage, pagesPerInvocation: inputs.pagesPerInvocation })) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  const lambda = lambdaCost({
    memoryMb: inputs.memoryMb,
    billedDurationMs: inputs.secondsPerPage * 1000,
    architecture: inputs.architecture,
    invocations: 1 / inputs.pagesPerInvocation,
  });
  const s3Usd = s3PricePerPutRequest + s3PricePerGetRequest / inputs.pagesPerInvocation;
  const stepFunctionsUsd = stepFunctionsCost(ocrTransitionsPerInvocation / inputs.pagesPerInvocation);
  return { gbSeconds: lambda.gbSeconds, lambdaUsd: lambda.totalUsd, s3Usd, stepFunctionsUsd, totalUsd: lambda.totalUsd + s3Usd + stepFunctionsUsd };
}

/** The OCR image's ECR storage while idle, USD a month. */
export function ocrIdleMonthlyCost(): number {
  return (ocrImageMb / 1024) * ecrPricePerGbMonth;
}

// ---------------------------------------------------------------------------------------------------------------------
// Hosted models and always-on instances (bench/cost/hosted-prices.json).

export interface HostedModelPrice {
  id: string;
  label: string;
  provider: string;
  inputPerMillionTokens: number;
  outputPerMillionTokens: number;
  checkedOn: string;
  source: string;
  verified: boolean;
  note?: string;
}

export interface InstancePrice {
  id: string;
  label: string;
  hourlyUsd: number;
  checkedOn: string;
  source: string;
  verified: boolean;
  note?: string;
}

export interface PriceTable {
  checkedOn: string;
  currency: "USD";
  hostedModels: HostedModelPrice[];
  alwaysOnInstances: InstancePrice[];
}

/** Checks the shape of an edited price table, naming the entry at fault. */
export function parsePriceTable(json: unknown): PriceTable {
  const table = json as Partial<PriceTable> | null;
  if (!table || table.currency !== "USD" || !Array.isArray(table.hostedModels) || !Array.isArray(table.alwaysOnInstances)) {
    throw new Error('The price table needs "currency": "USD", "hostedModels": [...] and "alwaysOnInstances": [...]');
  }
  const ids = new Set<string>();
  for (const entry of [...table.hostedModels, ...table.alwaysOnInstances] as unknown as Array<Record<string, unknown>>) {
    const id = String(entry.id);
    if (typeof entry.id !== "string" || ids.has(id)) throw new Error(`Price entry ids must be unique strings (${id})`);
    ids.add(id);
    for (const field of ["label", "checkedOn", "source"]) {
      if (typeof entry[field] !== "string" || entry[field] === "") throw new Error(`Price entry ${id}: "${field}" is required`);
    }
    if (typeof entry.verified !== "boolean") throw new Error(`Price entry ${id}: "verified" must be true or false`);
  }
  for (const model of table.hostedModels) {
    for (const field of ["inputPerMillionTokens", "outputPerMillionTokens"] as const) {
      if (!(typeof model[field] === "number" && model[field] >= 0)) throw new Error(`Price entry ${model.id}: "${field}" must be a number >= 0`);
    }
  }
  for (const instance of table.alwaysOnInstances) {
    if (!(typeof instance.hourlyUsd === "number" && instance.hourlyUsd > 0)) throw new Error(`Price entry ${instance.id}: "hourlyUsd" must be > 0`);
  }
  return table as PriceTable;
}

export function hostedDocumentCost(price: Pick<HostedModelPrice, "inputPerMillionTokens" | "outputPerMillionTokens">, shape: Pick<DocumentShape, "hostedInputTokens" | "outputTokens">): number {
  return (shape.hostedInputTokens * price.inputPerMillionTokens + shape.outputTokens * price.outputPerMillionTokens) / 1_000_000;
}

/** AWS's month for hourly prices. */
export const hoursPerMonth = 730;

export function instanceMonthlyCost(instance: Pick<InstancePrice, "hourlyUsd">): number {
  return instance.hourlyUsd * hoursPerMonth;
}

/** Storage llambda pays while idle: the inference image in ECR (the model plus ~300 MB, docs/deploy.md). */
export function llambdaIdleMonthlyCost(modelSizeBytes: number): number {
  return ((modelSizeBytes + 300 * 1024 ** 2) / 1024 ** 3) * ecrPricePerGbMonth;
}

// ---------------------------------------------------------------------------------------------------------------------
// Break-even points.

export interface PagesBreakEven {
  /** Page counts where the two costs are equal, from 1 to `maxPages`. */
  crossings: number[];
  /**
   * Where llambda is the cheaper one: below the (single) crossing, above it, at every size, at none; with two or more
   * crossings, between the first and last or outside them.
   */
  llambdaCheaper: "below" | "above" | "always" | "never" | "between" | "outside";
  reason: string;
}

/** Dollars with the precision a per-document figure needs: $734, $5.67, $0.0344, $0.000323. */
export const formatUsd = (usd: number): string =>
  usd >= 100 ? `$${usd.toFixed(0)}` : usd >= 1 ? `$${usd.toFixed(2)}` : usd >= 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toPrecision(3)}`;

/**
 * Pages at which llambda's cost per document equals another option's. Both costs are continuous and piecewise linear
 * in pages, so a scan at whole pages finds each sign change and bisection pins it down.
 */
export function pagesBreakEven(
  llambdaCost: (pages: number) => number,
  otherCost: (pages: number) => number,
  maxPages: number = LimitDefaults.maxPages,
): PagesBreakEven {
  const difference = (pages: number) => llambdaCost(pages) - otherCost(pages);
  const crossings: number[] = [];
  let previous = difference(1);
  if (previous === 0) crossings.push(1);
  for (let pages = 2; pages <= maxPages; pages++) {
    const current = difference(pages);
    if (current === 0) crossings.push(pages);
    else if (previous !== 0 && Math.sign(current) !== Math.sign(previous)) {
      let low = pages - 1;
      let high = pages;
      for (let i = 0; i < 60; i++) {
        const mid = (low + high) / 2;
        if (Math.sign(difference(mid)) === Math.sign(previous)) low = mid;
        else high = mid;
      }
      crossings.push((low + high) / 2);
    }
    previous = current;
  }
  const at1 = `1 page: ${formatUsd(llambdaCost(1))} vs ${formatUsd(otherCost(1))}`;
  const atMax = `${maxPages} pages: ${formatUsd(llambdaCost(maxPages))} vs ${formatUsd(otherCost(maxPages))}`;
  if (crossings.length === 0) {
    const cheaper = difference(1) < 0;
    return {
      crossings,
      llambdaCheaper: cheaper ? "always" : "never",
      reason: cheaper
        ? `llambda costs less at every size from 1 to ${maxPages} pages (${at1}; ${atMax})`
        : `llambda costs more at every size from 1 to ${maxPages} pages (${at1}; ${atMax})`,
    };
  }
  // Which side of the crossings llambda is cheaper on: read at the ends of the range.
  const cheaperAtStart = difference(1) < 0;
  const cheaperAtEnd = difference(maxPages) < 0;
  const llambdaCheaper: PagesBreakEven["llambdaCheaper"] =
    cheaperAtStart && cheaperAtEnd ? "outside" : cheaperAtStart ? "below" : cheaperAtEnd ? "above" : "between";
  return { crossings, llambdaCheaper, reason: `${at1}; ${atMax}` };
}

/**
 * Monthly documents above which an always-on instance costs less than llambda, assuming the instance keeps up with
 * them (its throughput is not modelled here: check it).
 */
export function alwaysOnBreakEvenDocuments(instanceMonthlyUsd: number, llambdaPerDocumentUsd: number, llambdaIdleMonthlyUsd: number): number {
  return Math.max(0, (instanceMonthlyUsd - llambdaIdleMonthlyUsd) / llambdaPerDocumentUsd);
}
