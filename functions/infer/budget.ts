/**
 * Time budgets for extraction inside one Lambda invocation. Lambda kills an invocation at its timeout, mid-answer and
 * without a word; so each invocation works to a deadline short of that, and each chunk is planned from the speeds
 * measured so far in this container before any of its tokens are evaluated.
 */

export interface Deadline {
  /** Epoch milliseconds after which no chunk may keep evaluating. */
  at: number;
  /** What a fresh invocation has from start to deadline: decides between "later" and "never in one piece". */
  freshBudgetMs: number;
}

/** Lambda's remaining time minus the margin needed to return the results (serialize, respond). */
export function deadlineFrom(remainingMs: number, safetyMarginMs: number, now = Date.now()): Deadline {
  const budget = Math.max(0, remainingMs - safetyMarginMs);
  return { at: now + budget, freshBudgetMs: budget };
}

/** Per-sequence speeds measured in this container (tokens per second), absent until measured. */
export interface MeasuredSpeeds {
  promptTokensPerSecond?: number;
  generationTokensPerSecond?: number;
  /** Typical answer length so far, in tokens. */
  outputTokens?: number;
}

export type ChunkPlan =
  | { decision: "run"; estimatedMs: number | undefined; maxTokens: number }
  /** Cannot finish before this invocation's deadline, but would in a fresh invocation: leave it for the next one. */
  | { decision: "later"; estimatedMs: number }
  /** Would not finish even in a fresh invocation: split it. */
  | { decision: "split"; estimatedMs: number };

/**
 * Whether to start a chunk now. `promptTokens` are the tokens still to evaluate (after prefix reuse). The answer
 * budget is the configured cap, lowered to what the remaining time allows at the measured generation speed.
 */
export function planChunk(args: {
  promptTokens: number;
  maxOutputTokens: number;
  speeds: MeasuredSpeeds;
  deadline: Deadline;
  now?: number;
}): ChunkPlan {
  const { speeds, deadline } = args;
  const now = args.now ?? Date.now();
  const remainingMs = deadline.at - now;
  if (remainingMs <= 0) return { decision: "later", estimatedMs: 0 };
  const promptMs = speeds.promptTokensPerSecond ? (args.promptTokens / speeds.promptTokensPerSecond) * 1000 : undefined;
  const tg = speeds.generationTokensPerSecond;
  const expectedOutput = Math.min(args.maxOutputTokens, speeds.outputTokens ?? 0);
  const generationMs = tg ? (expectedOutput / tg) * 1000 : undefined;
  if (promptMs === undefined || generationMs === undefined) {
    // Nothing measured yet: start, and let the per-token deadline check stop it if need be.
    return { decision: "run", estimatedMs: undefined, maxTokens: args.maxOutputTokens };
  }
  const estimatedMs = promptMs + generationMs;
  if (estimatedMs > deadline.freshBudgetMs) return { decision: "split", estimatedMs };
  if (estimatedMs > remainingMs) return { decision: "later", estimatedMs };
  const timeLimitedTokens = Math.floor(((remainingMs - promptMs) / 1000) * (tg ?? 0));
  return { decision: "run", estimatedMs, maxTokens: Math.max(1, Math.min(args.maxOutputTokens, timeLimitedTokens)) };
}

/** Exponential moving average that starts at the first sample. */
export function movingAverage(previous: number | undefined, sample: number, weight = 0.3): number {
  return previous === undefined ? sample : previous + weight * (sample - previous);
}

/** Folds one chunk's prompt and answer timings into the speeds measured in this container. */
export function learnSpeeds(measured: MeasuredSpeeds, promptTokens: number, promptMs: number, outputTokens: number, generationMs: number): void {
  // Short runs say more about overheads than speed.
  if (promptTokens >= 32 && promptMs > 0) {
    measured.promptTokensPerSecond = movingAverage(measured.promptTokensPerSecond, (promptTokens * 1000) / promptMs);
  }
  if (outputTokens >= 8 && generationMs > 0) {
    measured.generationTokensPerSecond = movingAverage(
      measured.generationTokensPerSecond,
      ((outputTokens - 1) * 1000) / generationMs,
    );
  }
  if (outputTokens > 0) measured.outputTokens = movingAverage(measured.outputTokens, outputTokens);
}
