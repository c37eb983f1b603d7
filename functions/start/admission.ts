/**
 * Admission control for bursts: uploads wait in the SQS queue, and a document starts only while fewer than
 * `maxRunningDocuments` executions run. That keeps a burst inside the account's 1,000 open Distributed Map runs and
 * the inference function's concurrency, instead of failing on throttles (docs/resilience.md → Bursts).
 */

/** Open Map Runs are capped at 1,000 per account; keep room for other workflows. */
export const openMapRunsHeadroom = 900;

/**
 * Start invocations that may run at once (the queue's event source mapping maximum concurrency; SQS's minimum is 2).
 * Each one takes only its share of the free room, so together they never overshoot the limit by more than one each.
 */
export const uploadPollers = 2;

/** Upload messages one start invocation receives. */
export const uploadBatchSize = 10;

/** Receives of an upload message (each wait for room counts one) before it goes to the dead-letter queue. */
export const uploadQueueMaxReceiveCount = 400;

/**
 * Documents that may run at once: each runs up to `maxConcurrency` inference invocations, and together they should
 * stay within the inference concurrency (the function's reserved concurrency, else the account's default of 1,000,
 * of which 80 % is taken so other functions keep some).
 */
export function maxRunningDocumentsFor(options: { maxConcurrency: number; inferReservedConcurrency?: number }): number {
  const inferConcurrency = options.inferReservedConcurrency ?? Math.floor(1000 * 0.8);
  return Math.max(1, Math.min(openMapRunsHeadroom, Math.floor(inferConcurrency / options.maxConcurrency)));
}

export interface QueuedUpload<T> {
  /** SQS message id, reported back when the upload must wait. */
  messageId: string;
  body: T;
}

export interface AdmissionOutcome {
  started: string[];
  /** Already started before (a duplicate message): done, nothing to do. */
  duplicates: string[];
  /** Left in the queue: no room, or the start failed transiently. They come back after the visibility timeout. */
  waiting: string[];
}

/**
 * Starts queued uploads in order while the running count stays below the limit; the rest wait. `start` resolves
 * "started" or "duplicate" (ExecutionAlreadyExists) and throws on other errors (the upload waits and is tried again).
 */
export async function admitUploads<T>(
  uploads: ReadonlyArray<QueuedUpload<T>>,
  options: {
    maxRunningDocuments: number;
    /** Start invocations that may be admitting at the same time (they all see the same running count). */
    pollers?: number;
    countRunning: (atLeast: number) => Promise<number>;
    start: (body: T) => Promise<"started" | "duplicate">;
    onStartError?: (messageId: string, error: unknown) => void;
  },
): Promise<AdmissionOutcome> {
  const outcome: AdmissionOutcome = { started: [], duplicates: [], waiting: [] };
  const running = await options.countRunning(options.maxRunningDocuments);
  // This invocation's share of the free room (rounded up, so a single free slot is still taken).
  let room = Math.ceil(Math.max(0, options.maxRunningDocuments - running) / (options.pollers ?? 1));
  for (const upload of uploads) {
    if (room <= 0) {
      outcome.waiting.push(upload.messageId);
      continue;
    }
    try {
      const result = await options.start(upload.body);
      if (result === "started") {
        room--;
        outcome.started.push(upload.messageId);
      } else {
        outcome.duplicates.push(upload.messageId);
      }
    } catch (error) {
      options.onStartError?.(upload.messageId, error);
      outcome.waiting.push(upload.messageId);
    }
  }
  return outcome;
}
