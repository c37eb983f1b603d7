import type { Context } from "aws-lambda";
import { addInvocationContext, logger } from "./logger.ts";
import { metrics, publishMetrics } from "./metrics.ts";
import { startInitClock, startInvocation, type FunctionUsage } from "./invocation-usage.ts";

/** The log keys that tie an invocation's lines to its document and execution. */
export interface CorrelationKeys {
  document?: string;
  execution?: string;
}

/** What a handler body gets besides its event. */
export interface Invocation {
  context: Partial<Context> | undefined;
  /** The invocation's usage so far, as Lambda bills it (the first invocation also carries the init phase). */
  usage(requests?: { s3Gets?: number; s3Puts?: number }): FunctionUsage;
}

export interface InvocationOptions<Event> {
  /** The handler's init time, ms (a factory's `startInitClock()`): billed with the first invocation. */
  initMs: number;
  /** Correlation keys of the invocation's event; they go on every log line and into the metrics' metadata. */
  correlate?: (event: Event) => CorrelationKeys;
  /** Flush the metrics (EMF) when the invocation ends. Default true. */
  metrics?: boolean;
}

export type LambdaHandler<Event, Result> = (event: Event, context?: Partial<Context>) => Promise<Result>;

/**
 * The one invocation ritual of every handler: Lambda's context on the log lines, the cold start's init billed once,
 * correlation keys on, metrics flushed and the keys taken off again whatever happens. Ours rather than Powertools'
 * `injectLambdaContext`/`logMetrics`: those are Middy middleware or class-method decorators, our handlers are plain
 * functions made by factories, and the billed-usage clock (docs/cost.md) has no Powertools counterpart.
 */
export function invocationHandler<Event, Result>(
  options: InvocationOptions<Event>,
  body: (event: Event, invocation: Invocation) => Promise<Result>,
): LambdaHandler<Event, Result> {
  let coldStartInitMs: number | undefined = options.initMs;
  return async (event, context) => {
    addInvocationContext(context);
    const usage = startInvocation(context, coldStartInitMs);
    coldStartInitMs = undefined;
    const keys = Object.fromEntries(
      Object.entries(options.correlate?.(event) ?? {}).filter(([, value]) => typeof value === "string" && value !== ""),
    ) as Record<string, string>;
    logger.appendKeys(keys);
    for (const [key, value] of Object.entries(keys)) metrics.addMetadata(key, value);
    try {
      return await body(event, { context, usage });
    } finally {
      if (options.metrics !== false) publishMetrics();
      logger.removeKeys(Object.keys(keys));
    }
  };
}

export { startInitClock };
