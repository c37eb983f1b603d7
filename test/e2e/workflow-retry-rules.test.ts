import { describe, expect, it } from "vitest";
import { extractBatch, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import { collectMapRunResults } from "../../functions/merge/document.ts";
import { OutputTruncatedError } from "../../functions/shared/errors.ts";
import { deterministicErrors, dynamoDbRetry, lambdaRetry } from "../../statemachine/retry-policy.ts";
import type { InferBatchInput } from "../../functions/shared/contracts.ts";
import { echoInfer, scriptedWorkflow, statusWrites, type Fn } from "../helpers/scripted-workflow.ts";

/** Each rule of the workflow's retry policy (statemachine/retry-policy.ts), run by the twin's Step Functions with scripted functions. */
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
    const t = scriptedWorkflow({ chunks: 3, batch: 3, tolerated: 50, infer });
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
          const t = scriptedWorkflow({
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
        const t = scriptedWorkflow({ chunks: 1, infer: echoInfer });
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
    const t = scriptedWorkflow({
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
      const t = scriptedWorkflow({ chunks: 1, infer: echoInfer, chunkFn: async () => { attempts++; throw Object.assign(new Error("no"), { name: errorName }); } });
      const execution = await t.stepFunctions.startExecution({ name: `det-${errorName}`, input: t.input }).done;
      expect(attempts, errorName).toBe(1);
      expect(execution.status, errorName).toBe("FAILED");
    }
  });
});
