import type { Node } from "constructs";
import { defaultSchemaId } from "../functions/schemas/index.ts";
import { parseRoutes, type SchemaRouting } from "../functions/start/schema-routing.ts";

/**
 * Typed reads of CDK context (cdk.json "context", or `-c key=value` on the command line, where every value is a
 * string). Only infra/app.ts reads context; the stack takes typed props.
 */
export const ContextKeys = {
  modelId: "llambda:modelId",
  /** Overrides the sha256 from models/models.json (for a model the manifest does not list). */
  modelSha256: "llambda:modelSha256",
  chunkTokens: "llambda:chunkTokens",
  inferMemoryMb: "llambda:inferMemoryMb",
  maxConcurrency: "llambda:maxConcurrency",
  /** Reserved concurrency of the inference function; unset by default (accounts often have low limits). */
  inferReservedConcurrency: "llambda:inferReservedConcurrency",
  /** true: bucket (emptied), table and logs are deleted with the stack. Default false: they are retained. */
  destroyOnRemoval: "llambda:destroyOnRemoval",
  /** true: X-Ray tracing on the functions and the state machine. */
  tracing: "llambda:tracing",
  /** true: functions in a VPC with isolated subnets and VPC endpoints only (no NAT, no internet gateway). */
  isolated: "llambda:isolated",
  /** true: the document bucket is encrypted with a customer-managed KMS key instead of S3-managed keys. */
  bucketKmsKey: "llambda:bucketKmsKey",
  /** Extraction schema of uploads under no routed prefix (functions/schemas). */
  schemaId: "llambda:schemaId",
  /** Upload key prefix → extraction schema id, e.g. {"uploads/invoices/": "invoice"}; longest prefix wins. */
  schemaRoutes: "llambda:schemaRoutes",
} as const;

export class ContextError extends Error {
  override name = "ContextError";
}

export function stringContext(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" && typeof value !== "number") {
    throw new ContextError(`Context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  const text = String(value).trim();
  return text === "" ? undefined : text;
}

export function intContext(node: Node, key: string, range: { min: number; max: number }): number | undefined {
  const text = stringContext(node, key);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ContextError(`Context ${key} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

export function boolContext(node: Node, key: string): boolean | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new ContextError(`Context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * The schema routing from context: `llambda:schemaRoutes` (an object, or its JSON on the command line) and
 * `llambda:schemaId` as the default. Checked against the shipped schemas by the stack, at synth time.
 */
export function schemaRoutingContext(get: (key: string) => unknown): SchemaRouting {
  const routes = get(ContextKeys.schemaRoutes);
  const schemaId = get(ContextKeys.schemaId);
  try {
    return {
      routes: routes === undefined || routes === null || routes === "" ? {} : parseRoutes(routes),
      defaultSchemaId: typeof schemaId === "string" && schemaId.trim() !== "" ? schemaId.trim() : defaultSchemaId,
    };
  } catch (error) {
    throw new ContextError(`Context ${ContextKeys.schemaRoutes}: ${(error as Error).message}`);
  }
}
