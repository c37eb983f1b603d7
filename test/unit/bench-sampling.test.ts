import { describe, expect, it } from "vitest";
import type { CallSpan } from "../../bench/native-calls.ts";
import { samplingSteps } from "../../bench/sampling.ts";

const decode = (start: number, end: number): CallSpan => ({ kind: "decode", start, end });
const sample = (start: number, end: number): CallSpan => ({ kind: "sample", start, end });

describe("samplingSteps", () => {
  it("gives serial 1 when a step's sample calls run one after another", () => {
    const steps = samplingSteps([decode(0, 10), sample(10, 12), sample(12, 14), decode(14, 24), sample(24, 26), sample(26, 28)]);
    expect(steps.steps).toBe(2);
    expect(steps.sampleCalls).toBe(4);
    expect(steps.msPerSampleMedian).toBe(2);
    expect(steps.phaseMsMedian).toBe(4);
    expect(steps.phaseMsPerToken).toBe(2);
    expect(steps.serial).toBe(1);
    expect(steps.sampleShare).toBeCloseTo(8 / 28, 3);
    expect(steps.decodeShare).toBeCloseTo(20 / 28, 3);
  });

  it("gives serial below 1 when they overlap, and groups each call with the decode that ended before it began", () => {
    // Two calls side by side after the first decode; the third starts after the second decode's end.
    const steps = samplingSteps([decode(0, 10), sample(10, 14), sample(10.5, 14), decode(15, 25), sample(25, 29)]);
    expect(steps.steps).toBe(2);
    expect(steps.phaseMsMedian).toBe(4);
    // Two tokens in the first phase's 4 ms: overlapping calls cost less wall time a token than one alone.
    expect(steps.phaseMsPerToken).toBeCloseTo((4 + 4) / 3, 3);
    expect(steps.serial).toBeCloseTo((4 + 4) / (4 + 3.5 + 4), 3);
  });

  it("gives means beside medians, which differ when quick and slow calls mix", () => {
    // Three quick steps and one slow one, as when the grammar now and then judges the whole vocabulary.
    const steps = samplingSteps([
      decode(0, 10), sample(10, 11), decode(11, 21), sample(21, 22), decode(22, 32), sample(32, 33), decode(33, 43), sample(43, 52),
    ]);
    expect(steps.msPerSampleMedian).toBe(1);
    expect(steps.msPerSampleMean).toBe(3);
    expect(steps.phaseMsMedian).toBe(1);
    expect(steps.phaseMsMean).toBe(3);
    expect(steps.phaseMsPerToken).toBe(3);
  });

  it("leaves out calls before the first decode and refuses a run without both kinds", () => {
    const steps = samplingSteps([sample(-5, -3), decode(0, 10), sample(10, 11)]);
    expect(steps.sampleCalls).toBe(1);
    expect(steps.msPerSampleMedian).toBe(1);
    expect(steps.phaseMsMedian).toBe(1);
    expect(() => samplingSteps([decode(0, 1)])).toThrow(/needs decode and sample calls/);
  });
});
