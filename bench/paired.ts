import { quantile } from "./corpus.ts";

/** A deterministic pseudo-random source in [0, 1) (a linear congruential generator): reruns see the same numbers. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface PairedShare {
  /** median(variant − baseline, pair by pair) / median(baseline): what the variant adds, as a share of the baseline. */
  share: number;
  /** A 95 % bootstrap interval of `share` (pairs resampled with replacement). */
  low: number;
  high: number;
}

/**
 * What a variant adds to a baseline measured in pairs (run i of each taken side by side, so a slow moment of the
 * machine slows both): the median of the pairs' differences, not the difference of the medians, which a few slow
 * runs on one side move. The interval says how far the figure can be trusted at this many pairs.
 */
export function pairedShare(baseline: readonly number[], variant: readonly number[], resamples = 2000, seed = 1): PairedShare {
  if (baseline.length !== variant.length || baseline.length === 0) throw new Error("pairedShare needs as many variant runs as baseline runs, at least one");
  const shareOf = (indexes: readonly number[]) =>
    quantile(indexes.map((i) => variant[i]! - baseline[i]!), 0.5) / quantile(indexes.map((i) => baseline[i]!), 0.5);
  const all = baseline.map((_, i) => i);
  const random = seededRandom(seed);
  const shares = Array.from({ length: resamples }, () => shareOf(all.map(() => Math.floor(random() * all.length))));
  return { share: shareOf(all), low: quantile(shares, 0.025), high: quantile(shares, 0.975) };
}
