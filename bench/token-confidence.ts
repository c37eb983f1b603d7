/**
 * What reading the model's token probabilities costs (functions/infer/engine.ts `tokenConfidence`): the same chunks
 * extracted with and without it, on one engine, runs alternating (off, on, off, on, ...) so drift on a shared machine
 * hits both alike; medians.
 *
 *   npm run bench -- token-confidence --model <gguf> [--threads 1] [--pairs 5] [--chunks 2] [--schema generic|short]
 *     [--max-output-tokens 768] [--sequences 1] [--json]
 *
 * With `--sequences n` (> 1) the engine has n parallel sequences and each run extracts its chunks at once, as the
 * function extracts a batch: what reading probabilities costs when several sequences sample after each decode.
 *
 * Per mode: grammar-constrained generation tokens/s (the answer's tokens after the first, over the time after the
 * first token, as bench/inference.ts counts them); the process's CPU time per answer token over whole extractions
 * (prompt included: the same in both modes), which other work on a shared machine disturbs far less than wall time;
 * and the time after the last token (detokenizing, parsing, and with confidence the mapping of tokens to values).
 * `--schema short` is a small invoice schema of short fields, for a model too slow to write the generic schema's long
 * answers many times.
 *
 * Greedy decoding picks the same token in both modes (test/e2e/infer-engine.test.ts compares the answers), but a
 * random-weight model's logits are so nearly tied that llama.cpp's own run-to-run float differences (where in the KV
 * cache a chunk's tokens land) can tip a token: the report says how many different answers each mode gave per chunk.
 */
import { basename } from "node:path";
import { cpus } from "node:os";
import { ExtractionEngine, type Extraction } from "../functions/infer/engine.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import type { JsonSchemaNode } from "../functions/shared/json-schema.ts";
import { parseModelBenchArgs } from "./args.ts";
import { round } from "./corpus.ts";

const USAGE =
  "Usage: npm run bench -- token-confidence --model <gguf> [--threads 1] [--pairs 5] [--chunks 2] [--schema generic|short] " +
  "[--max-output-tokens 768] [--sequences 1] [--json]";

