/**
 * Where a generated token's time goes: inside llama_decode (llama.cpp's own counters, `performanceTracking`) against
 * the wall time per token, for one sequence generating greedily without a grammar, on the binary the engine loads
 * (functions/infer/llama-binary.ts), alternating with llama-bench's tg in the same run when LLAMA_BENCH is given.
 * It separates the two parts of the `tg` ratio of `npm run bench -- inference`: the decode itself, which llama-bench
 * also does, and the work between decodes (sampling, node-llama-cpp's evaluation loop), which llama-bench does not.
 *
 *   LLAMA_BENCH=<llama-bench> npm run bench -- decode-share --model <gguf> [--threads 2] [--gen-tokens 128]
 *     [--context-size 4096] [--repetitions 5] [--cold] [--json]
 *
 * Each repetition first generates a few tokens, as llama-bench warms up before each run (`--cold` leaves them out).
 */
import { LlamaLogLevel, type Token } from "node-llama-cpp";
import { loadLlamaBinary } from "../functions/infer/llama-binary.ts";
import { parseModelBenchArgs } from "./args.ts";
import { median, round } from "./corpus.ts";
import { noEndBias, runLlamaBench, summary } from "./inference.ts";

const USAGE =
  "Usage: [LLAMA_BENCH=<llama-bench>] npm run bench -- decode-share --model <gguf> [--threads 2] [--gen-tokens 128] " +
  "[--context-size 4096] [--repetitions 5] [--cold] [--json]";

/**
 * llama.cpp's generation counters from `llama_perf_context_print` lines: "eval time = X ms / N runs" (not the
 * "prompt eval time" line). Undefined when the lines hold none.
 */
export function parseEvalTime(lines: string[]): { ms: number; runs: number } | undefined {
  for (const line of lines) {
    if (/prompt eval time/.test(line)) continue;
    const match = /\beval time\s*=\s*([\d.]+) ms\s*\/\s*(\d+) runs/.exec(line);
    if (match) return { ms: Number(match[1]), runs: Number(match[2]) };
  }
  return undefined;
}

