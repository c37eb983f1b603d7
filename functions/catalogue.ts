/**
 * The function catalogue: every function of the pipeline described once. The stack (infra/stack/) and the local twin
 * (infra/local/twin.ts) both build their functions from it: entry, memory, timeout, architecture, description, the
 * configuration it reads (validated by the function's own reader, the same one its handler runs at init), the
 * environment it gets and the resources it touches. Adding a function means adding an entry here (docs/architecture.md).
 *
 * This module sits above the stage folders (it imports their configuration readers) and below infra/; no stage imports it.
 */
import { readChunkConfig } from "./chunk/config.ts";
import { CHUNK_FUNCTION_MEMORY_MB } from "./chunk/limits.ts";
import { readConsumerConfig } from "./consumer/config.ts";
import { readFailedExecutionConfig } from "./failed-execution/config.ts";
import { readInferConfig } from "./infer/config.ts";
import { readMergeConfig } from "./merge/config.ts";
import { readOcrConfig } from "./ocr/config.ts";
import { readReviewConfig } from "./review/config.ts";
import { BucketLayout } from "./shared/bucket-layout.ts";
import type { Env } from "./shared/config.ts";
import { EnvNames } from "./shared/env-names.ts";
import { ConfigurationError } from "./shared/errors.ts";
import { readStartConfig } from "./start/config.ts";
import type { OcrRouting } from "./start/ocr-routing.ts";
import type { SchemaRouting } from "./start/schema-routing.ts";

export type FunctionId = "start" | "chunk" | "ocr" | "infer" | "merge" | "review" | "consumer" | "failedExecution";

/** AWS services a function's code calls: isolated mode opens HTTPS to exactly these endpoints. */
export type EndpointService = "s3" | "dynamodb" | "states";

type BucketPrefix = (typeof BucketLayout)[keyof typeof BucketLayout];

export interface FunctionAccess {
  /** Object reads and writes under these prefixes. */
  bucket?: { read?: readonly BucketPrefix[]; readVersions?: boolean; write?: readonly BucketPrefix[] };
  /** Item reads and writes on the documents table. */
  table?: readonly ("dynamodb:UpdateItem" | "dynamodb:GetItem")[];
  /** Calls on the document workflow. */
  workflow?: readonly ("states:StartExecution" | "states:ListExecutions")[];
  /** The endpoints its code calls. */
  endpoints: readonly EndpointService[];
}

/** Values only a deployment knows: resource names (tokens at synth time) and deployment-wide settings. */
export interface DeploymentValues {
  bucketName: string;
  tableName: string;
  stateMachineArn: string;
  schemaRouting: SchemaRouting;
  /** OCR mode by upload prefix, and the deployment's OCR language. */
  ocrRouting: OcrRouting;
  ocrLanguage: string;
  maxRunningDocuments: number;
  chunkTokens: number;
  /** The inference function's model: where its file is (image path or local file) and the id results record. */
  model: { path: string; id: string; loraPath?: string; loraScale?: number };
  /** Chunks one inference invocation decodes together (the workflow's batch size). */
  parallelSequences: number;
  /** Further settings by environment variable name (tuning, limits); undefined values are left out. */
  settings?: Partial<Record<FunctionId, Record<string, string | number | undefined>>>;
}

export interface FunctionSpec {
  id: FunctionId;
  /** The stack's construct id and, with `llambda-`, the twin's function name (e.g. ChunkFunction, llambda-chunk). */
  constructId: string;
  name: string;
  /** Lambda's entry (repository-relative): reads the configuration from process.env at init. */
  entry: string;
  /** The module whose `createHandler(config)` builds the handler from a configuration (the twin, tests). */
  factory: string;
  packaging: "zip" | "image";
  architecture: "arm64";
  /** Memory, MB; the inference function's is the deployment's `inferMemoryMb` (this is its default). */
  memoryMb: number;
  timeoutSeconds: number;
  /** `{model}` stands for the model id. */
  description: string;
  /** The function's own configuration reader: what its handler runs at init, here run on the environment it gets. */
  readConfig: (env: Env) => unknown;
  /** The environment variables readConfig reads (test/unit/catalogue.test.ts holds it to that); docs list them. */
  reads: readonly string[];
  access: FunctionAccess;
  /** The environment values beyond the names of the resources it may touch. */
  environment: (values: DeploymentValues) => Record<string, string | number | undefined>;
}

