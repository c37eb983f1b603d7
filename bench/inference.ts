/**
 * Inference speed of the infer code path (functions/infer/engine.ts: the same prompt-feeding and generation steps
 * extract() runs), against llama.cpp's own tools on the same GGUF and cores when they are given.
 *
 *   npm run bench -- inference --model <gguf> [--threads 2 | --threads 1,2] [--sequences 1,2,4,8]
 *     [--prompt-tokens 512] [--gen-tokens 128] [--repetitions 3] [--json]
 *   LLAMA_BENCH=<llama-bench> LLAMA_BATCHED_BENCH=<llama-batched-bench> npm run bench -- inference ...
 *   (bench/build-llama-tools.sh builds both from the llama.cpp source node-llama-cpp ships)
 *
 * Measured per thread count:
 *   - pp: prompt tokens/s of one sequence (a fresh `--prompt-tokens` prompt), like llama-bench's pp test;
 *   - tg: generated tokens/s of one sequence from an empty context, unconstrained, like llama-bench's tg test;
 *   - parallel: n sequences at once (batched decoding), each a fresh prompt then `--gen-tokens` tokens, aggregate
 *     prompt and generation tokens/s, like llama-batched-bench's S_PP and S_TG, and llama_decode calls per generated
 *     token (`decodesPerToken`, 1 / n when each step decodes every sequence's token at once; bench/native-calls.ts);
 *   - extraction: n chunks through extractAll() twice (cold sequences, then with the instructions in the KV cache):
 *     the prompt tokens and time prefix reuse saves, and grammar-constrained generation speed;
 *   - extraction4 (at the largest thread count, `--extraction4-runs`, 0 skips it): one batch of 4 invoice chunks by
 *     the path as it was before batched stepping, the patched build and forced tokens, against the path as it is,
 *     each in a process of its own (bench/extraction-batch.ts), alternating; `ratios.extraction4` = before / now,
 *     over the runs in which every chunk completed on both sides (a random model's answer may run to the token cap).
 * Each repetition takes one sample of the infer path and one of each llama.cpp tool (interleaved, so a slow spell of
 * the machine falls on both sides; the tools go first in every other repetition). Before its samples the infer path
 * runs one prompt, as llama-bench warms up before each of its runs (`--cold` leaves it out, for comparison). Figures
 * are medians, with the samples' range beside them, and each result says which llama.cpp binary the infer path ran.
 * `pairedRatios` divides each repetition's pp and tg by llama-bench's from the same repetition, with the medians over
 * each order.
 * Speed depends on shapes and tensor types, not weights: `tsx models/random.ts --shape llama-3.2-1b --type q4_0`
 * writes a model that runs like the real one without downloading it.
 */
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { basename, resolve } from "node:path";
import { promisify } from "node:util";
import { TokenBias, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { ExtractionEngine } from "../functions/infer/engine.ts";
import { StepBarrier } from "../functions/infer/step-barrier.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import { parseModelBenchArgs } from "./args.ts";
import { median, round, sum } from "./corpus.ts";
import type { ExtractionPath } from "./extraction-batch.ts";
import { timeNativeCalls, type CallSpan } from "./native-calls.ts";

const USAGE =
  "Usage: npm run bench -- inference --model <gguf> [--threads 2|1,2] [--sequences 1,2,4,8] [--prompt-tokens 512] " +
  "[--gen-tokens 128] [--repetitions 3] [--extraction-sequences 1,4] [--contexts 1] [--extraction4-runs 3] [--cold] [--json]";

interface ParallelRun {
  sequences: number;
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
  /** llama_decode calls per generated token in the generation phase: 1 / sequences when every step is one decode. */
  decodesPerToken: number;
}

interface ExtractionRun {
  sequences: number;
  coldPromptTokens: number;
  warmPromptTokens: number;
  coldPromptMs: number;
  warmPromptMs: number;
  /** Share of prompt time the reused prefix saves, warm vs cold. */
  promptTimeSaved: number;
  /** Grammar-constrained answer tokens/s over all sequences. */
  constrainedGenerationTokensPerSecond: number;
  /**
   * Error names of chunks that failed (a random model's answer can run past the token cap: batch composition changes
   * its logits by rounding, which flips its near-ties); the figures above are over the others.
   */
  failed: string[];
}

/** [min, max] over the repetitions of a figure whose median is reported beside it. */
type Range = [number, number];

/** Ratios of repetitions' pairs: their median and range, and the median over the pairs of each order. */
export interface PairedRatio {
  median: number;
  range: Range;
  /** Over the repetitions in which the infer path ran first (the even ones, from 0). */
  oursFirst: number;
  /** Over those in which llama.cpp's tools ran first (none with a single repetition). */
  toolsFirst?: number;
}

interface ThreadResult {
  threads: number;
  /** Contexts the threads and sequences were shared out over. */
  contexts: number;
  /** The llama.cpp binary the infer path ran (functions/infer/llama-binary.ts) and what its contexts report. */
  binary: ExtractionEngine["binary"];
  pp: number;
  tg: number;
  ppRange: Range;
  tgRange: Range;
  parallel: Array<ParallelRun & { generationRange: Range }>;
  extraction: ExtractionRun[];
  llamaBench?: { pp: number; tg: number; ppRange: Range; tgRange: Range };
  /**
   * Repetition by repetition, the infer path's figure over llama-bench's from the same repetition.
   * Less moved by the machine's slow spells than the ratio of the two medians, which can pair a fast moment of one
   * side with a slow one of the other.
   */
  pairedRatios?: { pp: PairedRatio; tg: PairedRatio };
  llamaBatchedBench?: Array<{ sequences: number; promptTokensPerSecond: number; generationTokensPerSecond: number; generationRange: Range }>;
}

/**
 * Repetition r's figure of the infer path over the tool's of the same repetition, summarized (3 digits); the
 * repetitions alternate which side runs first, the infer path in the even ones.
 */
export function pairedRatio(ours: readonly number[], theirs: readonly number[]): PairedRatio {
  if (ours.length !== theirs.length || ours.length === 0) throw new Error("pairedRatio needs one tool sample per infer-path sample, at least one");
  const ratios = ours.map((value, r) => value / theirs[r]!);
  const byOrder = (first: 0 | 1) => round(median(ratios.filter((_, r) => r % 2 === first)), 3);
  return { ...summary(ratios, 3), oursFirst: byOrder(0), ...(ratios.length > 1 ? { toolsFirst: byOrder(1) } : {}) };
}

function describePaired(ratio: PairedRatio): string {
  return `${ratio.median} (${ratio.range.join("–")}; ours first ${ratio.oursFirst}` + (ratio.toolsFirst === undefined ? ")" : `, tools first ${ratio.toolsFirst})`);
}

/** The median of samples, rounded, and their range. */
export function summary(samples: number[], digits = 1): { median: number; range: Range } {
  return { median: round(median(samples), digits), range: [round(Math.min(...samples), digits), round(Math.max(...samples), digits)] };
}

/** A prompt of exactly `count` tokens, distinct per `seed` from its first token on (so nothing is reused). */
function syntheticPrompt(engine: ExtractionEngine, count: number, seed: number): Token[] {
  const tokens: Token[] = [];
  const filler = engine.tokenize(`Report ${seed}: the quarterly figures were reviewed by the board and approved. `);
  while (tokens.length < count) tokens.push(...filler);
  return tokens.slice(0, count);
}

/** Per model: end-of-text tokens banned, so unconstrained generation runs to its token count. */
const noEndBiases = new WeakMap<LlamaModel, TokenBias>();

export function noEndBias(model: LlamaModel): TokenBias {
  let bias = noEndBiases.get(model);
  if (!bias) {
    bias = new TokenBias(model.tokenizer);
    for (const token of [model.tokens.eos, model.tokens.eot]) if (token !== null) bias.set(token, "never");
    noEndBiases.set(model, bias);
  }
  return bias;
}

/**
 * Evaluates `pending` and generates `maxTokens` tokens greedily without a grammar, end-of-text banned: what
 * llama-bench's tg measures, to compare the engine's constrained generation with. Bench-only, so not in the engine.
 */
async function generateUnconstrained(
  sequence: LlamaContextSequence,
  pending: Token[],
  maxTokens: number,
): Promise<{ tokens: Token[]; firstTokenAt: number | undefined; tokenTimes: number[] }> {
  const output: Token[] = [];
  const tokenTimes: number[] = [];
  let firstTokenAt: number | undefined;
  const generator = sequence.evaluate(pending, { temperature: 0, tokenBias: noEndBias(sequence.model) });
  // In step with the context's other generating sequences, as the engine's generation is (step-barrier.ts).
  const barrier = StepBarrier.of(sequence.context);
  barrier.join(sequence);
  try {
    for (let step = await generator.next(); !step.done; step = await generator.next()) {
      const now = performance.now();
      firstTokenAt ??= now;
      output.push(step.value);
      tokenTimes.push(now);
      if (output.length >= maxTokens) break;
      await barrier.arrive(sequence);
    }
  } finally {
    barrier.leave(sequence);
    await generator.return();
  }
  return { tokens: output, firstTokenAt, tokenTimes };
}

/** n sequences at once: a fresh prompt each, then `genTokens` unconstrained tokens; aggregate speeds. */
async function runParallel(engine: ExtractionEngine, n: number, promptTokens: number, genTokens: number, seed: number): Promise<ParallelRun> {
  const calls: CallSpan[] = [];
  const stopTiming = new Map<LlamaContext, () => void>();
  let spans;
  try {
    spans = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        engine.withSequence(async (sequence: LlamaContextSequence) => {
          if (!stopTiming.has(sequence.context)) stopTiming.set(sequence.context, timeNativeCalls(sequence.context, calls));
          const prompt = syntheticPrompt(engine, promptTokens, seed * 100 + i);
          const promptStart = performance.now();
          const pending = await engine.feedPrompt(sequence, prompt);
          const answer = await generateUnconstrained(sequence, pending, genTokens);
          return { promptStart, firstTokenAt: answer.firstTokenAt ?? performance.now(), end: performance.now(), tokens: answer.tokens.length, tokenTimes: answer.tokenTimes };
        }),
      ),
    );
  } finally {
    for (const stop of stopTiming.values()) stop();
  }
  const start = Math.min(...spans.map((s) => s.promptStart));
  const promptEnd = Math.max(...spans.map((s) => s.firstTokenAt));
  const end = Math.max(...spans.map((s) => s.end));
  // The first token of each answer comes from the prompt's last evaluation: it counts as prompt work, like S_PP.
  return {
    sequences: n,
    promptTokensPerSecond: (n * promptTokens * 1000) / (promptEnd - start),
    generationTokensPerSecond: (spans.reduce((sum, s) => sum + s.tokens - 1, 0) * 1000) / (end - promptEnd),
    decodesPerToken: decodesPerToken(
      calls.filter((call) => call.kind === "decode").map((call) => call.end),
      spans.flatMap((s) => s.tokenTimes),
      promptEnd,
    ),
  };
}

