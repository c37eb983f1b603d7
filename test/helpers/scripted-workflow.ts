/**
 * The real workflow definition, run by the twin's Step Functions (in-process) with in-memory S3 and DynamoDB and
 * scripted Lambda functions: what the twin-workflow and workflow-retry-rules tests drive, without llama.cpp.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { extractBatch, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import { DeadlineExceededError } from "../../functions/shared/errors.ts";
import type { ChunkItem, InferBatchInput, MergeTaskInput, WorkflowInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { marshall } from "@aws-sdk/util-dynamodb";
import { LambdaInvocationError } from "../../infra/local/lambda-runtime.ts";
import { LocalStepFunctions } from "../../infra/local/stepfunctions.ts";
import { buildDocumentWorkflow, defaultWorkflowSettings, type WorkflowSettings } from "../../statemachine/definition.ts";
import { chunkItem, manifestJsonl } from "./chunk-items.ts";

export const arn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

export function fakeS3(store = new Map<string, string>()) {
  return {
    store,
    send: async (command: unknown) => {
      if (command instanceof PutObjectCommand) {
        store.set(`${command.input.Bucket}/${command.input.Key}`, String(command.input.Body));
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const body = store.get(`${command.input.Bucket}/${command.input.Key}`);
        if (body === undefined) throw Object.assign(new Error("NoSuchKey"), { name: "NoSuchKey" });
        return { Body: { transformToString: async () => body } };
      }
      throw new Error(`unexpected S3 command ${String(command)}`);
    },
  };
}

/** Records DynamoDB calls; `refuse` makes a call fail its condition, as DynamoDB does when a newer execution owns the item. */
export function fakeDynamoDb(refuse: (input: Record<string, unknown>) => boolean = () => false) {
  const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
  return {
    calls,
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      calls.push({ command: command.constructor.name, input: command.input });
      if (refuse(command.input)) {
        throw Object.assign(new Error("The conditional request failed"), { name: "ConditionalCheckFailedException" });
      }
      return { $metadata: {} };
    },
  };
}

export type Fn = (payload: unknown) => Promise<unknown>;

export function scriptedLambda(functions: Record<string, Fn>) {
  const invocations: Array<{ name: string; payload: unknown }> = [];
  return {
    invocations,
    invoke: async (name: string, payload: unknown) => {
      invocations.push({ name, payload });
      const fn = functions[name];
      if (!fn) throw new LambdaInvocationError("Lambda.ResourceNotFoundException", name);
      try {
        return await fn(payload);
      } catch (error) {
        if (error instanceof LambdaInvocationError) throw error;
        const err = error as Error;
        throw new LambdaInvocationError(err.name, err.message);
      }
    },
  };
}

/** The workflow over `chunks` scripted chunks, with the given inference (and optionally chunk and merge) functions. */
export function scriptedWorkflow(options: {
  chunks: number;
  infer: Fn;
  chunkFn?: Fn;
  mergeFn?: Fn;
  /** The review function; default: one that writes nothing. */
  reviewFn?: Fn;
  tolerated?: number;
  batch?: number;
  text?: (index: number) => string;
  refuseWrite?: (input: Record<string, unknown>) => boolean;
  settings?: Partial<WorkflowSettings>;
}) {
  const s3 = fakeS3();
  const dynamodb = fakeDynamoDb(options.refuseWrite);
  const merges: MergeTaskInput[] = [];
  const items: ChunkItem[] = Array.from({ length: options.chunks }, (_, index) =>
    chunkItem({ index, pageStart: index + 1, pageEnd: index + 1, charEnd: 7, tokenCount: 5, text: options.text?.(index) ?? `chunk ${index}` }),
  );
  const defaultChunk: Fn = async () => {
    s3.store.set("bucket/chunks/doc-1/manifest.jsonl", manifestJsonl(items));
    return { manifest: { bucket: "bucket", key: "chunks/doc-1/manifest.jsonl" }, chunkCount: items.length, pageCount: items.length, tokenCount: 5 * items.length, ms: 1 };
  };
  const lambda = scriptedLambda({
    [arn("chunk")]: options.chunkFn ?? defaultChunk,
    [arn("infer")]: options.infer,
    [arn("merge")]: async (payload) => {
      merges.push(payload as MergeTaskInput);
      return options.mergeFn ? options.mergeFn(payload) : { status: "COMPLETED" };
    },
    [arn("review")]: options.reviewFn ?? (async () => ({ written: false, reason: "no-item" })),
  });
  const definition = buildDocumentWorkflow(
    { chunkFunctionArn: arn("chunk"), ocrFunctionArn: arn("ocr"), inferFunctionArn: arn("infer"), mergeFunctionArn: arn("merge"), reviewFunctionArn: arn("review"), tableName: "docs", bucketName: "bucket" },
    {
      ...defaultWorkflowSettings,
      maxItemsPerBatch: options.batch ?? 2,
      toleratedFailurePercentage: options.tolerated ?? 0,
      maxConcurrency: 2,
      ...options.settings,
    },
  );
  const stepFunctions = new LocalStepFunctions({
    stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:wf",
    definition,
    lambda: lambda as never,
    dynamodb: dynamodb as never,
    s3: s3 as never,
    retryIntervalMs: 1,
  });
  const source = { bucket: "bucket", key: "uploads/a.pdf", etag: "e", size: 3 };
  const input = JSON.stringify({
    documentId: "doc-1",
    schemaId: "generic",
    kind: "document",
    source,
    sourceOrder: sourceOrderOf("0A"),
    sourceAttribute: { M: marshall(source) },
    ocrMode: "auto",
  } satisfies WorkflowInput);
  return { s3, dynamodb, lambda, merges, stepFunctions, input, defaultChunk };
}

/** The real batch logic (extractBatch) over a scripted extractor: chunks whose text is long fail as a whole. */
export function splittingInfer(maxChars: number): { fn: Fn; calls: InferBatchInput[] } {
  const calls: InferBatchInput[] = [];
  const engine: ChunkExtractor = {
    extractAll: async (chunks) =>
      chunks.map((chunk) =>
        chunk.text.length > maxChars
          ? { ok: false, error: new DeadlineExceededError("cut at the deadline", "cut") }
          : { ok: true, extraction: { data: { title: chunk.text.slice(0, 12) }, tokensIn: 1, tokensReused: 0, tokensOut: 1, promptMs: 1, generationMs: 1, ms: 2 } },
      ),
  };
  const fn: Fn = async (payload) => {
    calls.push(structuredClone(payload as InferBatchInput));
    return extractBatch(payload as InferBatchInput, { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 } });
  };
  return { fn, calls };
}

export const echoInfer: Fn = async (payload) => ({
  results: (payload as InferBatchInput).Items.map((item) => ({ documentId: item.documentId, index: item.index, data: { title: item.text }, ms: 1 })),
});

/** The workflow's own item writes, in order: the status each sets, or "chunk count". */
export function statusWrites(dynamodb: ReturnType<typeof fakeDynamoDb>) {
  return dynamodb.calls.map((call) => {
    const values = call.input.ExpressionAttributeValues as Record<string, { S?: string }>;
    return values[":status"]?.S ?? (values[":chunks"] ? "chunk count" : "?");
  });
}
