/**
 * A stand-in for the Lambda Runtime API (2018-06-01) that the container's Runtime Interface Client polls: hands out
 * queued events on /invocation/next, records each answer or error, and reports init (the first /next) and init errors.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { TIMEOUTS } from "./options.ts";
import { ImageTestFailure } from "./processes.ts";

export interface Invocation {
  requestId: string;
  event: unknown;
  answer?: { kind: "response" | "error"; body: string; errorType?: string };
  settle?: () => void;
}

export class RuntimeApi {
  readonly invocations: Invocation[] = [];
  private queue: Invocation[] = [];
  private waiting: ServerResponse | undefined;
  firstNextAt: number | undefined;
  nextPolls = 0;
  initError: string | undefined;
  private onInitEvent: (() => void) | undefined;
  unexpected: string[] = [];

  handle(req: IncomingMessage, res: ServerResponse): void {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const url = req.url ?? "";
      if (req.method === "GET" && url === "/2018-06-01/runtime/invocation/next") {
        this.firstNextAt ??= Date.now();
        this.nextPolls++;
        this.onInitEvent?.();
        this.waiting = res;
        this.dispatch();
        return;
      }
      const answer = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === "POST" && answer) {
        const invocation = this.invocations.find((i) => i.requestId === answer[1]);
        if (!invocation) {
          this.unexpected.push(`${req.method} ${url}`);
          res.writeHead(404).end();
          return;
        }
        const errorType = req.headers["lambda-runtime-function-error-type"];
        invocation.answer = { kind: answer[2] as "response" | "error", body, ...(typeof errorType === "string" ? { errorType } : {}) };
        res.writeHead(202, { "content-type": "application/json" }).end('{"status":"OK"}');
        invocation.settle?.();
        return;
      }
      if (req.method === "POST" && url === "/2018-06-01/runtime/init/error") {
        this.initError = body;
        res.writeHead(202).end('{"status":"OK"}');
        this.onInitEvent?.();
        return;
      }
      this.unexpected.push(`${req.method} ${url}`);
      res.writeHead(404).end();
    });
  }

  /** Resolves at the first /next (init done) or /init/error. */
  initDone(timeoutMs: number): Promise<void> {
    if (this.firstNextAt !== undefined || this.initError !== undefined) return Promise.resolve();
    return withTimeout(new Promise<void>((r) => (this.onInitEvent = r)), timeoutMs, "init (first /invocation/next)");
  }

  invoke(event: unknown, timeoutMs: number): Promise<Invocation> {
    const invocation: Invocation = { requestId: `req-${this.invocations.length + 1}-${process.pid}`, event };
    this.invocations.push(invocation);
    const settled = new Promise<void>((r) => (invocation.settle = r));
    this.queue.push(invocation);
    this.dispatch();
    return withTimeout(settled, timeoutMs, `invocation ${invocation.requestId}`).then(() => invocation);
  }

  private dispatch(): void {
    if (!this.waiting || this.queue.length === 0) return;
    const invocation = this.queue.shift()!;
    const res = this.waiting;
    this.waiting = undefined;
    res.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.requestId,
      "lambda-runtime-deadline-ms": String(Date.now() + TIMEOUTS.invocation),
      "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:llambda-infer-image-test",
      "lambda-runtime-trace-id": "Root=1-00000000-000000000000000000000000;Sampled=0",
    });
    res.end(JSON.stringify(invocation.event));
  }

  /** Ends a pending long poll (the container is being stopped). */
  close(): void {
    this.waiting?.destroy();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ImageTestFailure(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}