/**
 * llama_decode calls per generated token after `from` (the last prompt's first token): the decodes that ended after
 * it over the tokens that came after it. Each of those tokens was sampled after a decode that ended after `from`,
 * and generation issues no decode whose token is not taken.
 */
export function decodesPerToken(decodeEnds: readonly number[], tokenTimes: readonly number[], from: number): number {
  const tokens = tokenTimes.filter((time) => time > from).length;
  if (tokens === 0) return Number.NaN;
  return round(decodeEnds.filter((end) => end > from).length / tokens, 3);
}

async function runExtraction(engine: ExtractionEngine, n: number, seed: number): Promise<ExtractionRun> {
  const chunk = (i: number) => ({
    text:
      `INVOICE ${seed}-${i}\nAcme Corporation, 1 Main Street, Springfield\nBill to: Globex Ltd\nDate: 2024-03-0${(i % 9) + 1}\n` +
      "Consulting services, 10 hours at 120.00 EUR: 1,200.00 EUR\nVAT 20%: 240.00 EUR\nTotal due: 1,440.00 EUR\n",
    pageStart: 1,
    pageEnd: 1,
  });
  const failed: string[] = [];
  const pass = async (offset: number) => {
    const outcomes = await engine.extractAll(Array.from({ length: n }, (_, i) => chunk(offset + i)));
    return outcomes.flatMap((outcome) => {
      if (outcome.ok) return [outcome.extraction];
      failed.push(outcome.error.name);
      return [];
    });
  };
  const cold = await pass(0);
  const started = performance.now();
  const warm = await pass(n);
  const wall = performance.now() - started;
  const coldPromptMs = median(cold.map((e) => e.promptMs));
  const warmPromptMs = median(warm.map((e) => e.promptMs));
  const warmGenerationMs = Math.max(...warm.map((e) => e.generationMs));
  return {
    sequences: n,
    coldPromptTokens: median(cold.map((e) => e.tokensIn)),
    warmPromptTokens: median(warm.map((e) => e.tokensIn)),
    coldPromptMs: round(coldPromptMs, 0),
    warmPromptMs: round(warmPromptMs, 0),
    promptTimeSaved: round(1 - warmPromptMs / coldPromptMs, 3),
    constrainedGenerationTokensPerSecond: round((sum(warm.map((e) => e.tokensOut - 1)) * 1000) / Math.min(warmGenerationMs, wall), 1),
    failed,
  };
}

