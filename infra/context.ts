import type { Node } from "constructs";
import { chunkTokensRange, DEFAULT_CHUNK_TOKENS } from "../functions/chunk/limits.ts";
import { reviewMaxPagesRange } from "../functions/review/config.ts";
import { FunctionCatalogue } from "../functions/catalogue.ts";
import { defaultSchemaId } from "../functions/schemas/index.ts";
import { BucketLayout } from "../functions/shared/bucket-layout.ts";
import { parseOcrMode, parseOcrRoutes, type OcrRouting } from "../functions/start/ocr-routing.ts";
import { parseRoutes, type SchemaRouting } from "../functions/start/schema-routing.ts";
import type { LlambdaStackProps } from "./llambda-stack.ts";
import { REPO_ROOT } from "./repo-root.ts";
import { DEFAULT_OCR_LANGUAGE } from "./stack/props.ts";
import { manifestDefaultModelId } from "./model-artifact.ts";

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
  /**
   * true: functions in a VPC with isolated subnets and VPC endpoints only (no NAT, no internet gateway). NOT idle-free:
   * its Step Functions interface endpoint bills per AZ-hour (2 AZs, about $0.01 per AZ-hour in us-east-1: ~$15 a
   * month) plus data processed, documents or not. Default false.
   */
  isolated: "llambda:isolated",
  /** true: the document bucket is encrypted with a customer-managed KMS key instead of S3-managed keys. */
  bucketKmsKey: "llambda:bucketKmsKey",
  /** Extraction schema of uploads under no routed prefix (functions/schemas). */
  schemaId: "llambda:schemaId",
  /** Upload key prefix → extraction schema id, e.g. {"uploads/invoices/": "invoice"}; longest prefix wins. */
  schemaRoutes: "llambda:schemaRoutes",
  /** A deployment stage (e.g. `dev`): its own stack `Llambda-<stage>`, whose named resources carry the stack name. */
  stage: "llambda:stage",
  /** OCR of pages without a usable text layer and of image uploads: `auto` (default), `always` or `never`. */
  ocr: "llambda:ocr",
  /** Upload key prefix → OCR mode, e.g. {"uploads/scans/": "always"}; longest prefix wins. */
  ocrRoutes: "llambda:ocrRoutes",
  /** The OCR language (a Tesseract code whose @tesseract.js-data package is installed). Default `eng`. */
  ocrLanguage: "llambda:ocrLanguage",
  /** Most pages a document's review page shows (LLAMBDA_REVIEW_MAX_PAGES, the review function's own bound). Default 20. */
  reviewMaxPages: "llambda:reviewMaxPages",
  /** Alarms notify this e-mail address (an SNS topic and subscription are created). */
  alarmEmail: "llambda:alarmEmail",
  /** Alarms notify this existing SNS topic. */
  alarmTopicArn: "llambda:alarmTopicArn",
} as const;

/** The stack of the default (unnamed) stage: its id and name stay `Llambda`, as deployed before stages existed. */
export const BASE_STACK_NAME = "Llambda";

/**
 * Stage names: lower-case letters, digits and hyphens, starting with a letter, at most 20 characters. The stack name
 * `Llambda-<stage>` prefixes the names the stack sets itself (state machine `<stack>-document-workflow`, up to 80
 * characters; alarms; dashboard) and CloudFormation's generated names (functions, bucket, table, queues).
 */
export const stagePattern = /^[a-z][a-z0-9-]{0,19}$/;

/** The stack id and name of a stage: `Llambda` without one, `Llambda-<stage>` with one. */
export function stackNameFor(stage: string | undefined): string {
  if (stage === undefined) return BASE_STACK_NAME;
  if (!stagePattern.test(stage) || stage.endsWith("-")) {
    throw new ContextError(
      `Context ${ContextKeys.stage} must be lower-case letters, digits and hyphens, starting with a letter and not ending ` +
        `with a hyphen, at most 20 characters (e.g. dev, prod-eu), got ${JSON.stringify(stage)}`,
    );
  }
  return `${BASE_STACK_NAME}-${stage}`;
}

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

