import type { Context } from "aws-lambda";
import type { LambdaArchitecture } from "./cost.ts";

/**
 * What a function's invocations of one document used, as Lambda bills it: measured here, in the function, and carried
 * with its output to the merge, which records the document's cost (functions/merge/document-cost.ts).
 */
export interface FunctionUsage {
  invocations: number;
  /** Handler time plus, for a cold start, the init phase (billed too), rounded up to whole milliseconds. */
  billedMs: number;
  memoryMb: number;
  architecture: LambdaArchitecture;
  /** S3 requests the function made for the document. */
  s3Gets: number;
  s3Puts: number;
}

/** The process's architecture in Lambda's terms. */
export function lambdaArchitecture(arch: string = process.arch): LambdaArchitecture {
  return arch === "arm64" ? "arm64" : "x86_64";
}

/**
 * Times a handler module's init: call it first thing in the module's top-level code, and the returned function at
 * the end of it. It counts the module's own setup (configuration, clients, the model load), not the runtime's start
 * or the imports before it (well under a second), and it stays right when several handlers share one process (the
 * local twin), where the process's uptime would not.
 */
export function startInitClock(): () => number {
  const started = performance.now();
  return () => Math.ceil(performance.now() - started);
}

/**
 * Starts measuring one invocation. `coldStartInitMs` is the init phase's duration when this is the container's first
 * invocation (Lambda bills the init phase), else undefined.
 */
export function startInvocation(context: Partial<Pick<Context, "memoryLimitInMB">> | undefined, coldStartInitMs?: number) {
  const started = performance.now();
  const memoryMb = Number(context?.memoryLimitInMB ?? process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? 0);
  return (requests: { s3Gets?: number; s3Puts?: number } = {}): FunctionUsage => ({
    invocations: 1,
    billedMs: Math.ceil(performance.now() - started) + (coldStartInitMs ?? 0),
    memoryMb: Number.isFinite(memoryMb) ? memoryMb : 0,
    architecture: lambdaArchitecture(),
    s3Gets: requests.s3Gets ?? 0,
    s3Puts: requests.s3Puts ?? 0,
  });
}

/** The usage of two sets of invocations of the same function (a Map child's passes). */
export function addUsage(a: FunctionUsage | undefined, b: FunctionUsage): FunctionUsage {
  if (!a) return b;
  return {
    invocations: a.invocations + b.invocations,
    billedMs: a.billedMs + b.billedMs,
    // One function, one configuration: the latest invocation's.
    memoryMb: b.memoryMb,
    architecture: b.architecture,
    s3Gets: a.s3Gets + b.s3Gets,
    s3Puts: a.s3Puts + b.s3Puts,
  };
}
