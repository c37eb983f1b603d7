import { describe, expect, it } from "vitest";
import { parseEvalTime } from "../../bench/decode-share.ts";

// As llama.cpp's llama_perf_context_print writes them (node-llama-cpp passes each to the logger).
const printed = [
  "llama_perf_context_print:        load time =       0.00 ms",
  "llama_perf_context_print: prompt eval time =      12.50 ms /     1 tokens (   12.50 ms per token,    80.00 tokens per second)",
  "llama_perf_context_print:        eval time =    2841.26 ms /   127 runs   (   22.37 ms per token,    44.70 tokens per second)",
  "llama_perf_context_print:       total time =    2900.00 ms /   128 tokens",
];

describe("parseEvalTime", () => {
  it("reads the generation counters, not the prompt's", () => {
    expect(parseEvalTime(printed)).toEqual({ ms: 2841.26, runs: 127 });
    expect(parseEvalTime([printed[1]!, printed[2]!])).toEqual({ ms: 2841.26, runs: 127 });
  });

  it("is undefined when no generation counters were printed", () => {
    expect(parseEvalTime([printed[0]!, printed[1]!, printed[3]!])).toBeUndefined();
    expect(parseEvalTime([])).toBeUndefined();
  });
});