export const FunctionCatalogue: Record<FunctionId, FunctionSpec> = {
  start: {
    id: "start",
    constructId: "StartFunction",
    name: "start",
    entry: "functions/start/handler.ts",
    factory: "functions/start/create-handler.ts",
    packaging: "zip",
    architecture: "arm64",
    memoryMb: 256,
    timeoutSeconds: 30,
    description: "llambda: S3 Object Created event -> one document workflow execution per object version",
    readConfig: readStartConfig,
    reads: [EnvNames.stateMachineArn, EnvNames.schemaRouting, EnvNames.ocr, EnvNames.ocrRoutes, EnvNames.maxRunningDocuments],
    access: { workflow: ["states:StartExecution", "states:ListExecutions"], endpoints: ["states"] },
    environment: (values) => ({
      // The routing picks each document's schema and OCR mode here; later steps read them from their input.
      [EnvNames.schemaRouting]: JSON.stringify(values.schemaRouting),
      [EnvNames.ocr]: values.ocrRouting.defaultMode,
      [EnvNames.ocrRoutes]: JSON.stringify(values.ocrRouting.routes),
      [EnvNames.maxRunningDocuments]: values.maxRunningDocuments,
    }),
  },
  chunk: {
    id: "chunk",
    constructId: "ChunkFunction",
    name: "chunk",
    entry: "functions/chunk/handler.ts",
    factory: "functions/chunk/create-handler.ts",
    packaging: "zip",
    architecture: "arm64",
    // The size `npm run chunk` applies its bounds for (the extraction worker's heap is a share of it).
    memoryMb: CHUNK_FUNCTION_MEMORY_MB,
    timeoutSeconds: 300,
    description: "llambda: document text -> token-bounded chunks and a JSONL manifest",
    readConfig: readChunkConfig,
    reads: [
      EnvNames.bucket,
      EnvNames.chunkTokens,
      EnvNames.chunkOverlapTokens,
      EnvNames.recordTextField,
      EnvNames.recordIdField,
      EnvNames.maxBytes,
      EnvNames.maxPages,
      EnvNames.maxChunks,
      EnvNames.maxRecordBytes,
      EnvNames.extractionTimeoutMs,
      EnvNames.extractionMemoryMb,
      EnvNames.dropRunningHeaders,
    ],
    // The uploaded object's version named in the event is read (GetObject with VersionId); after OCR, the pages'
    // results (chunks/) and the OCR Map Run's result files.
    access: {
      bucket: {
        read: [BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix, BucketLayout.mapResultsPrefix],
        readVersions: true,
        write: [BucketLayout.chunksPrefix],
      },
      endpoints: ["s3"],
    },
    environment: (values) => ({ [EnvNames.chunkTokens]: values.chunkTokens }),
  },
  ocr: {
    id: "ocr",
    constructId: "OcrFunction",
    name: "ocr",
    entry: "functions/ocr/handler.ts",
    factory: "functions/ocr/create-handler.ts",
    // A container image: the page renderer is a native addon (@napi-rs/canvas) that must be the linux-arm64 build,
    // which the image's arm64 `npm ci` installs (as for llama.cpp); the recogniser's WebAssembly and language models
    // ship beside it. A zip would need the arm64 addon fetched for a machine that is not arm64.
    packaging: "image",
    architecture: "arm64",
    // One vCPU's worth (Lambda gives one per 1,769 MB) and one page at a time: two pages at once on two vCPUs read only
    // 1.36x the pages per second of one (`npm run bench -- ocr-pipelines`), so 3,584 MB would cost ~30 % more per page;
    // the OCR Map's fan-out, not the invocation, makes a long scan fast. The rest is room for a page: render worker
    // (heap bound 1,024 MB; a 300 dpi page is 9 MP of grey, its RGBA canvas 35 MB) and Tesseract (some hundred MB).
    memoryMb: 2048,
    timeoutSeconds: 900,
    description: "llambda: pages without a usable text layer -> text, words and boxes (Tesseract OCR)",
    readConfig: readOcrConfig,
    reads: [
      EnvNames.bucket,
      EnvNames.ocrLanguage,
      EnvNames.ocrDpi,
      EnvNames.ocrMaxPixels,
      EnvNames.ocrPageTimeoutMs,
      EnvNames.ocrConcurrency,
    ],
    access: { bucket: { read: [BucketLayout.uploadsPrefix], readVersions: true, write: [BucketLayout.chunksPrefix] }, endpoints: ["s3"] },
    environment: (values) => ({ [EnvNames.ocrLanguage]: values.ocrLanguage }),
  },
  infer: {
    id: "infer",
    constructId: "InferFunction",
    name: "infer",
    entry: "functions/infer/handler.ts",
    factory: "functions/infer/create-handler.ts",
    packaging: "image",
    architecture: "arm64",
    memoryMb: 10_240,
    timeoutSeconds: 900,
    description: "llambda: chunk batch -> extracted JSON with {model} (llama.cpp)",
    readConfig: readInferConfig,
    reads: [
      EnvNames.modelPath,
      EnvNames.modelId,
      EnvNames.schemaId,
      EnvNames.threads,
      EnvNames.contextSize,
      EnvNames.maxOutputTokens,
      EnvNames.parallelSequences,
      EnvNames.inferContexts,
      EnvNames.deadlineMarginMs,
      EnvNames.tokenConfidence,
      EnvNames.llamaBinary,
      EnvNames.speculation,
      EnvNames.loraPath,
      EnvNames.loraScale,
    ],
    access: { bucket: { read: [BucketLayout.chunksPrefix] }, endpoints: ["s3"] },
    environment: (values) => ({
      [EnvNames.modelPath]: values.model.path,
      [EnvNames.modelId]: values.model.id,
      ...(values.model.loraPath ? { [EnvNames.loraPath]: values.model.loraPath, [EnvNames.loraScale]: values.model.loraScale } : {}),
      // One invocation's batch decodes together: as many parallel sequences as chunks per batch (memory permitting).
      [EnvNames.parallelSequences]: values.parallelSequences,
      // For executions started before schema routing existed, whose input names no schema.
      [EnvNames.schemaId]: values.schemaRouting.defaultSchemaId,
    }),
  },
  merge: {
    id: "merge",
    constructId: "MergeFunction",
    name: "merge",
    entry: "functions/merge/handler.ts",
    factory: "functions/merge/create-handler.ts",
    packaging: "zip",
    architecture: "arm64",
    memoryMb: 1024,
    timeoutSeconds: 300,
    description: "llambda: Distributed Map results -> one document item",
    readConfig: readMergeConfig,
    reads: [EnvNames.table, EnvNames.bucket, EnvNames.schemaId, EnvNames.maxItemBytes],
    access: {
      bucket: { read: [BucketLayout.mapResultsPrefix, BucketLayout.chunksPrefix], write: [BucketLayout.resultsPrefix] },
      table: ["dynamodb:UpdateItem"],
      endpoints: ["s3", "dynamodb"],
    },
    environment: (values) => ({ [EnvNames.schemaId]: values.schemaRouting.defaultSchemaId }),
  },
  review: {
    id: "review",
    constructId: "ReviewFunction",
    name: "review",
    entry: "functions/review/handler.ts",
    factory: "functions/review/create-handler.ts",
    // The OCR image with another command: it draws pages with the same pdf.js and @napi-rs/canvas (a native addon
    // that must be the linux-arm64 build), so one image build serves both (infra/image/Dockerfile, target `ocr`).
    packaging: "image",
    architecture: "arm64",
    // A page at a time in a render worker (a 150 dpi page is a few MB of pixels) beside the document's bytes and the
    // page being built; one vCPU's worth is plenty for at most LLAMBDA_REVIEW_MAX_PAGES pages.
    memoryMb: 2048,
    // Drawing 20 pages takes well under a minute; the rest is room for a large upload's download.
    timeoutSeconds: 120,
    description: "llambda: a merged document -> its review page (HTML: the pages, a box over each grounded value)",
    readConfig: readReviewConfig,
    reads: [EnvNames.table, EnvNames.bucket, EnvNames.reviewMaxPages],
    // The item (GetItem), its offloaded result, the layout beside the chunks, and the upload's version the item names.
    access: {
      bucket: {
        read: [BucketLayout.uploadsPrefix, BucketLayout.chunksPrefix, BucketLayout.resultsPrefix],
        readVersions: true,
        write: [BucketLayout.reviewsPrefix],
      },
      table: ["dynamodb:GetItem"],
      endpoints: ["s3", "dynamodb"],
    },
    environment: () => ({}),
  },
  consumer: {
    id: "consumer",
    constructId: "ResultsConsumerFunction",
    name: "consumer",
    entry: "functions/consumer/handler.ts",
    factory: "functions/consumer/create-handler.ts",
    packaging: "zip",
    architecture: "arm64",
    memoryMb: 256,
    timeoutSeconds: 60,
    description: "llambda example: DynamoDB stream records of documents that became COMPLETED or PARTIAL",
    readConfig: readConsumerConfig,
    reads: [],
    access: { bucket: { read: [BucketLayout.resultsPrefix] }, endpoints: ["s3"] },
    environment: () => ({}),
  },
  failedExecution: {
    id: "failedExecution",
    constructId: "FailedExecutionFunction",
    name: "failed-execution",
    entry: "functions/failed-execution/handler.ts",
    factory: "functions/failed-execution/create-handler.ts",
    packaging: "zip",
    architecture: "arm64",
    memoryMb: 256,
    timeoutSeconds: 30,
    description: "llambda: a document workflow execution that FAILED, TIMED_OUT or was ABORTED -> its item says FAILED",
    readConfig: readFailedExecutionConfig,
    reads: [EnvNames.table],
    access: { table: ["dynamodb:UpdateItem"], endpoints: ["dynamodb"] },
    environment: () => ({}),
  },
};