const shortSchema: JsonSchemaNode = {
  type: "object",
  additionalProperties: false,
  required: ["invoice_number", "issue_date", "seller", "currency", "total", "paid"],
  properties: {
    invoice_number: { type: ["string", "null"], maxLength: 16 },
    issue_date: { type: "string", maxLength: 10 },
    seller: { type: "string", maxLength: 32 },
    currency: { enum: ["EUR", "USD", "GBP", null] },
    total: { type: ["number", "null"] },
    paid: { type: "boolean" },
  },
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const chunkText = (i: number) =>
  `INVOICE 2024-${100 + i}\nAcme Corporation, 1 Main Street, Springfield\nBill to: Globex Ltd\nDate: 2024-03-0${(i % 9) + 1}\n` +
  "Consulting services, 10 hours at 120.00 EUR: 1,200.00 EUR\nVAT 20%: 240.00 EUR\nTotal due: 1,440.00 EUR\nPaid: no\n";

interface Run {
  confidence: boolean;
  generationTokensPerSecond: number;
  /** Milliseconds per chunk after the last token: detokenizing, parsing and (with confidence) the mapping. */
  afterGenerationMs: number;
  cpuMsPerToken: number;
  tokensPerAnswer: number;
  answers: string[];
}

async function run(engine: ExtractionEngine, confidence: boolean, chunks: number): Promise<Run> {
  // One engine for both modes, so both use the same context, sequence and cached instructions.
  engine.options.tokenConfidence = confidence;
  if (engine.parallelSequences > 1) return runAtOnce(engine, confidence, chunks);
  const extractions: Extraction[] = [];
  const afterGeneration: number[] = [];
  let cpuMicros = 0;
  for (let i = 0; i < chunks; i++) {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const extraction = await engine.extract({ text: chunkText(i), pageStart: 1, pageEnd: 1 });
    const cpu = process.cpuUsage(cpuBefore);
    cpuMicros += cpu.user + cpu.system;
    const wall = performance.now() - started;
    if (confidence !== (extraction.confidence !== undefined)) throw new Error("Confidence present in the wrong mode");
    extractions.push(extraction);
    afterGeneration.push(wall - extraction.promptMs - extraction.generationMs);
  }
  const tokens = extractions.reduce((sum, e) => sum + e.tokensOut - 1, 0);
  const ms = extractions.reduce((sum, e) => sum + e.generationMs, 0);
  return {
    confidence,
    generationTokensPerSecond: (tokens * 1000) / ms,
    afterGenerationMs: afterGeneration.reduce((a, b) => a + b, 0) / chunks,
    cpuMsPerToken: cpuMicros / 1000 / extractions.reduce((sum, e) => sum + e.tokensOut, 0),
    tokensPerAnswer: extractions.reduce((sum, e) => sum + e.tokensOut, 0) / chunks,
    answers: extractions.map((e) => JSON.stringify(e.data)),
  };
}

/**
 * With several sequences: the chunks extracted at once (`extractAll`), as the function runs a batch. Generation speed
 * is the aggregate: the answers' tokens after the first over the longest answer's generation time.
 */
async function runAtOnce(engine: ExtractionEngine, confidence: boolean, chunks: number): Promise<Run> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const outcomes = await engine.extractAll(Array.from({ length: chunks }, (_, i) => ({ text: chunkText(i), pageStart: 1, pageEnd: 1 })));
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const extractions = outcomes.map((outcome) => {
    if (!outcome.ok) throw outcome.error;
    if (confidence !== (outcome.extraction.confidence !== undefined)) throw new Error("Confidence present in the wrong mode");
    return outcome.extraction;
  });
  const tokens = extractions.reduce((sum, e) => sum + e.tokensOut, 0);
  const slowest = Math.max(...extractions.map((e) => e.promptMs + e.generationMs));
  return {
    confidence,
    generationTokensPerSecond: (extractions.reduce((sum, e) => sum + e.tokensOut - 1, 0) * 1000) / Math.max(...extractions.map((e) => e.generationMs)),
    afterGenerationMs: Math.max(0, wall - slowest),
    cpuMsPerToken: (cpu.user + cpu.system) / 1000 / tokens,
    tokensPerAnswer: tokens / chunks,
    answers: extractions.map((e) => JSON.stringify(e.data)),
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseModelBenchArgs(argv, {
    threads: { type: "string", default: "1" },
    pairs: { type: "string", default: "5" },
    chunks: { type: "string", default: "2" },
    sequences: { type: "string", default: "1" },
    schema: { type: "string", default: "generic" },
    "max-output-tokens": { type: "string", default: "768" },
    json: { type: "boolean", default: false },
  }, USAGE);
  if (!parsed) return 2;
  const { values, model } = parsed;
  const [threads, pairs, chunks, maxOutputTokens, sequences] = (["threads", "pairs", "chunks", "max-output-tokens", "sequences"] as const).map((name) => Number(values[name]));
  if ([threads, pairs, chunks, maxOutputTokens, sequences].some((n) => !Number.isInteger(n) || n! < 1)) {
    process.stderr.write(`Counts must be positive integers.\n${USAGE}\n`);
    return 2;
  }
  const schemaId = String(values.schema);
  const schema = schemaId === "short" ? shortSchema : getExtractionSchema(schemaId);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const engine = await ExtractionEngine.load({ modelPath: model, modelId: basename(model), threads: threads!, contextSize: 4096, maxOutputTokens: maxOutputTokens!, schema, sequences: sequences! });
  const runs: Run[] = [];
  try {
    // Warm-up in both modes: the instructions enter the KV cache, the model's pages are faulted in. Whole runs, so
    // every later chunk follows the same chunk as in any other run and reuses the same prefix.
    await run(engine, false, chunks!);
    await run(engine, true, chunks!);
    for (let pair = 0; pair < pairs!; pair++) {
      for (const confidence of [false, true]) {
        const result = await run(engine, confidence, chunks!);
        runs.push(result);
        log(`pair ${pair + 1} confidence ${confidence ? "on " : "off"}: ${round(result.generationTokensPerSecond, 2)} t/s, ` +
          `${round(result.cpuMsPerToken, 3)} CPU ms/token, ` +
          `${round(result.afterGenerationMs, 1)} ms after the last token`);
      }
    }
  } finally {
    await engine.dispose();
  }
  const of = (confidence: boolean) => runs.filter((r) => r.confidence === confidence);
  const summary = (confidence: boolean) => ({
    generationTokensPerSecond: round(median(of(confidence).map((r) => r.generationTokensPerSecond)), 2),
    afterGenerationMs: round(median(of(confidence).map((r) => r.afterGenerationMs)), 2),
    cpuMsPerToken: round(median(of(confidence).map((r) => r.cpuMsPerToken)), 3),
  });
  const off = summary(false);
  const on = summary(true);
  // Per chunk: the different answers each mode gave, and whether the two modes gave the same set.
  const variants = (confidence: boolean) => Array.from({ length: chunks! }, (_, i) => new Set(of(confidence).map((r) => r.answers[i])));
  const answers = {
    differentPerChunk: { off: variants(false).map((set) => set.size), on: variants(true).map((set) => set.size) },
    sameInBothModes: variants(false).every((set, i) => set.size === 1 && variants(true)[i]!.size === 1 && set.has([...variants(true)[i]!][0])),
  };
  // Per pair, so a slow spell of the machine counts against both modes of that pair.
  const pairRatios = of(false).map((r, i) => of(true)[i]!.generationTokensPerSecond / r.generationTokensPerSecond);
  const cpuPairRatios = of(false).map((r, i) => of(true)[i]!.cpuMsPerToken / r.cpuMsPerToken);
  const report = {
    bench: "token-confidence",
    model: basename(model),
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    threads,
    schema: schemaId,
    pairs,
    chunks,
    tokensPerAnswer: round(median(runs.map((r) => r.tokensPerAnswer)), 0),
    off,
    on,
    /** on / off generation speed: median over pairs. */
    speedRatio: round(median(pairRatios), 3),
    /** on / off CPU time per answer token: median over pairs. */
    cpuRatio: round(median(cpuPairRatios), 3),
    /** Milliseconds each generated token costs more with confidence (from the medians). */
    msPerTokenAdded: round(1000 / on.generationTokensPerSecond - 1000 / off.generationTokensPerSecond, 3),
    answers,
  };
  log(`off ${off.generationTokensPerSecond} t/s, on ${on.generationTokensPerSecond} t/s: ratio ${report.speedRatio} ` +
    `(median of pairs), ${report.msPerTokenAdded} ms more per token; CPU per token ${off.cpuMsPerToken} → ${on.cpuMsPerToken} ms ` +
    `(ratio ${report.cpuRatio}); after the last token ${off.afterGenerationMs} → ` +
    `${on.afterGenerationMs} ms per chunk; different answers per chunk off ${answers.differentPerChunk.off.join("/")}, ` +
    `on ${answers.differentPerChunk.on.join("/")}`);
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
