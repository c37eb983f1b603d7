import { describe, expect, it } from "vitest";
import { collectMapRunResults } from "../../functions/merge/document.ts";
import type { InferBatchInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { marshall } from "@aws-sdk/util-dynamodb";
import { ExecutionAlreadyExistsError, ExecutionNotRedrivableError } from "../../infra/local/stepfunctions.ts";
import { arn, echoInfer, scriptedWorkflow, splittingInfer, statusWrites } from "../helpers/scripted-workflow.ts";

/**
 * The real workflow definition, run by the twin's Step Functions with in-memory S3 and DynamoDB and scripted Lambda
 * functions: proves the Distributed Map adapter (ItemReader, ItemBatcher, ResultWriter, tolerated failures) and the
 * definition's Retry/Catch paths without llama.cpp. The retry rules one by one are in workflow-retry-rules.test.ts.
 */
describe("the workflow on the twin's Step Functions", () => {
  it("batches the JSONL manifest, runs children under the concurrency cap and writes AWS-format results that merge reads", async () => {
    const t = scriptedWorkflow({ chunks: 5, infer: echoInfer });
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
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({ chunks: 4, tolerated: 0, infer: async () => Promise.reject(Object.assign(new Error("boom"), { name: "ModelOutputError" })) });
    const execution = await t.stepFunctions.startExecution({ name: "run-3", input: t.input }).done;
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(t.merges).toHaveLength(0);
    // Not caught: the item is left to the failed-execution function (EventBridge), the execution to a redrive.
    expect(statusWrites(t.dynamodb)).toEqual(["PROCESSING", "chunk count"]);
  });

  it("redrives a failed Map Run: only the unsuccessful child executions run again, each chunk is merged once", async () => {
    let outage = true;
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({
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
    expect(t.lambda.invocations.map((i) => i.name.split(":").pop())).toEqual(["chunk", "infer", "merge", "merge", "review"]);
    expect(t.merges[1]).toEqual(t.merges[0]);
    expect(t.merges[1]!.execution.id).toBe(first.executionArn);
  });

  it("refuses to redrive a running or succeeded execution; a document that cannot be processed stays FAILED", async () => {
    const t = scriptedWorkflow({
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

    const ok = scriptedWorkflow({ chunks: 1, infer: echoInfer });
    const succeeded = await ok.stepFunctions.startExecution({ name: "fine", input: ok.input }).done;
    expect(() => ok.stepFunctions.redriveExecution(succeeded.executionArn)).toThrow(ExecutionNotRedrivableError);
  });

  it("stops an execution on request: it ends ABORTED", async () => {
    const t = scriptedWorkflow({ chunks: 1, infer: async (payload) => new Promise((resolve) => setTimeout(() => resolve(echoInfer(payload)), 2000)) });
    const execution = t.stepFunctions.startExecution({ name: "stopped", input: t.input });
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.stepFunctions.stopExecution(execution.executionArn);
    const ended = await execution.done;
    expect(ended.status).toBe("ABORTED");
  });

  it("does not retry a bad document: DocumentInputError goes straight to FAILED with Lambda's error payload as cause", async () => {
    let chunkCalls = 0;
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({ chunks: 2, infer: echoInfer, refuseWrite: (input) => String(input.UpdateExpression).includes("sourceOrder = :order") });
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
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({
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
    const t = scriptedWorkflow({ chunks: 1, infer: echoInfer });
    const first = t.stepFunctions.startExecution({ name: "same", input: t.input });
    expect(t.stepFunctions.startExecution({ name: "same", input: t.input })).toBe(first);
    await first.done;
    expect(() => t.stepFunctions.startExecution({ name: "same", input: t.input })).toThrow(ExecutionAlreadyExistsError);
    expect(t.merges).toHaveLength(1);
  });

  it("extracts the halves of a chunk that ran out of time in a fresh invocation, and merges every part", async () => {
    const long = "A sentence of the long chunk. ".repeat(8);
    const infer = splittingInfer(long.length / 2 + 20);
    const t = scriptedWorkflow({ chunks: 3, batch: 3, infer: infer.fn, text: (index) => (index === 1 ? long : `chunk ${index}`) });
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
    const t = scriptedWorkflow({ chunks: 2, batch: 2, tolerated: 50, infer: infer.fn, text: (index) => (index === 0 ? "short" : "A sentence that never fits. ".repeat(4)) });
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

describe("the review page's task on the twin's Step Functions", () => {
  const names = (t: ReturnType<typeof scriptedWorkflow>) => t.lambda.invocations.map((i) => i.name.split(":").pop());

  it("runs after the merge of a finished document, for this execution; its answer is in the execution's output", async () => {
    for (const status of ["COMPLETED", "PARTIAL"]) {
      const written = { written: true, bucket: "bucket", key: "reviews/doc-1/x.html", bytes: 10, pages: [1] };
      const t = scriptedWorkflow({ chunks: 1, infer: echoInfer, mergeFn: async () => ({ status }), reviewFn: async () => written });
      const execution = await t.stepFunctions.startExecution({ name: `review-${status}`, input: t.input }).done;
      expect(execution.status).toBe("SUCCEEDED");
      expect(names(t)).toEqual(["chunk", "infer", "merge", "review"]);
      expect(t.lambda.invocations.at(-1)!.payload).toEqual({ documentId: "doc-1", execution: { id: execution.executionArn } });
      expect((JSON.parse(execution.output!) as { review: unknown }).review).toEqual({ value: written });
    }
  });

  it("never fails the document: an error, after the retry policy's retries, goes into the output and the execution succeeds", async () => {
    let calls = 0;
    const t = scriptedWorkflow({
      chunks: 1,
      infer: echoInfer,
      reviewFn: async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error("Rate exceeded"), { name: "Lambda.TooManyRequestsException" });
        throw Object.assign(new Error("canvas: out of memory"), { name: "RangeError" });
      },
    });
    const execution = await t.stepFunctions.startExecution({ name: "review-fails", input: t.input }).done;
    expect(execution.status).toBe("SUCCEEDED");
    // The throttle was retried; the deterministic error was not.
    expect(calls).toBe(2);
    const { review } = JSON.parse(execution.output!) as { review: { Error: string; Cause: string } };
    expect(review.Error).toBe("RangeError");
    expect(review.Cause).toContain("canvas: out of memory");
  });

  it("is skipped for a document that FAILED and for a record batch", async () => {
    const failed = scriptedWorkflow({
      chunks: 1,
      infer: echoInfer,
      mergeFn: async () => ({ status: "FAILED", error: "TooManyFailedChunks", cause: "1 of 1" }),
    });
    expect((await failed.stepFunctions.startExecution({ name: "review-failed", input: failed.input }).done).status).toBe("FAILED");
    expect(names(failed)).toEqual(["chunk", "infer", "merge"]);

    const batch = scriptedWorkflow({ chunks: 1, infer: echoInfer, mergeFn: async () => ({ status: "COMPLETED", records: { total: 1 } }) });
    const input = JSON.stringify({ ...(JSON.parse(batch.input) as object), kind: "batch" });
    expect((await batch.stepFunctions.startExecution({ name: "review-batch", input }).done).status).toBe("SUCCEEDED");
    expect(names(batch)).toEqual(["chunk", "infer", "merge"]);
  });
});
