/**
 * Grammar and sampling per token at 1, 4 and 8 sequences, and whether they hold the sequences up one behind another.
 * Whole extractions through the engine (the invoice schema: the JSON grammar, the repeat penalty and the confidence,
 * as the function runs them), with node-llama-cpp's native decode and sample calls timed. node-llama-cpp has no
 * counters for its sampler, so the bench times the context's native calls (bench/native-calls.ts).
 *
 *   npm run -s bench -- sampling --model <gguf> [--threads 2] [--sequences 1,4,8] [--without-confidence] [--json]
 *
 * `--without-confidence` runs the engine as `LLAMBDA_TOKEN_CONFIDENCE=false` does (no token probabilities read).
 *
 * Per sequence count, over one timed batch (after an untimed one, as a warm container's sequences have the
 * instructions cached):
 *   - each native sample call's wall time (the grammar, the sampler chain, the confidence);
 *   - per decode step, the sampling phase (the decode's end to the last of its sample calls' ends), and the phases'
 *     wall time per sampled token: the figure to compare across sequence counts. It falls as sequences are added
 *     when their sample calls overlap, and stays flat when they run one after another;
 *   - `serial` = phases / the sum of their calls, 1 when the calls ran one after another, lower when they overlapped
 *     (node-llama-cpp runs each on libuv's thread pool);
 *   - the share of the batch's wall time in sampling phases, and in decodes.
 * Medians and means both: a sample call is either quick (the greedy token fits the grammar) or slow (the grammar
 * judges the whole vocabulary), and the median of such a mix says little about the sum.
 */
import { basename } from "node:path";
import { ExtractionEngine } from "../functions/infer/engine.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import { parseModelBenchArgs } from "./args.ts";
import { median, round, sum } from "./corpus.ts";
import { benchChunk } from "./extraction-batch.ts";
import { timeNativeCalls, type CallSpan } from "./native-calls.ts";

const USAGE = "Usage: npm run -s bench -- sampling --model <gguf> [--threads 2] [--sequences 1,4,8] [--without-confidence] [--json]";

export interface SamplingSteps {
  /** Decode steps that had sample calls after them. */
  steps: number;
  sampleCalls: number;
  /** Wall time of one sample call (ms): median and mean. */
  msPerSampleMedian: number;
  msPerSampleMean: number;
  /** Time from a decode's end to its last sample call's end (ms), over steps: median and mean. */
  phaseMsMedian: number;
  phaseMsMean: number;
  /** Sum of phases over the sample calls in them (ms a sampled token). */
  phaseMsPerToken: number;
  /** Sum of phases over sum of sample-call times: 1 = one after another, lower = overlapping. */
  serial: number;
  /** Shares of the span from the first call's start to the last call's end. */
  sampleShare: number;
  decodeShare: number;
}

/**
 * Groups sample calls by the decode they follow (a call belongs to the last decode that ended before it started)
 * and summarizes them. Calls before the first decode are left out.
 */
export function samplingSteps(calls: readonly CallSpan[]): SamplingSteps {
  const decodes = calls.filter((call) => call.kind === "decode").sort((a, b) => a.start - b.start);
  const samples = calls.filter((call) => call.kind === "sample");
  if (decodes.length === 0 || samples.length === 0) throw new Error("samplingSteps needs decode and sample calls");
  const phases: number[] = [];
  const durations: number[] = [];
  for (const [i, decode] of decodes.entries()) {
    const next = decodes[i + 1]?.start ?? Infinity;
    const own = samples.filter((sample) => sample.start >= decode.end && sample.start < next);
    if (own.length === 0) continue;
    durations.push(...own.map((sample) => sample.end - sample.start));
    phases.push(Math.max(...own.map((sample) => sample.end)) - decode.end);
  }
  const span = Math.max(...calls.map((call) => call.end)) - Math.min(...calls.map((call) => call.start));
  return {
    steps: phases.length,
    sampleCalls: durations.length,
    msPerSampleMedian: round(median(durations), 3),
    msPerSampleMean: round(sum(durations) / durations.length, 3),
    phaseMsMedian: round(median(phases), 3),
    phaseMsMean: round(sum(phases) / phases.length, 3),
    phaseMsPerToken: round(sum(phases) / durations.length, 3),
    serial: round(sum(phases) / sum(durations), 3),
    sampleShare: round(sum(phases) / span, 3),
    decodeShare: round(sum(decodes.map((decode) => decode.end - decode.start)) / span, 3),
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseModelBenchArgs(argv, {
    threads: { type: "string", default: "2" },
    sequences: { type: "string", default: "1,4,8" },
    "without-confidence": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  }, USAGE);
  if (!parsed) return 2;
  const { values, model } = parsed;
  const threads = Number(values.threads);
  const sequenceCounts = String(values.sequences).split(",").map(Number);
  if ([threads, ...sequenceCounts].some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write(`Counts must be positive integers.\n${USAGE}\n`);
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const engine = await ExtractionEngine.load({
    modelPath: model,
    modelId: basename(model),
    threads,
    contextSize: 4096,
    maxOutputTokens: 512,
    schema: getExtractionSchema("invoice"),
    sequences: Math.max(...sequenceCounts),
    tokenConfidence: values["without-confidence"] !== true,
  });
  const results: Array<{ sequences: number; wallMs: number; tokensOut: number; failed: string[] } & SamplingSteps> = [];
  try {
    const context = await engine.withSequence(async (sequence) => sequence.context);
    for (const n of sequenceCounts) {
      // Untimed: every sequence evaluates the instructions once.
      await engine.extractAll(Array.from({ length: n }, (_, i) => benchChunk(1000 + i)));
      const calls: CallSpan[] = [];
      const stop = timeNativeCalls(context, calls);
      const started = performance.now();
      let outcomes: Awaited<ReturnType<ExtractionEngine["extractAll"]>>;
      try {
        outcomes = await engine.extractAll(Array.from({ length: n }, (_, i) => benchChunk(2000 + 10 * n + i)));
      } finally {
        stop();
      }
      const wallMs = round(performance.now() - started, 0);
      const tokensOut = outcomes.reduce((sum, outcome) => sum + (outcome.ok ? outcome.extraction.tokensOut : 0), 0);
      const failed = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.error.name]));
      const steps = samplingSteps(calls);
      results.push({ sequences: n, wallMs, tokensOut, failed, ...steps });
      log(
        `${n} seq: ${steps.sampleCalls} sampled tokens in ${steps.steps} steps; a sample call ${steps.msPerSampleMedian} ms ` +
          `(mean ${steps.msPerSampleMean}); phase ${steps.phaseMsMedian} ms a step (mean ${steps.phaseMsMean}), ` +
          `${steps.phaseMsPerToken} ms a sampled token; serial ×${steps.serial}; wall ${wallMs} ms: sampling ${Math.round(steps.sampleShare * 100)} %, ` +
          `decodes ${Math.round(steps.decodeShare * 100)} %` + (failed.length > 0 ? ` (failed: ${failed.join(", ")})` : ""),
      );
    }
  } finally {
    await engine.dispose();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ bench: "sampling", model: basename(model), threads, tokenConfidence: values["without-confidence"] !== true, binary: engine.binary, results }, null, 2)}\n`);
  }
  return 0;
}
