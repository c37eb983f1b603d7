import { describe, expect, it } from "vitest";
import { pairedShare, seededRandom } from "../../bench/paired.ts";

describe("pairedShare", () => {
  it("is the median pair difference over the baseline's median, with an interval around it", () => {
    const baseline = [100, 102, 98, 101, 99, 100, 103, 97];
    const variant = baseline.map((ms) => ms + 3);
    const result = pairedShare(baseline, variant);
    expect(result.share).toBeCloseTo(0.03, 2);
    expect(result.low).toBeLessThanOrEqual(result.share);
    expect(result.high).toBeGreaterThanOrEqual(result.share);
  });

  it("is not moved by a slow moment that slows both sides of a pair, where the medians' difference is", () => {
    const baseline = [100, 100, 100, 300, 300, 300, 300];
    const variant = [101, 101, 101, 301, 301, 301, 301];
    // Each pair differs by 1 ms; the median of the pairs says so, against a baseline median of 300 ms.
    expect(pairedShare(baseline, variant).share).toBeCloseTo(1 / 300, 4);
  });

  it("widens its interval when the pairs disagree", () => {
    const random = seededRandom(5);
    const baseline = Array.from({ length: 40 }, () => 100);
    const steady = pairedShare(baseline, baseline.map((ms) => ms + 2));
    const noisy = pairedShare(baseline, baseline.map((ms) => ms + 2 + (random() - 0.5) * 40));
    expect(steady.high - steady.low).toBeLessThan(1e-9);
    expect(noisy.high - noisy.low).toBeGreaterThan(0.02);
  });

  it("refuses runs that do not pair up", () => {
    expect(() => pairedShare([1, 2], [1])).toThrow(/as many/);
  });
});