interface Sample {
  /** Generated tokens per second of wall time, the first token excluded (it comes from the prompt's decode). */
  wallTokensPerSecond: number;
  /** The same tokens over the time llama.cpp spent in llama_decode for them. */
  decodeTokensPerSecond: number;
  /** Wall time per token outside llama_decode (ms). */
  outsideDecodeMs: number;
  llamaBenchTg?: number;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseModelBenchArgs(argv, {
    threads: { type: "string", default: "2" },
    "gen-tokens": { type: "string", default: "128" },
    "context-size": { type: "string", default: "4096" },
    repetitions: { type: "string", default: "5" },
    cold: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  }, USAGE);
  if (!parsed) return 2;
  const { values, model } = parsed;
  const threads = Number(values.threads);
  const genTokens = Number(values["gen-tokens"]);
  const repetitions = Number(values.repetitions);
  const contextSize = Number(values["context-size"]);
  if ([threads, genTokens, repetitions, contextSize].some((n) => !Number.isInteger(n) || n < 1) || genTokens < 2 || contextSize <= genTokens) {
    process.stderr.write(`Counts must be positive integers (--gen-tokens at least 2, --context-size more than --gen-tokens).\n${USAGE}\n`);
    return 2;
  }
  const llamaBench = process.env.LLAMA_BENCH;
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const { llama, buildType } = await loadLlamaBinary({ threads });
  // llama.cpp prints its counters at info level; everything else keeps the engine's level (warn).
  const perfLines: string[] = [];
  llama.logLevel = LlamaLogLevel.info;
  llama.logger = (level, message) => {
    if (message.includes("llama_perf_context_print")) perfLines.push(message);
    else if (level === LlamaLogLevel.error || level === LlamaLogLevel.warn || level === LlamaLogLevel.fatal) log(message.trimEnd());
  };
  const samples: Sample[] = [];
  try {
    const loaded = await llama.loadModel({ modelPath: model });
    // By default the engine's context shape for one sequence (bench/inference.ts's contexts are at least 4,096 tokens).
    const context = await loaded.createContext({ contextSize, sequences: 1, threads: { ideal: threads, min: threads }, performanceTracking: true });
    const sequence = context.getSequence();
    const first = loaded.tokenize("Report").slice(0, 1) as Token[];
    for (let r = -1; r < repetitions; r++) {
      // The first decodes after another process has run are slower (docs/performance.md).
      if (!values.cold) {
        await sequence.clearHistory();
        const warmUp = sequence.evaluate(first, { temperature: 0, tokenBias: noEndBias(loaded) });
        for (let step = await warmUp.next(), count = 1; !step.done && count < 4; step = await warmUp.next()) count++;
        await warmUp.return();
      }
      await sequence.clearHistory();
      const generator = sequence.evaluate(first, { temperature: 0, tokenBias: noEndBias(loaded) });
      let count = 0;
      let start = 0;
      for (let step = await generator.next(); !step.done; step = await generator.next()) {
        if (count === 0) {
          // The counters from here on cover exactly the generated tokens after the first.
          await context.printTimings();
          perfLines.length = 0;
          start = performance.now();
        }
        if (++count >= genTokens) break;
      }
      const wallMs = performance.now() - start;
      await generator.return();
      await context.printTimings();
      const evalTime = parseEvalTime(perfLines.join("\n").split("\n"));
      perfLines.length = 0;
      if (r < 0) continue; // warm-up
      if (!evalTime || evalTime.runs !== genTokens - 1) throw new Error(`llama.cpp's counters not as expected: ${JSON.stringify(evalTime)}`);
      const tokens = genTokens - 1;
      const sample: Sample = {
        wallTokensPerSecond: round((tokens * 1000) / wallMs, 1),
        decodeTokensPerSecond: round((tokens * 1000) / evalTime.ms, 1),
        outsideDecodeMs: round((wallMs - evalTime.ms) / tokens, 3),
      };
      // With a 16-token prompt test beside tg: runLlamaBench expects both of llama-bench's rows.
      if (llamaBench) sample.llamaBenchTg = (await runLlamaBench(llamaBench, model, threads, 16, genTokens, 1)).tg;
      log(
        `rep ${r + 1}: wall ${sample.wallTokensPerSecond} t/s, in llama_decode ${sample.decodeTokensPerSecond} t/s, ` +
          `${sample.outsideDecodeMs} ms a token outside it` + (sample.llamaBenchTg ? ` | llama-bench tg ${sample.llamaBenchTg}` : ""),
      );
      samples.push(sample);
    }
    await context.dispose();
    await loaded.dispose();
  } finally {
    await llama.dispose();
  }
  const tools = samples.flatMap((s) => (s.llamaBenchTg ? [s.llamaBenchTg] : []));
  const result = {
    model,
    threads,
    contextSize,
    genTokens,
    repetitions,
    warmUp: !values.cold,
    llamaBuild: buildType,
    wallTokensPerSecond: summary(samples.map((s) => s.wallTokensPerSecond)),
    decodeTokensPerSecond: summary(samples.map((s) => s.decodeTokensPerSecond)),
    outsideDecodeMs: summary(samples.map((s) => s.outsideDecodeMs), 3),
    ...(tools.length > 0
      ? {
          llamaBenchTg: summary(tools),
          ratios: {
            wall: round(median(samples.map((s) => s.wallTokensPerSecond)) / median(tools), 3),
            decode: round(median(samples.map((s) => s.decodeTokensPerSecond)) / median(tools), 3),
          },
        }
      : {}),
  };
  log(
    `${buildType}, ${threads} threads: wall ${result.wallTokensPerSecond.median} t/s, in llama_decode ${result.decodeTokensPerSecond.median} t/s, ` +
      `${result.outsideDecodeMs.median} ms a token outside it` +
      ("ratios" in result ? ` | llama-bench ${result.llamaBenchTg?.median}: wall ×${result.ratios?.wall}, decode ×${result.ratios?.decode}` : ""),
  );
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