export async function runLlamaBench(binary: string, model: string, threads: number, promptTokens: number, genTokens: number, repetitions: number) {
  const { stdout } = await promisify(execFile)(
    binary,
    ["-m", model, "-t", String(threads), "-p", String(promptTokens), "-n", String(genTokens), "-r", String(repetitions), "-o", "json"],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const rows = JSON.parse(stdout) as Array<{ n_prompt: number; n_gen: number; avg_ts: number }>;
  const pp = rows.find((row) => row.n_prompt > 0 && row.n_gen === 0)?.avg_ts;
  const tg = rows.find((row) => row.n_gen > 0 && row.n_prompt === 0)?.avg_ts;
  if (pp === undefined || tg === undefined) throw new Error(`Unexpected llama-bench output: ${stdout.slice(0, 500)}`);
  return { pp: round(pp, 1), tg: round(tg, 1) };
}

async function runLlamaBatchedBench(binary: string, model: string, threads: number, sequences: number[], promptTokens: number, genTokens: number) {
  const contextSize = Math.max(...sequences) * (promptTokens + genTokens) + 256;
  const { stdout } = await promisify(execFile)(
    binary,
    ["-m", model, "-t", String(threads), "-c", String(contextSize), "-b", "2048", "-ub", "512",
      "-npp", String(promptTokens), "-ntg", String(genTokens), "-npl", sequences.join(","), "--output-format", "jsonl"],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => JSON.parse(line) as { pl: number; speed_pp: number; speed_tg: number })
    .map((row) => ({ sequences: row.pl, promptTokensPerSecond: round(row.speed_pp, 1), generationTokensPerSecond: round(row.speed_tg, 1) }));
}

/** How bench/build-llama-tools.sh builds the baseline tools (the prebuilt addon has no OpenMP and picks a CPU variant). */
const toolsBuild = "bench/build-llama-tools.sh: llama.cpp of node-llama-cpp's bundle, GGML_NATIVE=ON (-march=native), OpenMP, static";

function describeBinary(binary: ThreadResult["binary"]): string {
  if (binary.buildType === "prebuilt") return "prebuilt";
  return binary.schedule ? `patched build (thread pool ${binary.schedule.threadPool}, unified KV ${binary.schedule.kvUnified}, sequence-ordered batches ${binary.schedule.sequenceOrderedBatches}, decode thread ${binary.schedule.decodeThread}, bounded confidence ${binary.schedule.boundedConfidence})` : "local build";
}

/**
 * extraction4: one batch of `chunks` chunks extracted by the path as it was before batched stepping and the patched
 * build ("legacy") and as it is ("current"), each in a process of its own (bench/extraction-batch.ts), alternating
 * `runs` times; same chunks, model and threads. The ratio is legacy's median wall time over current's.
 */
async function compareExtractionPaths(model: string, threads: number, chunks: number, runs: number, log: (line: string) => void) {
  const walls: Record<ExtractionPath, number[]> = { legacy: [], current: [] };
  const tokens: Record<ExtractionPath, number[]> = { legacy: [], current: [] };
  const failed: Record<ExtractionPath, string[][]> = { legacy: [], current: [] };
  const binaries: Partial<Record<ExtractionPath, unknown>> = {};
  for (let r = 0; r < runs; r++) {
    const order: ExtractionPath[] = r % 2 === 0 ? ["legacy", "current"] : ["current", "legacy"];
    for (const path of order) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", resolve(import.meta.dirname, "extraction-batch.ts"), model, path, String(threads), String(chunks), String(7000 + 10 * r)],
        { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR" } },
      );
      const line = JSON.parse(stdout.trim().split("\n").at(-1)!) as { wallMs: number; tokensOut: number; failed: string[]; binary: unknown };
      walls[path].push(line.wallMs);
      tokens[path].push(line.tokensOut);
      failed[path].push(line.failed);
      binaries[path] = line.binary;
    }
  }
  // A random model's answer can run to the token cap in one run and not in the next (batch composition changes its
  // logits by rounding): such a run times a different amount of work. The ratio is over the runs in which every chunk
  // completed on both sides, when there are any; `ratioAllRuns` keeps all of them.
  const complete = walls.legacy.map((_, r) => failed.legacy[r]!.length === 0 && failed.current[r]!.length === 0);
  const overComplete = complete.some(Boolean);
  const legacy = summary(walls.legacy.filter((_, r) => !overComplete || complete[r]));
  const current = summary(walls.current.filter((_, r) => !overComplete || complete[r]));
  const result = {
    chunks,
    threads,
    runs,
    completeRuns: complete.filter(Boolean).length,
    legacy: { wallMs: legacy.median, range: legacy.range, tokensOut: tokens.legacy, failed: failed.legacy, binary: binaries.legacy },
    current: { wallMs: current.median, range: current.range, tokensOut: tokens.current, failed: failed.current, binary: binaries.current },
    ratio: round(legacy.median / current.median, 3),
    ratioAllRuns: round(median(walls.legacy) / median(walls.current), 3),
  };
  const failures = (path: ExtractionPath) => failed[path].map((names) => (names.length > 0 ? names.join("+") : "ok")).join("/");
  log(`extraction of ${chunks} chunks at once, ${threads} threads, ${runs} alternating runs (${result.completeRuns} with every chunk ` +
    `complete on both sides; the ratio is over ${overComplete ? "those" : "all"}): before ${result.legacy.wallMs} ms ` +
    `(${legacy.range.join("–")}, tokens ${tokens.legacy.join("/")}, ${failures("legacy")}), now ${result.current.wallMs} ms ` +
    `(${current.range.join("–")}, tokens ${tokens.current.join("/")}, ${failures("current")}) → ×${result.ratio} (all runs ×${result.ratioAllRuns})`);
  return result;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseModelBenchArgs(argv, {
    threads: { type: "string", default: "2" },
    sequences: { type: "string", default: "1,2,4,8" },
    "extraction-sequences": { type: "string", default: "1,4" },
    contexts: { type: "string", default: "1" },
    "prompt-tokens": { type: "string", default: "512" },
    "gen-tokens": { type: "string", default: "128" },
    repetitions: { type: "string", default: "3" },
    "extraction4-runs": { type: "string", default: "3" },
    cold: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  }, USAGE);
  if (!parsed) return 2;
  const { values, model } = parsed;
  const list = (text: string) => text.split(",").map((part) => Number(part.trim()));
  const threadCounts = list(String(values.threads));
  const sequenceCounts = list(String(values.sequences));
  const extractionCounts = list(String(values["extraction-sequences"]));
  const promptTokens = Number(values["prompt-tokens"]);
  const genTokens = Number(values["gen-tokens"]);
  const repetitions = Number(values.repetitions);
  const contexts = Number(values.contexts);
  const extraction4Runs = Number(values["extraction4-runs"]);
  const cold = values.cold === true;
  if (
    [...threadCounts, ...sequenceCounts, ...extractionCounts, promptTokens, genTokens, repetitions, contexts].some((n) => !Number.isInteger(n) || n < 1) ||
    !Number.isInteger(extraction4Runs) ||
    extraction4Runs < 0
  ) {
    process.stderr.write(`Counts must be positive integers.\n${USAGE}\n`);
    return 2;
  }
  const llamaBench = process.env.LLAMA_BENCH;
  const llamaBatchedBench = process.env.LLAMA_BATCHED_BENCH;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results: ThreadResult[] = [];
  const largestThreads = Math.max(...threadCounts);
  for (const threads of threadCounts) {
    const maxSequences = Math.max(...sequenceCounts, ...extractionCounts);
    const engine = await ExtractionEngine.load({
      modelPath: model,
      modelId: basename(model),
      threads,
      // Room for the longest of: the synthetic prompt and answer, or an extraction prompt with its answer.
      contextSize: Math.max(promptTokens + genTokens + 64, 4096),
      maxOutputTokens: 1024,
      schema: getExtractionSchema("generic"),
      sequences: maxSequences,
      contexts,
    });
    // Parallel sequences (minutes of prompt work) run at the largest thread count only, as on Lambda.
    const largest = threads === largestThreads;
    const samples = { pp: [] as number[], tg: [] as number[], parallel: new Map<number, ParallelRun[]>() };
    const tools = { pp: [] as number[], tg: [] as number[], batched: new Map<number, Array<{ pp: number; tg: number }>>() };
    const extraction: ExtractionRun[] = [];
    try {
      // Warm-up: first decodes allocate buffers and fault in the model's pages.
      await runParallel(engine, 1, 64, 8, 0);
      // Each repetition measures the infer path and llama.cpp's tools, one sample each, so that a slow spell of the
      // machine falls on both sides instead of on one side's whole series.
      for (let r = 0; r < repetitions; r++) {
        const ours = async () => {
          // llama-bench warms up before each of its runs (a whole prompt run before pp); so does the infer path: the
          // first decodes after another process has run are slower here (docs/performance.md; `--cold` shows it).
          if (!cold) await runParallel(engine, 1, promptTokens, 1, 900 + r);
          samples.pp.push((await runParallel(engine, 1, promptTokens, 1, 1000 + r)).promptTokensPerSecond);
          samples.tg.push((await runParallel(engine, 1, 1, genTokens, 2000 + r)).generationTokensPerSecond);
          for (const n of largest ? sequenceCounts : []) {
            samples.parallel.set(n, [...(samples.parallel.get(n) ?? []), await runParallel(engine, n, promptTokens, genTokens, 3000 + 10 * r + n)]);
          }
        };
        const theirs = async () => {
          if (llamaBench) {
            const sample = await runLlamaBench(llamaBench, model, threads, promptTokens, genTokens, 1);
            tools.pp.push(sample.pp);
            tools.tg.push(sample.tg);
          }
          if (llamaBatchedBench && largest) {
            for (const row of await runLlamaBatchedBench(llamaBatchedBench, model, threads, sequenceCounts, promptTokens, genTokens)) {
              tools.batched.set(row.sequences, [...(tools.batched.get(row.sequences) ?? []), { pp: row.promptTokensPerSecond, tg: row.generationTokensPerSecond }]);
            }
          }
        };
        // Every other repetition the tools go first, so that neither side always runs after the other's load.
        for (const side of r % 2 === 0 ? [ours, theirs] : [theirs, ours]) await side();
      }
      // Whole extractions (grammar, long answers) too.
      for (const n of largest ? extractionCounts : []) {
        // Every sequence gets other text first, so the "cold" pass really starts without the instructions cached.
        await runParallel(engine, maxSequences, 16, 1, 5000 + n);
        extraction.push(await runExtraction(engine, n, 4000 + n));
      }
    } finally {
      await engine.dispose();
    }
    const pp = summary(samples.pp);
    const tg = summary(samples.tg);
    const result: ThreadResult = {
      threads,
      contexts: Math.min(contexts, threads),
      binary: engine.binary,
      pp: pp.median,
      tg: tg.median,
      ppRange: pp.range,
      tgRange: tg.range,
      parallel: [...samples.parallel].map(([n, runs]) => {
        const generation = summary(runs.map((run) => run.generationTokensPerSecond));
        return {
          sequences: n,
          promptTokensPerSecond: summary(runs.map((run) => run.promptTokensPerSecond)).median,
          generationTokensPerSecond: generation.median,
          generationRange: generation.range,
          decodesPerToken: round(median(runs.map((run) => run.decodesPerToken)), 3),
        };
      }),
      extraction,
    };
    if (llamaBench) {
      const toolPp = summary(tools.pp);
      const toolTg = summary(tools.tg);
      result.llamaBench = { pp: toolPp.median, tg: toolTg.median, ppRange: toolPp.range, tgRange: toolTg.range };
      result.pairedRatios = { pp: pairedRatio(samples.pp, tools.pp), tg: pairedRatio(samples.tg, tools.tg) };
    }
    if (tools.batched.size > 0) {
      result.llamaBatchedBench = [...tools.batched].map(([n, rows]) => {
        const generation = summary(rows.map((row) => row.tg));
        return { sequences: n, promptTokensPerSecond: summary(rows.map((row) => row.pp)).median, generationTokensPerSecond: generation.median, generationRange: generation.range };
      });
    }
    results.push(result);
    log(`threads ${threads}, contexts ${result.contexts}, llama.cpp ${describeBinary(result.binary)}: ` +
      `pp ${result.pp} t/s (${result.ppRange.join("–")}), tg ${result.tg} t/s (${result.tgRange.join("–")})` +
      (result.llamaBench ? ` | llama-bench pp ${result.llamaBench.pp} (${result.llamaBench.ppRange.join("–")}), tg ${result.llamaBench.tg} (${result.llamaBench.tgRange.join("–")})` : "") +
      (result.pairedRatios
        ? ` | paired pp ×${describePaired(result.pairedRatios.pp)}, tg ×${describePaired(result.pairedRatios.tg)}`
        : ""));
    for (const run of result.parallel) {
      const raw = result.llamaBatchedBench?.find((row) => row.sequences === run.sequences);
      log(`  ${run.sequences} seq: pp ${run.promptTokensPerSecond} t/s, tg ${run.generationTokensPerSecond} t/s (${run.generationRange.join("–")}), ` +
        `${run.decodesPerToken} decodes a token` +
        (raw ? ` | llama-batched-bench pp ${raw.promptTokensPerSecond}, tg ${raw.generationTokensPerSecond} (${raw.generationRange.join("–")}) → tg ×${round(run.generationTokensPerSecond / raw.generationTokensPerSecond, 2)}` : ""));
    }
    for (const run of result.extraction) {
      log(`  extraction ${run.sequences} seq: prompt ${run.coldPromptTokens} → ${run.warmPromptTokens} tokens, ` +
        `${run.coldPromptMs} → ${run.warmPromptMs} ms (${Math.round(run.promptTimeSaved * 100)}% saved), ` +
        `constrained tg ${run.constrainedGenerationTokensPerSecond} t/s` +
        (run.failed.length > 0 ? ` (failed, left out: ${run.failed.join(", ")})` : ""));
    }
  }
  const extraction4 = extraction4Runs > 0 ? await compareExtractionPaths(model, largestThreads, 4, extraction4Runs, log) : undefined;
  // "Best thread setting for each": our best against llama.cpp's best, on the same model and cores.
  const best = (pick: (r: ThreadResult) => number | undefined) => Math.max(...results.map((r) => pick(r) ?? 0));
  const ratios: Record<string, number> = {};
  if (llamaBench) {
    ratios.pp = round(best((r) => r.pp) / best((r) => r.llamaBench?.pp), 3);
    ratios.tg = round(best((r) => r.tg) / best((r) => r.llamaBench?.tg), 3);
  }
  if (llamaBatchedBench) {
    for (const n of sequenceCounts) {
      ratios[`tg${n}`] = round(
        best((r) => r.parallel.find((p) => p.sequences === n)?.generationTokensPerSecond) /
          best((r) => r.llamaBatchedBench?.find((p) => p.sequences === n)?.generationTokensPerSecond),
        3,
      );
    }
  }
  if (extraction4) ratios.extraction4 = extraction4.ratio;
  if (Object.keys(ratios).length > 0) log(`ratios (infer path / llama.cpp, best thread setting each; extraction4: before / now): ${JSON.stringify(ratios)}`);
  const report = {
    bench: "inference",
    model: basename(model),
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    promptTokens,
    genTokens,
    repetitions,
    warmUp: !cold,
    results,
    ...(extraction4 ? { extraction4 } : {}),
    tools: llamaBench || llamaBatchedBench ? toolsBuild : undefined,
    ratios,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