/**
 * The OCR routing from context: `llambda:ocrRoutes` (an object, or its JSON on the command line) and `llambda:ocr` as
 * the default mode. Prefixes must lie under the uploads prefix.
 */
export function ocrRoutingContext(get: (key: string) => unknown): OcrRouting {
  const routes = get(ContextKeys.ocrRoutes);
  const mode = get(ContextKeys.ocr);
  try {
    return {
      routes: routes === undefined || routes === null || routes === "" ? {} : parseOcrRoutes(routes, BucketLayout.uploadsPrefix),
      defaultMode: mode === undefined || mode === null || mode === "" ? "auto" : parseOcrMode(mode, `Context ${ContextKeys.ocr}`),
    };
  } catch (error) {
    throw new ContextError(`Context ${ContextKeys.ocrRoutes}/${ContextKeys.ocr}: ${(error as Error).message}`);
  }
}

/** Used when neither context nor models/models.json names a model. */
const FALLBACK_MODEL_ID = "qwen2.5-1.5b-instruct-q4_k_m";

/**
 * The stack infra/app.ts deploys, from context: its id and name (one per stage) and its typed props. `env` holds the
 * account and region the CLI found (CDK_DEFAULT_ACCOUNT/REGION); the stack is environment-agnostic without them.
 */
export function stackFromContext(
  node: Node,
  env: { account?: string | undefined; region?: string | undefined } = {},
): { id: string; props: LlambdaStackProps } {
  const stage = stringContext(node, ContextKeys.stage);
  const stackName = stackNameFor(stage);
  const { account, region } = env;
  return {
    id: stackName,
    props: {
      stackName,
      description:
        "llambda: private, scale-to-zero LLM document extraction (S3 -> Step Functions -> llama.cpp on Lambda -> DynamoDB)" +
        (stage ? ` (stage ${stage})` : ""),
      ...(account || region ? { env: { ...(account ? { account } : {}), ...(region ? { region } : {}) } } : {}),
      modelId: stringContext(node, ContextKeys.modelId) ?? manifestDefaultModelId(REPO_ROOT) ?? FALLBACK_MODEL_ID,
      modelSha256: stringContext(node, ContextKeys.modelSha256),
      chunkTokens: intContext(node, ContextKeys.chunkTokens, chunkTokensRange) ?? DEFAULT_CHUNK_TOKENS,
      inferMemoryMb: intContext(node, ContextKeys.inferMemoryMb, { min: 128, max: 10_240 }) ?? FunctionCatalogue.infer.memoryMb,
      maxConcurrency: intContext(node, ContextKeys.maxConcurrency, { min: 1, max: 10_000 }) ?? 20,
      inferReservedConcurrency: intContext(node, ContextKeys.inferReservedConcurrency, { min: 1, max: 10_000 }),
      schemaRouting: schemaRoutingContext((key) => node.tryGetContext(key)),
      ocrRouting: ocrRoutingContext((key) => node.tryGetContext(key)),
      ocrLanguage: stringContext(node, ContextKeys.ocrLanguage) ?? DEFAULT_OCR_LANGUAGE,
      reviewMaxPages: intContext(node, ContextKeys.reviewMaxPages, reviewMaxPagesRange),
      destroyOnRemoval: boolContext(node, ContextKeys.destroyOnRemoval) ?? false,
      tracing: boolContext(node, ContextKeys.tracing) ?? false,
      isolated: boolContext(node, ContextKeys.isolated) ?? false,
      bucketKmsKey: boolContext(node, ContextKeys.bucketKmsKey) ?? false,
      alarmEmail: stringContext(node, ContextKeys.alarmEmail),
      alarmTopicArn: stringContext(node, ContextKeys.alarmTopicArn),
    },
  };
}