export const functionSpecs: readonly FunctionSpec[] = Object.values(FunctionCatalogue);

/** The function's description, with its model id where it names one. */
export function functionDescription(spec: FunctionSpec, modelId: string): string {
  return spec.description.replace("{model}", modelId);
}

/**
 * The environment a function gets in a deployment: the names of the resources it reads, its own values and the
 * deployment's settings for it. Stack and twin both call this.
 */
export function functionEnvironment(spec: FunctionSpec, values: DeploymentValues): Record<string, string> {
  const resourceNames: Record<string, string> = {
    [EnvNames.bucket]: values.bucketName,
    [EnvNames.table]: values.tableName,
    [EnvNames.stateMachineArn]: values.stateMachineArn,
  };
  const entries: Record<string, string | number | undefined> = {
    ...Object.fromEntries(spec.reads.flatMap((name) => (resourceNames[name] === undefined ? [] : [[name, resourceNames[name]]]))),
    ...spec.environment(values),
    ...values.settings?.[spec.id],
  };
  return Object.fromEntries(
    Object.entries(entries).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])),
  );
}

/**
 * Runs the function's configuration reader on the environment it will get, with the memory size Lambda adds: a value
 * the function would refuse at init fails here first (synth time, twin start) with the same message. Returns the
 * configuration read: the twin builds the function's handler from it.
 */
export function validateFunctionEnvironment(spec: FunctionSpec, environment: Env, memoryMb: number): unknown {
  try {
    return spec.readConfig({ ...environment, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb) });
  } catch (error) {
    if (error instanceof ConfigurationError) {
      throw new ConfigurationError(`${spec.constructId}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
