import { describe, expect, it } from "vitest";
import { decodesPerToken, pairedRatio } from "../../bench/inference.ts";

describe("pairedRatio", () => {
  it("divides each repetition by the tool's sample of the same repetition, not median by median", () => {
    // The ratio of the two medians would be 90 / 80 = 1.125: it pairs the infer path's run with another run's tool.
    const paired = pairedRatio([40, 90, 100], [50, 100, 80]);
    expect(paired.median).toBe(0.9);
    expect(paired.range).toEqual([0.8, 1.25]);
  });

  it("gives the median over each order: the infer path first in even repetitions, the tools first in odd ones", () => {
    const paired = pairedRatio([90, 100, 92, 100, 94], [100, 100, 100, 100, 100]);
    expect(paired.oursFirst).toBe(0.92);
    expect(paired.toolsFirst).toBe(1);
    expect(paired.median).toBe(0.94);
    expect(paired.range).toEqual([0.9, 1]);
  });

  it("has no tools-first figure for a single repetition, and refuses unpaired samples", () => {
    expect(pairedRatio([40], [50])).toEqual({ median: 0.8, range: [0.8, 0.8], oursFirst: 0.8 });
    expect(() => pairedRatio([40, 41], [50])).toThrow(/one tool sample per infer-path sample/);
    expect(() => pairedRatio([], [])).toThrow();
  });
});

describe("decodesPerToken", () => {
  it("gives 1 / sequences when each step decodes every sequence's token at once", () => {
    // Prompts end at 10 (the last first token). Then 3 steps of 4 sequences: a decode ends, four tokens follow.
    const decodeEnds = [5, 9, 12, 22, 32];
    const tokens = [6, 6, 6, 10, ...[12, 22, 32].flatMap((end) => [end + 1, end + 1, end + 2, end + 3])];
    expect(decodesPerToken(decodeEnds, tokens, 10)).toBe(0.25);
  });

  it("gives 1 when every sequence's token takes a decode of its own", () => {
    const decodeEnds = [10, 11, 12, 13, 14];
    const tokens = [10, 11.5, 12.5, 13.5, 14.5];
    expect(decodesPerToken(decodeEnds, tokens, 10)).toBe(1);
  });

  it("has no figure without tokens after the prompts", () => {
    expect(decodesPerToken([1, 2], [1, 2], 2)).toBeNaN();
  });
});
