import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { collectMapRunResults } from "../functions/merge/document.ts";
import type { ChunkItem, InferBatchInput, MergeTaskInput } from "../functions/shared/contracts.ts";
import { LambdaInvocationError } from "../infra/local/lambda-runtime.ts";
import { ExecutionAlreadyExistsError, LocalStepFunctions } from "../infra/local/stepfunctions.ts";
import { buildDocumentWorkflow, defaultWorkflowSettings } from "../statemachine/definition.ts";

/**
 * The real workflow definition, run by the twin's Step Functions with in-memory S3 and DynamoDB and scripted Lambda
 * functions: proves the Distributed Map adapter (ItemReader, ItemBatcher, ResultWriter, tolerated failures) and the
 * definition's Retry/Catch paths without llama.cpp.
 */
const arn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

function fakeS3(store = new Map<string, string>()) {
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

function fakeDynamoDb() {
  const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
  return {
    calls,
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      calls.push({ command: command.constructor.name, input: command.input });
      return { $metadata: {} };
    },
  };
}

type Fn = (payload: unknown) => Promise<unknown>;

function scriptedLambda(functions: Record<string, Fn>) {
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

function setup(options: { chunks: number; infer: Fn; chunkFn?: Fn; tolerated?: number; batch?: number }) {
  const s3 = fakeS3();
  const dynamodb = fakeDynamoDb();
  const merges: MergeTaskInput[] = [];
  const items: ChunkItem[] = Array.from({ length: options.chunks }, (_, index) => ({
    documentId: "doc-1", index, chunkId: `c${index}`, pageStart: index + 1, pageEnd: index + 1, charStart: 0, charEnd: 7, tokenCount: 5, text: `chunk ${index}`,
  }));
  const lambda = scriptedLambda({
    [arn("chunk")]:
      options.chunkFn ??
      (async () => {
        s3.store.set("bucket/chunks/doc-1/manifest.jsonl", items.map((item) => JSON.stringify(item)).join("\n") + "\n");
        return { manifest: { bucket: "bucket", key: "chunks/doc-1/manifest.jsonl" }, chunkCount: items.length, pageCount: items.length, tokenCount: 5 * items.length, ms: 1 };
      }),
    [arn("infer")]: options.infer,
    [arn("merge")]: async (payload) => {
      merges.push(payload as MergeTaskInput);
      return { status: "COMPLETED" };
    },
  });
  const definition = buildDocumentWorkflow(
    { chunkFunctionArn: arn("chunk"), inferFunctionArn: arn("infer"), mergeFunctionArn: arn("merge"), tableName: "docs", bucketName: "bucket" },
    { ...defaultWorkflowSettings, maxItemsPerBatch: options.batch ?? 2, toleratedFailurePercentage: options.tolerated ?? 0, maxConcurrency: 2 },
  );
  const stepFunctions = new LocalStepFunctions({
    stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:wf",
    definition,
    lambda: lambda as never,
    dynamodb: dynamodb as never,
    s3: s3 as never,
    retryIntervalMs: 1,
  });
  const input = JSON.stringify({ documentId: "doc-1", source: { bucket: "bucket", key: "uploads/a.pdf", etag: "e", size: 3 } });
  return { s3, dynamodb, lambda, merges, stepFunctions, input };
}

const echoInfer: Fn = async (payload) => ({
  results: (payload as InferBatchInput).Items.map((item) => ({ documentId: item.documentId, index: item.index, data: { title: item.text }, ms: 1 })),
});

function statusWrites(dynamodb: ReturnType<typeof fakeDynamoDb>) {
  return dynamodb.calls.map((call) => (call.input.ExpressionAttributeValues as Record<string, { S?: string }>)[":status"]?.S);
}

describe("the workflow on the twin's Step Functions", () => {
  it("batches the JSONL manifest, runs children under the concurrency cap and writes AWS-format results that merge reads", async () => {
    const t = setup({ chunks: 5, infer: echoInfer });
    const execution = await t.stepFunctions.startExecution({ name: "run-1", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    const batches = t.lambda.invocations.filter((i) => i.name === arn("infer")).map((i) => (i.payload as InferBatchInput).Items.length);
    expect(batches.sort()).toEqual([1, 2, 2]);
    expect((t.lambda.invocations.find((i) => i.name === arn("infer"))!.payload as InferBatchInput).BatchInput).toEqual({ documentId: "doc-1" });
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING"]);
    const merge = t.merges[0]!;
    expect(merge.execution.id).toBe(execution.executionArn);
    expect(merge.chunking.chunkCount).toBe(5);
    const read = async (bucket: string, key: string) => t.s3.store.get(`${bucket}/${key}`)!;
    const collected = await collectMapRunResults(merge.mapRun.ResultWriterDetails.Bucket, merge.mapRun.ResultWriterDetails.Key, read);
    expect(collected.results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(collected.failedChunks).toEqual([]);
    expect(merge.mapRun.ResultWriterDetails.Key).toMatch(/^map-results\/[0-9a-f-]{36}\/manifest\.json$/);
  });

  it("merges with the failed chunks recorded when failures stay within the tolerated percentage", async () => {
    const t = setup({
      chunks: 4,
      tolerated: 50,
      infer: async (payload) => {
        if ((payload as InferBatchInput).Items.some((item) => item.index === 0)) throw Object.assign(new Error("no JSON"), { name: "ModelOutputError" });
        return echoInfer(payload);
      },
    });
    const execution = await t.stepFunctions.startExecution({ name: "run-2", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    const merge = t.merges[0]!;
    const collected = await collectMapRunResults("bucket", merge.mapRun.ResultWriterDetails.Key, async (b, k) => t.s3.store.get(`${b}/${k}`)!);
    expect(collected.failedChunks.map((f) => [f.index, f.error])).toEqual([[0, "ModelOutputError"], [1, "ModelOutputError"]]);
    expect(collected.results).toHaveLength(2);
  });

  it("records FAILED with the Map's error when failures exceed the threshold", async () => {
    const t = setup({ chunks: 4, tolerated: 0, infer: async () => Promise.reject(Object.assign(new Error("boom"), { name: "ModelOutputError" })) });
    const execution = await t.stepFunctions.startExecution({ name: "run-3", input: t.input }).done;
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(t.merges).toHaveLength(0);
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "FAILED"]);
    const failure = t.dynamodb.calls[1]!.input.ExpressionAttributeValues as Record<string, { S: string }>;
    expect(failure[":error"]!.S).toBe("States.ExceedToleratedFailureThreshold");
  });

  it("does not retry a bad document: DocumentInputError goes straight to FAILED with Lambda's error payload as cause", async () => {
    let chunkCalls = 0;
    const t = setup({
      chunks: 1,
      infer: echoInfer,
      chunkFn: async () => {
        chunkCalls++;
        throw Object.assign(new Error("NOT_A_PDF: the file is not a PDF"), { name: "DocumentInputError" });
      },
    });
    const execution = await t.stepFunctions.startExecution({ name: "run-4", input: t.input }).done;
    expect(execution.status).toBe("FAILED");
    expect(chunkCalls).toBe(1);
    const failure = t.dynamodb.calls[1]!.input.ExpressionAttributeValues as Record<string, { S: string }>;
    expect(failure[":error"]!.S).toBe("DocumentInputError");
    expect(JSON.parse(failure[":cause"]!.S)).toMatchObject({ errorType: "DocumentInputError", errorMessage: "NOT_A_PDF: the file is not a PDF" });
  });

  it("retries Lambda throttling and then succeeds", async () => {
    let calls = 0;
    const t = setup({
      chunks: 1,
      infer: async (payload) => {
        if (calls++ < 2) throw Object.assign(new Error("Rate exceeded"), { name: "Lambda.TooManyRequestsException" });
        return echoInfer(payload);
      },
    });
    const execution = await t.stepFunctions.startExecution({ name: "run-5", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(calls).toBe(3);
  });

  it("refuses a second execution of the same name, as Step Functions does", async () => {
    const t = setup({ chunks: 1, infer: echoInfer });
    const first = t.stepFunctions.startExecution({ name: "same", input: t.input });
    expect(t.stepFunctions.startExecution({ name: "same", input: t.input })).toBe(first);
    await first.done;
    expect(() => t.stepFunctions.startExecution({ name: "same", input: t.input })).toThrow(ExecutionAlreadyExistsError);
    expect(t.merges).toHaveLength(1);
  });
});
