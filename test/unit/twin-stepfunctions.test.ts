import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { extractBatch, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import { collectMapRunResults } from "../../functions/merge/document.ts";
import { DeadlineExceededError, OutputTruncatedError } from "../../functions/shared/errors.ts";
import { deterministicErrors, dynamoDbRetry, lambdaRetry } from "../../statemachine/retry-policy.ts";
import type { ChunkItem, InferBatchInput, MergeTaskInput, WorkflowInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { marshall } from "@aws-sdk/util-dynamodb";
import { LambdaInvocationError, LocalLambdaRuntime } from "../../infra/local/lambda-runtime.ts";
import { ExecutionAlreadyExistsError, ExecutionNotRedrivableError, LocalStepFunctions } from "../../infra/local/stepfunctions.ts";
import { buildDocumentWorkflow, defaultWorkflowSettings, type WorkflowSettings } from "../../statemachine/definition.ts";

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

/** Records DynamoDB calls; `refuse` makes a call fail its condition, as DynamoDB does when a newer execution owns the item. */
function fakeDynamoDb(refuse: (input: Record<string, unknown>) => boolean = () => false) {
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

function setup(options: {
  chunks: number;
  infer: Fn;
  chunkFn?: Fn;
  mergeFn?: Fn;
  tolerated?: number;
  batch?: number;
  text?: (index: number) => string;
  refuseWrite?: (input: Record<string, unknown>) => boolean;
  settings?: Partial<WorkflowSettings>;
}) {
  const s3 = fakeS3();
  const dynamodb = fakeDynamoDb(options.refuseWrite);
  const merges: MergeTaskInput[] = [];
  const items: ChunkItem[] = Array.from({ length: options.chunks }, (_, index) => ({
    documentId: "doc-1", index, chunkId: `c${index}`, pageStart: index + 1, pageEnd: index + 1, charStart: 0, charEnd: 7, tokenCount: 5, text: options.text?.(index) ?? `chunk ${index}`,
  }));
  const defaultChunk: Fn = async () => {
    s3.store.set("bucket/chunks/doc-1/manifest.jsonl", items.map((item) => JSON.stringify(item)).join("\n") + "\n");
    return { manifest: { bucket: "bucket", key: "chunks/doc-1/manifest.jsonl" }, chunkCount: items.length, pageCount: items.length, tokenCount: 5 * items.length, ms: 1 };
  };
  const lambda = scriptedLambda({
    [arn("chunk")]: options.chunkFn ?? defaultChunk,
    [arn("infer")]: options.infer,
    [arn("merge")]: async (payload) => {
      merges.push(payload as MergeTaskInput);
      return options.mergeFn ? options.mergeFn(payload) : { status: "COMPLETED" };
    },
  });
  const definition = buildDocumentWorkflow(
    { chunkFunctionArn: arn("chunk"), inferFunctionArn: arn("infer"), mergeFunctionArn: arn("merge"), tableName: "docs", bucketName: "bucket" },
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
  } satisfies WorkflowInput);
  return { s3, dynamodb, lambda, merges, stepFunctions, input, defaultChunk };
}

/** The real batch logic (extractBatch) over a scripted extractor: chunks whose text is long fail as a whole. */
function splittingInfer(maxChars: number): { fn: Fn; calls: InferBatchInput[] } {
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

const echoInfer: Fn = async (payload) => ({
  results: (payload as InferBatchInput).Items.map((item) => ({ documentId: item.documentId, index: item.index, data: { title: item.text }, ms: 1 })),
});

/** The workflow's own item writes, in order: the status each sets, or "chunk count". */
function statusWrites(dynamodb: ReturnType<typeof fakeDynamoDb>) {
  return dynamodb.calls.map((call) => {
    const values = call.input.ExpressionAttributeValues as Record<string, { S?: string }>;
    return values[":status"]?.S ?? (values[":chunks"] ? "chunk count" : "?");
  });
}

describe("the workflow on the twin's Step Functions", () => {
  it("batches the JSONL manifest, runs children under the concurrency cap and writes AWS-format results that merge reads", async () => {
    const t = setup({ chunks: 5, infer: echoInfer });
    const execution = await t.stepFunctions.startExecution({ name: "run-1", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    const batches = t.lambda.invocations.filter((i) => i.name === arn("infer")).map((i) => (i.payload as InferBatchInput).Items.length);
    expect(batches.sort()).toEqual([1, 2, 2]);
    expect((t.lambda.invocations.find((i) => i.name === arn("infer"))!.payload as InferBatchInput).BatchInput).toEqual({
      documentId: "doc-1",
      schemaId: "generic",
      executionId: execution.executionArn,
    });
    expect(t.lambda.invocations.find((i) => i.name === arn("chunk"))!.payload).toMatchObject({ executionId: execution.executionArn });
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
    const chunkCount = t.dynamodb.calls[1]!.input;
    expect(chunkCount).toMatchObject({ ConditionExpression: "#owner = :execution", ExpressionAttributeValues: { ":execution": { S: execution.executionArn } } });
    expect((chunkCount.ExpressionAttributeValues as Record<string, unknown>)[":chunks"]).toEqual({ M: { total: { N: "5" }, succeeded: { N: "0" }, failed: { N: "0" } } });
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

  it("fails the execution at the Map when failures exceed the threshold, for a redrive to resume there", async () => {
    const t = setup({ chunks: 4, tolerated: 0, infer: async () => Promise.reject(Object.assign(new Error("boom"), { name: "ModelOutputError" })) });
    const execution = await t.stepFunctions.startExecution({ name: "run-3", input: t.input }).done;
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(t.merges).toHaveLength(0);
    // Not caught: the item is left to the failed-execution function (EventBridge), the execution to a redrive.
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
  });

  it("redrives a failed Map Run: only the unsuccessful child executions run again, each chunk is merged once", async () => {
    let outage = true;
    const t = setup({
      chunks: 6,
      tolerated: 0,
      infer: async (payload) => {
        // Batch [2, 3] fails while the "outage" lasts; the others succeed the first time.
        if (outage && (payload as InferBatchInput).Items.some((item) => item.index === 2)) {
          throw Object.assign(new Error("socket hang up"), { name: "ModelOutputError" });
        }
        return echoInfer(payload);
      },
    });
    const first = await t.stepFunctions.startExecution({ name: "redrive-map", input: t.input }).done;
    expect(first.status).toBe("FAILED");
    const inferCalls = () => t.lambda.invocations.filter((i) => i.name === arn("infer")).map((i) => (i.payload as InferBatchInput).Items.map((item) => item.index));
    expect(inferCalls()).toHaveLength(3);

    outage = false;
    const redriven = await t.stepFunctions.redriveExecution(first.executionArn).done;
    expect(redriven.status).toBe("SUCCEEDED");
    expect(redriven.executionArn).toBe(first.executionArn);
    expect(redriven.redriveCount).toBe(1);
    // The redrive ran the failed batch only, and nothing before the Map (chunking, item writes).
    expect(inferCalls().slice(3)).toEqual([[2, 3]]);
    expect(t.lambda.invocations.filter((i) => i.name === arn("chunk"))).toHaveLength(1);
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
    expect(t.merges).toHaveLength(1);
    const merge = t.merges[0]!;
    const collected = await collectMapRunResults("bucket", merge.mapRun.ResultWriterDetails.Key, async (b, k) => t.s3.store.get(`${b}/${k}`)!);
    expect(collected.results.map((r) => r.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(collected.failedChunks).toEqual([]);
    // One result record per child execution; the redriven child kept its ARN and counts the redrive.
    const succeededFile = JSON.parse(t.s3.store.get(`bucket/${merge.mapRun.ResultWriterDetails.Key.replace("manifest.json", "SUCCEEDED_0.json")}`)!) as Array<{ ExecutionArn: string; RedriveCount: number }>;
    expect(succeededFile).toHaveLength(3);
    expect(new Set(succeededFile.map((r) => r.ExecutionArn)).size).toBe(3);
    expect(succeededFile.map((r) => r.RedriveCount).sort()).toEqual([0, 0, 1]);
  });

  it("redrives an execution that failed at the merge from the merge, with the same input", async () => {
    let mergeDown = true;
    const t = setup({
      chunks: 2,
      infer: echoInfer,
      mergeFn: async () => {
        if (mergeDown) throw Object.assign(new Error("table missing"), { name: "ResourceNotFoundException" });
        return { status: "COMPLETED" };
      },
    });
    const first = await t.stepFunctions.startExecution({ name: "redrive-merge", input: t.input }).done;
    expect(first.status).toBe("FAILED");
    expect(first.error).toBe("ResourceNotFoundException");
    mergeDown = false;
    const redriven = await t.stepFunctions.redriveExecution(first.executionArn).done;
    expect(redriven.status).toBe("SUCCEEDED");
    expect(t.lambda.invocations.map((i) => i.name.split(":").pop())).toEqual(["chunk", "infer", "merge", "merge"]);
    expect(t.merges[1]).toEqual(t.merges[0]);
    expect(t.merges[1]!.execution.id).toBe(first.executionArn);
  });

  it("refuses to redrive a running or succeeded execution; a document that cannot be processed stays FAILED", async () => {
    const t = setup({
      chunks: 1,
      infer: echoInfer,
      chunkFn: async () => {
        throw Object.assign(new Error("NOT_A_PDF: the file is not a PDF"), { name: "DocumentInputError" });
      },
    });
    const failed = await t.stepFunctions.startExecution({ name: "bad-input", input: t.input }).done;
    expect(failed.status).toBe("FAILED");
    const writes = t.dynamodb.calls.length;
    // An input error was caught and recorded: the execution stopped at its Fail state, which a redrive reruns.
    const redriven = await t.stepFunctions.redriveExecution(failed.executionArn).done;
    expect(redriven.status).toBe("FAILED");
    expect(redriven.error).toBe("DocumentInputError");
    expect(t.dynamodb.calls).toHaveLength(writes);
    expect(t.lambda.invocations.filter((i) => i.name === arn("chunk"))).toHaveLength(1);

    const ok = setup({ chunks: 1, infer: echoInfer });
    const succeeded = await ok.stepFunctions.startExecution({ name: "fine", input: ok.input }).done;
    expect(() => ok.stepFunctions.redriveExecution(succeeded.executionArn)).toThrow(ExecutionNotRedrivableError);
  });

  it("stops an execution on request: it ends ABORTED", async () => {
    const t = setup({ chunks: 1, infer: async (payload) => new Promise((resolve) => setTimeout(() => resolve(echoInfer(payload)), 2000)) });
    const execution = t.stepFunctions.startExecution({ name: "stopped", input: t.input });
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.stepFunctions.stopExecution(execution.executionArn);
    const ended = await execution.done;
    expect(ended.status).toBe("ABORTED");
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

  it("marks PROCESSING only when no newer version owns the item, and ends quietly as superseded when one does", async () => {
    const t = setup({ chunks: 2, infer: echoInfer, refuseWrite: (input) => String(input.UpdateExpression).includes("sourceOrder = :order") });
    const execution = await t.stepFunctions.startExecution({ name: "run-superseded-1", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    const mark = t.dynamodb.calls[0]!.input;
    expect(mark.ConditionExpression).toBe("attribute_not_exists(documentId) OR sourceOrder <= :order");
    expect((mark.ExpressionAttributeValues as Record<string, unknown>)[":order"]).toEqual({ S: sourceOrderOf("0A") });
    expect((mark.ExpressionAttributeValues as Record<string, unknown>)[":source"]).toEqual({ M: marshall(JSON.parse(t.input).source) });
    expect(t.lambda.invocations.filter((i) => i.name === arn("chunk"))).toHaveLength(0);
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING"]);
  });

  it("ends quietly when the merge finds the item taken over by a newer version, and writes no FAILED over it", async () => {
    const t = setup({
      chunks: 2,
      infer: echoInfer,
      mergeFn: async () => Promise.reject(Object.assign(new Error("owned by another execution"), { name: "Superseded" })),
    });
    const execution = await t.stepFunctions.startExecution({ name: "run-superseded-2", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(t.lambda.invocations.filter((i) => i.name === arn("merge"))).toHaveLength(1);
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
  });

  it("fails the execution with the merge's error when the merge wrote the item FAILED for too many failed chunks", async () => {
    const t = setup({
      chunks: 2,
      infer: echoInfer,
      mergeFn: async () => ({ status: "FAILED", error: "TooManyFailedChunks", cause: "2 of the document's 2 chunks failed" }),
    });
    const execution = await t.stepFunctions.startExecution({ name: "run-merge-failed", input: t.input }).done;
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("TooManyFailedChunks");
    expect(execution.cause).toBe("2 of the document's 2 chunks failed");
    // The merge wrote the FAILED item with its failed chunks; the workflow does not overwrite it.
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
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

  it("extracts the halves of a chunk that ran out of time in a fresh invocation, and merges every part", async () => {
    const long = "A sentence of the long chunk. ".repeat(8);
    const infer = splittingInfer(long.length / 2 + 20);
    const t = setup({ chunks: 3, batch: 3, infer: infer.fn, text: (index) => (index === 1 ? long : `chunk ${index}`) });
    const execution = await t.stepFunctions.startExecution({ name: "split-1", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    // Pass 1: three chunks, chunk 1 is cut; pass 2 (same child execution): its two halves, pass 1's results carried.
    expect(infer.calls.map((call) => call.Items.map((item) => `${item.index}${item.part ? `/${item.part}` : ""}`))).toEqual([
      ["0", "1", "2"],
      ["1/1", "1/2"],
    ]);
    expect(infer.calls[1]!.results?.map((result) => result.index)).toEqual([0, 2]);
    const merge = t.merges[0]!;
    const collected = await collectMapRunResults(merge.mapRun.ResultWriterDetails.Bucket, merge.mapRun.ResultWriterDetails.Key, async (bucket, key) => {
      const body = t.s3.store.get(`${bucket}/${key}`);
      if (body === undefined) throw new Error(`missing ${bucket}/${key}`);
      return body;
    });
    expect(collected.failedChunks).toEqual([]);
    expect(collected.results.map((result) => `${result.index}${result.part ? `/${result.part}` : ""}`).sort()).toEqual(["0", "1/1", "1/2", "2"]);
  });

  it("records a chunk as failed, with its error, when even its smallest parts cannot finish", async () => {
    const infer = splittingInfer(10);
    const t = setup({ chunks: 2, batch: 2, tolerated: 50, infer: infer.fn, text: (index) => (index === 0 ? "short" : "A sentence that never fits. ".repeat(4)) });
    const execution = await t.stepFunctions.startExecution({ name: "split-2", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    // 112 characters: split once into halves of at least 28, which are below the minimum split size: they fail.
    expect(infer.calls).toHaveLength(2);
    const merge = t.merges[0]!;
    expect(merge.toleratedFailurePercentage).toBe(50);
    const collected = await collectMapRunResults(merge.mapRun.ResultWriterDetails.Bucket, merge.mapRun.ResultWriterDetails.Key, async (bucket, key) => t.s3.store.get(`${bucket}/${key}`)!);
    expect(collected.results.map((result) => result.index)).toEqual([0]);
    expect(collected.failedChunks.map((failure) => [failure.index, failure.part, failure.error])).toEqual([
      [1, "1", "DeadlineExceeded"],
      [1, "2", "DeadlineExceeded"],
    ]);
  });
});

describe("the workflow's retry rules, run by the twin's Step Functions", () => {
  it("retries a truncated answer once with twice the budget in a fresh invocation, then fails the chunk", async () => {
    const calls: InferBatchInput[] = [];
    const engine: ChunkExtractor = {
      // Chunk 0 needs 1,500 answer tokens, chunk 1 more than any budget; the function's cap is 1,000.
      extractAll: async (chunks) =>
        chunks.map((chunk) => {
          const budget = chunk.maxOutputTokens ?? 1000;
          const needs = chunk.text === "chunk 0" ? 1500 : chunk.text === "chunk 1" ? 5000 : 10;
          return budget >= needs
            ? { ok: true, extraction: { data: { title: chunk.text }, tokensIn: 1, tokensReused: 0, tokensOut: needs, promptMs: 1, generationMs: 1, ms: 2 } }
            : { ok: false, error: new OutputTruncatedError(`The answer reached the cap of ${budget} output tokens`) };
        }),
    };
    const infer: Fn = async (payload) => {
      calls.push(structuredClone(payload as InferBatchInput));
      return extractBatch(payload as InferBatchInput, {
        engine, modelId: "m", retryOutputTokens: 2000, deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 },
      });
    };
    const t = setup({ chunks: 3, batch: 3, tolerated: 50, infer });
    const execution = await t.stepFunctions.startExecution({ name: "truncated-1", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(calls.map((call) => call.Items.map((item) => `${item.index}:${item.outputTokens ?? "-"}`))).toEqual([["0:-", "1:-", "2:-"], ["0:2000", "1:2000"]]);
    const merge = t.merges[0]!;
    const collected = await collectMapRunResults("bucket", merge.mapRun.ResultWriterDetails.Key, async (b, k) => t.s3.store.get(`${b}/${k}`)!);
    expect(collected.results.map((r) => r.index).sort()).toEqual([0, 2]);
    expect(collected.failedChunks.map((f) => [f.index, f.error])).toEqual([[1, "OutputTruncated"]]);
  });

  // Every rule of statemachine/retry-policy.ts, applied to the chunk task: errors within MaxAttempts are retried to
  // success; one more failure than the rule allows fails the execution with that error.
  for (const rule of lambdaRetry) {
    for (const errorName of rule.ErrorEquals) {
      it(`retries ${errorName} up to ${rule.MaxAttempts} times`, async () => {
        const run = async (failures: number) => {
          let attempts = 0;
          const t = setup({
            chunks: 1,
            infer: echoInfer,
            chunkFn: async (payload) => {
              if (attempts++ < failures) throw Object.assign(new Error(`injected ${errorName}`), { name: errorName });
              return t.defaultChunk(payload);
            },
          });
          const execution = await t.stepFunctions.startExecution({ name: `retry-${failures}`, input: t.input }).done;
          return { execution, attempts, t };
        };
        const recovered = await run(rule.MaxAttempts);
        expect(recovered.execution.status).toBe("SUCCEEDED");
        expect(recovered.attempts).toBe(rule.MaxAttempts + 1);
        const exhausted = await run(rule.MaxAttempts + 1);
        expect(exhausted.execution.status).toBe("FAILED");
        expect(exhausted.attempts).toBe(rule.MaxAttempts + 1);
        expect(exhausted.execution.error).toBe(errorName);
        // Not caught: the execution stops at the chunk task (a redrive resumes there); the item is left PROCESSING
        // for the failed-execution function to record.
        expect(statusWrites(exhausted.t.dynamodb)).toEqual(["PROCESSING"]);
      });
    }
  }

  for (const rule of dynamoDbRetry) {
    for (const errorName of rule.ErrorEquals) {
      it(`retries the workflow's own item writes on ${errorName} up to ${rule.MaxAttempts} times`, async () => {
        let refusals = 0;
        const t = setup({ chunks: 1, infer: echoInfer });
        const send = t.dynamodb.send;
        t.dynamodb.send = async (command) => {
          if (refusals++ < rule.MaxAttempts) throw Object.assign(new Error("injected"), { name: errorName.replace(/^DynamoDB\./, "") });
          return send(command);
        };
        const execution = await t.stepFunctions.startExecution({ name: "ddb-retry", input: t.input }).done;
        expect(execution.status).toBe("SUCCEEDED");
        // The mark was refused MaxAttempts times, then made; the chunk-count write went through at once.
        expect(refusals).toBe(rule.MaxAttempts + 2);
      });
    }
  }

  it("times a slow task out at its TimeoutSeconds (States.Timeout) and retries it", async () => {
    let attempts = 0;
    const t = setup({
      chunks: 1,
      infer: echoInfer,
      settings: { chunkTimeoutSeconds: 1 },
      chunkFn: async (payload) => {
        // The first attempt hangs past the task's timeout; the retry is quick.
        if (attempts++ === 0) await new Promise((resolve) => setTimeout(resolve, 3000));
        return t.defaultChunk(payload);
      },
    });
    const execution = await t.stepFunctions.startExecution({ name: "task-timeout", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(attempts).toBe(2);
  });

  it("never retries deterministic errors", async () => {
    for (const errorName of deterministicErrors) {
      let attempts = 0;
      const t = setup({ chunks: 1, infer: echoInfer, chunkFn: async () => { attempts++; throw Object.assign(new Error("no"), { name: errorName }); } });
      const execution = await t.stepFunctions.startExecution({ name: `det-${errorName}`, input: t.input }).done;
      expect(attempts, errorName).toBe(1);
      expect(execution.status, errorName).toBe("FAILED");
    }
  });
});

describe("the twin's Lambda runtime", () => {
  it("times an invocation out as Lambda does (Sandbox.Timedout), counting from after the init, and queues beyond its containers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llambda-runtime-"));
    try {
      // A slow init (300 ms) must not count against the 1 s timeout; the handler sleeps as asked.
      writeFileSync(
        join(dir, "handler.mjs"),
        "await new Promise((r) => setTimeout(r, 300));\n" +
          "export async function handler(event, context) { const left = context.getRemainingTimeInMillis(); await new Promise((r) => setTimeout(r, event.sleepMs)); return { left }; }\n",
      );
      const runtime = new LocalLambdaRuntime([{ name: "fn", modulePath: join(dir, "handler.mjs"), timeoutSeconds: 1, memoryMb: 128, containers: 1 }]);
      const first = (await runtime.invoke("fn", { sleepMs: 10 })) as { left: number };
      expect(first.left).toBeGreaterThan(900);
      await expect(runtime.invoke("fn", { sleepMs: 1500 })).rejects.toMatchObject({ name: "Sandbox.Timedout" });
      // One container: the second invocation starts when the first ends, with its own full second.
      const started = Date.now();
      const [a, b] = (await Promise.all([runtime.invoke("fn", { sleepMs: 600 }), runtime.invoke("fn", { sleepMs: 600 })])) as Array<{ left: number }>;
      expect(Date.now() - started).toBeGreaterThanOrEqual(1150);
      expect(Math.min(a!.left, b!.left)).toBeGreaterThan(900);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
