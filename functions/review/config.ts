import { intEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";

export interface ReviewConfig {
  /** The documents table: the item says what to show and where the page goes. */
  table: string;
  /** The bucket of layouts, offloaded results and review pages. */
  bucket: string;
  /** Most pages one review page shows (each an embedded image: this bounds its size). */
  maxPages: number;
}

/** LLAMBDA_REVIEW_MAX_PAGES: a review page shows at most this many pages (functions/review/pages-to-show.ts picks them). */
export const reviewMaxPagesRange = { min: 1, max: 100 } as const;
export const DEFAULT_REVIEW_MAX_PAGES = 20;

/** The one validator of the review function's settings: handler init, the twin, and the stack at synth time. */
export function readReviewConfig(env: Env): ReviewConfig {
  return {
    table: requireEnv(EnvNames.table, env),
    bucket: requireEnv(EnvNames.bucket, env),
    maxPages: intEnv(EnvNames.reviewMaxPages, DEFAULT_REVIEW_MAX_PAGES, reviewMaxPagesRange, env),
  };
}
