import { readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  functionEnvironment,
  functionSpecs,
  validateFunctionEnvironment,
  type DeploymentValues,
  type FunctionSpec,
} from "../../functions/catalogue.ts";
import { DEFAULT_CHUNK_TOKENS } from "../../functions/chunk/limits.ts";
import { extractionSchemas } from "../../functions/schemas/index.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { maxRunningDocumentsFor } from "../../functions/start/admission.ts";
import type { OcrRouting } from "../../functions/start/ocr-routing.ts";
import { validateSchemaRouting, type SchemaRouting } from "../../functions/start/schema-routing.ts";
import { defaultWorkflowSettings, type WorkflowSettings } from "../../statemachine/definition.ts";
import { ContextKeys, ocrRoutingContext, schemaRoutingContext } from "../context.ts";
import type { FaultInjector } from "./faults.ts";
import { localRegion } from "./services.ts";
import type { Handler, LocalFunction } from "./lambda-runtime.ts";

/**
 * The twin's names and options, and its functions: the function catalogue (functions/catalogue.ts) with the
 * environment each function gets here, built the way the stack builds its own (test/stack/twin-parity.test.ts).
 */

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The account id in the twin's ARNs. */
export const twinAccount = "000000000000";

export const TwinNames = {
  bucket: "llambda-local",
  table: "llambda-documents",
  stateMachineArn: `arn:aws:states:${localRegion}:${twinAccount}:stateMachine:llambda-document-workflow`,
  functionArn: (name: string) => `arn:aws:lambda:${localRegion}:${twinAccount}:function:llambda-${name}`,
} as const;

export interface TwinOptions {
  /** Where s3rver and DynamoDB Local keep their data. */
  dataDir: string;
  modelPath: string;
  modelId?: string;
  chunkTokens?: number;
  threads?: number;
  contextSize?: number;
  maxOutputTokens?: number;
  /** Chunks the inference function extracts at once; default: the workflow's batch size. */
  parallelSequences?: number;
  /** The inference function's timeout (default 900 s, as deployed) and the time it keeps back to return, ms. */
  inferTimeoutSeconds?: number;
  deadlineMarginMs?: number;
  workflow?: Partial<WorkflowSettings>;
  /** Replace Retry intervals by this many milliseconds (tests). */
  retryIntervalMs?: number;
  /** Which schema each upload prefix gets; default: cdk.json's `llambda:schemaRoutes` and `llambda:schemaId`. */
  schemaRouting?: SchemaRouting;
  /** Most pages a PDF may have (LLAMBDA_MAX_PAGES; default the chunk function's). */
  maxPages?: number;
  /** Time bound of a document's text extraction, ms (LLAMBDA_EXTRACTION_TIMEOUT_MS; default the chunk function's). */
  extractionTimeoutMs?: number;
  /** The merge's item size bound, bytes (LLAMBDA_MAX_ITEM_BYTES); results above it go to S3. */
  maxItemBytes?: number;
  /** Makes chosen invocations fail with the given error (tests); called with the function's short name (infer, ...). */
  injectFault?: (functionName: string, event: unknown) => Error | undefined;
  /** Documents the start function lets run at once (default: as the stack computes it for the workflow's settings). */
  maxRunningDocuments?: number;
  /** How long an upload that must wait stays invisible in the queue, ms (deployed: 180 s). Default 1,000. */
  queueVisibilityMs?: number;
  /** OCR mode by upload prefix (default: cdk.json's, as `cdk deploy` would use). */
  ocrRouting?: OcrRouting;
  /** OCR resolution, dpi (LLAMBDA_OCR_DPI); per-page time bound, ms (LLAMBDA_OCR_PAGE_TIMEOUT_MS); pages at once. */
  ocrDpi?: number;
  ocrPageTimeoutMs?: number;
  ocrConcurrency?: number;
  /** The OCR function's timeout, seconds (default the catalogue's 900): a shrunk one shows the deadline at work. */
  ocrTimeoutSeconds?: number;
  /** Most pages a review page shows (LLAMBDA_REVIEW_MAX_PAGES; default the review function's). */
  reviewMaxPages?: number;
  /** Random faults at the rates of `LLAMBDA_FAULTS` (infra/local/faults.ts), in functions and the workflow's DynamoDB writes. */
  faults?: FaultInjector;
}

