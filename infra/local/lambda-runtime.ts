import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import "../dev-worker-bundle.ts"; // handlers run from source here: the extraction worker is bundled in memory

/**
 * Runs Lambda handlers in this process, the way Lambda would call them: each function's init runs once (like a
 * container's init phase), each call gets a Context with a real deadline, and a thrown error is reported the way
 * Lambda reports it to Step Functions (errorType = the error's name).
 *
 * Timeout and memory are enforced the way Lambda enforces them, as far as one process can: at the timeout the caller
 * gets Sandbox.Timedout, and when the process grows by more than the function's memory size during an invocation
 * (sampled every MEMORY_SAMPLE_MS) the caller gets Runtime.OutOfMemory, so a file that would be killed on Lambda
 * fails here too. Growth, not total: the twin's process holds every function and the services' clients, so the
 * bound is lenient (a function's own baseline is not charged). While other invocations run at the same time, growth
 * is theirs as much as this one's: the baseline moves up to the current size instead, so concurrency never fails an
 * invocation that Lambda would have let finish (it may let through one Lambda would have killed). The handler's
 * promise is abandoned in both cases (it cannot be killed in-process).
 */
const MEMORY_SAMPLE_MS = 20;
const MB = 1024 * 1024;
export interface LocalFunction {
  /** The name tasks use in FunctionName (an ARN or a plain name). */
  name: string;
  /**
   * The function's init phase: builds its handler (the twin: the catalogue's factory with the function's own
   * configuration). Run once, at the first invocation; a failed init is retried at the next, as Lambda does.
   */
  init: () => Promise<Handler>;
  timeoutSeconds: number;
  memoryMb: number;
  /**
   * Containers: invocations beyond this many wait for one to finish (their timeout starts when they run). Lambda
   * would start more containers; in one process the inference function's model, context and sequences exist once,
   * so the twin models it as one container. Default: unlimited.
   */
  containers?: number;
}

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** An init phase that imports a module exporting `handler` (a Lambda entry, or a test's handler file). */
export function handlerModule(modulePath: string): () => Promise<Handler> {
  return async () => {
    const module = (await import(pathToFileURL(modulePath).href)) as { handler?: Handler };
    if (typeof module.handler !== "function") throw new Error(`${modulePath} does not export a handler function`);
    return module.handler;
  };
}

/**
 * Decides, per invocation, whether it fails as if the function had thrown: returns the error (its `name` becomes the
 * errorType) or undefined. Tests force failures with it; nothing in the handlers knows.
 */
export type FaultInjector = (functionName: string, event: unknown) => Error | undefined;

/** An invocation error in the shape Step Functions sees: name = errorType, message = Lambda's JSON error payload. */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(JSON.stringify({ errorType, errorMessage, trace: [] }));
    this.name = errorType;
  }
}

export class LocalLambdaRuntime {
  private readonly functions = new Map<string, LocalFunction>();
  private readonly loaded = new Map<string, Promise<Handler>>();
  private readonly running = new Map<string, number>();
  private readonly queued = new Map<string, Array<() => void>>();
  /** Invocations whose handler is running, of any function (for the memory bound's attribution). */
  private inFlight = 0;

  constructor(
    functions: LocalFunction[],
    private readonly injectFault?: FaultInjector,
  ) {
    for (const fn of functions) this.functions.set(fn.name, fn);
  }

  private handlerOf(fn: LocalFunction): Promise<Handler> {
    let handler = this.loaded.get(fn.name);
    if (!handler) {
      handler = fn.init();
      // A failed init is retried on the next invocation, as Lambda does with a new container.
      handler.catch(() => this.loaded.delete(fn.name));
      this.loaded.set(fn.name, handler);
    }
    return handler;
  }

  /** Invokes a function by name; resolves with its result or rejects with a LambdaInvocationError. */
  async invoke(functionName: string, event: unknown): Promise<unknown> {
    const fn = this.functions.get(functionName);
    if (!fn) throw new LambdaInvocationError("Lambda.ResourceNotFoundException", `Function not found: ${functionName}`);
    await this.acquireContainer(fn);
    try {
      const fault = this.injectFault?.(fn.name, event);
      if (fault) throw new LambdaInvocationError(fault.name, fault.message);
      return await this.invokeNow(fn, event);
    } finally {
      this.releaseContainer(fn);
    }
  }

  private async acquireContainer(fn: LocalFunction): Promise<void> {
    const running = this.running.get(fn.name) ?? 0;
    if (fn.containers === undefined || running < fn.containers) {
      this.running.set(fn.name, running + 1);
      return;
    }
    await new Promise<void>((resolveTurn) => {
      const queue = this.queued.get(fn.name) ?? [];
      queue.push(resolveTurn);
      this.queued.set(fn.name, queue);
    });
  }

  private releaseContainer(fn: LocalFunction): void {
    const next = this.queued.get(fn.name)?.shift();
    if (next) next(); // the container passes straight to the next invocation
    else this.running.set(fn.name, (this.running.get(fn.name) ?? 1) - 1);
  }

  private async invokeNow(fn: LocalFunction, event: unknown): Promise<unknown> {
    let handler: Handler;
    try {
      handler = await this.handlerOf(fn);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      throw new LambdaInvocationError(err.name || "Error", err.message);
    }
    // The timeout counts from the end of the init phase (module load), as in Lambda.
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: fn.name,
      functionVersion: "$LATEST",
      invokedFunctionArn: fn.name,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.name}`,
      logStreamName: "local",
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    let timer: NodeJS.Timeout | undefined;
    let memoryWatch: NodeJS.Timeout | undefined;
    try {
      let baseline = process.memoryUsage.rss();
      const outOfMemory = new Promise<never>((_, reject) => {
        memoryWatch = setInterval(() => {
          const rss = process.memoryUsage.rss();
          if (this.inFlight > 1) {
            baseline = Math.max(baseline, rss);
            return;
          }
          const grownMb = (rss - baseline) / MB;
          if (grownMb <= fn.memoryMb) return;
          clearInterval(memoryWatch);
          reject(
            new LambdaInvocationError(
              "Runtime.OutOfMemory",
              `RequestId: ${context.awsRequestId} Error: Runtime exited with error: signal: killed (the twin's process grew by ${Math.round(grownMb)} MB during the invocation; the function has ${fn.memoryMb} MB)`,
            ),
          );
        }, MEMORY_SAMPLE_MS);
      });
      // Lambda stops an invocation at its timeout and reports it; here the handler's promise is abandoned instead
      // (it cannot be killed in-process), but the caller sees the same error at the same moment.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new LambdaInvocationError("Sandbox.Timedout", `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      let result: unknown;
      this.inFlight++;
      try {
        result = await Promise.race([handler(structuredClone(event), context), timedOut, outOfMemory]);
      } finally {
        this.inFlight--;
      }
      // Results cross a JSON boundary in Lambda; so they do here (no Dates or undefined leak through).
      return JSON.parse(JSON.stringify(result ?? null));
    } catch (error) {
      if (error instanceof LambdaInvocationError) throw error;
      const err = error instanceof Error ? error : new Error(String(error));
      throw new LambdaInvocationError(err.name || "Error", err.message);
    } finally {
      clearTimeout(timer);
      clearInterval(memoryWatch);
    }
  }
}
