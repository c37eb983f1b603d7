import type { Tracer } from "@aws-lambda-powertools/tracer";
import { serviceName } from "./logger.ts";

/**
 * X-Ray subsegments for every AWS SDK call (S3, DynamoDB, Step Functions), through Powertools Tracer, when the stack
 * turned tracing on (`-c llambda:tracing=true` sets POWERTOOLS_TRACE_ENABLED=true beside Lambda's active tracing,
 * which already records each invocation and its init). Tracer is imported only then: it brings aws-xray-sdk-core,
 * about 100 KB of the bundle that is otherwise never evaluated, so functions without tracing (the default) start as
 * before. No handler subsegment or annotations: Lambda's own segment already has the invocation, and the log lines
 * carry the document and execution keys.
 */
// Tracer then checks for itself that it runs in a Lambda managed runtime (AWS_EXECUTION_ENV, documented for managed
// runtimes): if the inference image's own runtime does not set it, the inference function keeps Lambda's invocation
// segments only (its one SDK call, reading a large chunk text from S3, is rare).
const tracer: Tracer | undefined = process.env.POWERTOOLS_TRACE_ENABLED === "true"
  ? new (await import("@aws-lambda-powertools/tracer")).Tracer({ serviceName, captureHTTPsRequests: false })
  : undefined;

/** The client, instrumented when tracing is on. */
export function traced<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}