/** The schema routing `cdk deploy` would use: cdk.json's context (the twin's default; the CLI routes by it). */
export function cdkJsonSchemaRouting(): SchemaRouting {
  const context = cdkJsonContext();
  const routing = schemaRoutingContext((key) => context[key]);
  validateSchemaRouting(routing, Object.keys(extractionSchemas), BucketLayout.uploadsPrefix);
  return routing;
}

/** The OCR routing `cdk deploy` would use: cdk.json's context. */
export function cdkJsonOcrRouting(): OcrRouting {
  return ocrRoutingContext((key) => cdkJsonContext()[key]);
}

function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(repoRoot, "cdk.json"), "utf8")) as { context?: Record<string, unknown> }).context ?? {};
}

/** The deployment values of the twin: its resource names and the options that stand for the stack's props. */
export function twinDeploymentValues(options: TwinOptions): DeploymentValues {
  const settings = { ...defaultWorkflowSettings, ...options.workflow };
  return {
    bucketName: TwinNames.bucket,
    tableName: TwinNames.table,
    stateMachineArn: TwinNames.stateMachineArn,
    schemaRouting: options.schemaRouting ?? cdkJsonSchemaRouting(),
    ocrRouting: options.ocrRouting ?? cdkJsonOcrRouting(),
    ocrLanguage: typeof cdkJsonContext()[ContextKeys.ocrLanguage] === "string" ? (cdkJsonContext()[ContextKeys.ocrLanguage] as string) : "eng",
    maxRunningDocuments: options.maxRunningDocuments ?? maxRunningDocumentsFor({ maxConcurrency: settings.maxConcurrency }),
    chunkTokens: options.chunkTokens ?? DEFAULT_CHUNK_TOKENS,
    model: {
      path: resolve(options.modelPath),
      id: options.modelId ?? basename(options.modelPath).replace(/\.gguf$/i, ""),
    },
    parallelSequences: options.parallelSequences ?? settings.maxItemsPerBatch,
    settings: {
      chunk: { [EnvNames.maxPages]: options.maxPages, [EnvNames.extractionTimeoutMs]: options.extractionTimeoutMs },
      infer: {
        [EnvNames.threads]: options.threads,
        [EnvNames.contextSize]: options.contextSize,
        [EnvNames.maxOutputTokens]: options.maxOutputTokens,
        [EnvNames.deadlineMarginMs]: options.deadlineMarginMs,
      },
      merge: { [EnvNames.maxItemBytes]: options.maxItemBytes },
      review: { [EnvNames.reviewMaxPages]: options.reviewMaxPages },
      ocr: {
        [EnvNames.ocrDpi]: options.ocrDpi,
        [EnvNames.ocrPageTimeoutMs]: options.ocrPageTimeoutMs,
        [EnvNames.ocrConcurrency]: options.ocrConcurrency,
      },
    },
  };
}

/** A twin function: the catalogue's entry with the environment it gets here. */
export interface TwinFunction extends LocalFunction {
  spec: FunctionSpec;
  environment: Record<string, string>;
}

/**
 * The functions the stack deploys, built from the function catalogue as the stack builds them. Each gets its own
 * environment, read by its own configuration reader (nothing goes through process.env, so several twins with
 * different settings can run in one process); a setting the function would refuse fails here, before anything starts.
 */
export function twinFunctions(options: TwinOptions): TwinFunction[] {
  const values = twinDeploymentValues(options);
  return functionSpecs.map((spec) => {
    const environment = functionEnvironment(spec, values);
    const memoryMb = spec.memoryMb;
    // Lambda's runtime sets the memory size; the chunk function sizes its extraction worker from it.
    const config = validateFunctionEnvironment(spec, environment, memoryMb);
    return {
      spec,
      environment,
      name: TwinNames.functionArn(spec.name),
      memoryMb,
      timeoutSeconds:
        spec.id === "infer"
          ? (options.inferTimeoutSeconds ?? spec.timeoutSeconds)
          : spec.id === "ocr"
            ? (options.ocrTimeoutSeconds ?? spec.timeoutSeconds)
            : spec.timeoutSeconds,
      // One inference container: the model and its parallel sequences exist once in this process.
      ...(spec.id === "infer" ? { containers: 1 } : {}),
      init: async () => {
        const factory = (await import(pathToFileURL(join(repoRoot, spec.factory)).href)) as {
          createHandler: (config: unknown) => Handler | Promise<Handler>;
        };
        return factory.createHandler(config);
      },
    };
  });
}
