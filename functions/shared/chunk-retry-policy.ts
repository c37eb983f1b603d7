import { ErrorNames } from "./errors.ts";

/**
 * The part of the retry policy that applies to single chunks, inside the inference function: these errors do not fail
 * the task (the rest of the batch is fine), so Step Functions' Retry never sees them. statemachine/retry-policy.ts
 * re-exports this beside the workflow's rules, so the whole policy reads in one place.
 */
export const chunkRetryPolicy = {
  /** A smaller piece of the text can avoid these: the chunk is split in two and the halves extracted anew. */
  split: [ErrorNames.DeadlineExceeded, ErrorNames.ChunkTooLarge] as readonly string[],
  /** An answer cut at the token cap: retried once, in a fresh invocation, with `factor` times the answer budget. */
  largerAnswerBudget: { errors: [ErrorNames.OutputTruncated] as readonly string[], factor: 2, retries: 1 },
} as const;
