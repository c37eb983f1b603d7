import { Duration } from "aws-cdk-lib";
import { CHUNK_FUNCTION_MEMORY_MB } from "../../functions/chunk/limits.ts";
import { chunkBundlingExtras, type HandlerBundlingExtras } from "../bundling.ts";

/**
 * What a zip function is made from. PipelineFunctions.node builds one from a spec (plus the environment values the
 * stack resolves); the function catalogue (issue 15) replaces these literals.
 */
export interface FunctionSpec {
  /** Construct id; also names the function's role, log group and (isolated mode) security group. */
  name: string;
  /** Handler file, relative to the repository root. */
  entry: string;
  memorySize: number;
  timeout: Duration;
  description: string;
  bundling?: HandlerBundlingExtras;
}

export const FunctionSpecs = {
  start: {
    name: "StartFunction",
    entry: "functions/start/handler.ts",
    memorySize: 256,
    timeout: Duration.seconds(30),
    description: "llambda: S3 Object Created event -> one document workflow execution per object version",
  },
  chunk: {
    name: "ChunkFunction",
    entry: "functions/chunk/handler.ts",
    // The size `npm run chunk` applies its bounds for (the extraction worker's heap is a share of it).
    memorySize: CHUNK_FUNCTION_MEMORY_MB,
    timeout: Duration.minutes(5),
    description: "llambda: document text -> token-bounded chunks and a JSONL manifest",
    bundling: chunkBundlingExtras,
  },
  merge: {
    name: "MergeFunction",
    entry: "functions/merge/handler.ts",
    memorySize: 1024,
    timeout: Duration.minutes(5),
    description: "llambda: Distributed Map results -> one document item",
  },
  consumer: {
    name: "ResultsConsumerFunction",
    entry: "functions/consumer/handler.ts",
    memorySize: 256,
    timeout: Duration.seconds(60),
    description: "llambda example: DynamoDB stream records of documents that became COMPLETED or PARTIAL",
  },
  failedExecution: {
    name: "FailedExecutionFunction",
    entry: "functions/failed-execution/handler.ts",
    memorySize: 256,
    timeout: Duration.seconds(30),
    description: "llambda: a document workflow execution that FAILED, TIMED_OUT or was ABORTED -> its item says FAILED",
  },
} as const satisfies Record<string, FunctionSpec>;

/** The inference function is an image function; its memory and storage come from the props. */
export const inferFunctionSpec = {
  name: "InferFunction",
  dockerfile: "functions/infer/Dockerfile",
  timeout: Duration.seconds(900),
  description: (modelId: string) => `llambda: chunk batch -> extracted JSON with ${modelId} (llama.cpp)`,
} as const;
