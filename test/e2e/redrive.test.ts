import { DescribeExecutionCommand, RedriveExecutionCommand, SFNClient, StopExecutionCommand } from "@aws-sdk/client-sfn";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InferBatchInput } from "../../functions/shared/contracts.ts";
import { lambdaRetry } from "../../statemachine/retry-policy.ts";
import { FaultInjector, parseFaults } from "../../infra/local/faults.ts";
import { TwinNames, type LocalTwin } from "../../infra/local/twin.ts";
import { validateItem } from "../helpers/item-schema.ts";
import { multiPagePdf, startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * Redrive and unsuccessful ends, end to end on the twin with real llama.cpp: a task that fails beyond its retries
 * stops the execution where it happened, the failed-execution function records FAILED on the item, and a redrive
 * (through the Step Functions API, as the console does) resumes at that state, runs nothing twice and ends the
 * document COMPLETED with one more item version.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

const serviceError = (name = "Lambda.ServiceException") => Object.assign(new Error(`Service unavailable (injected outage, ${name})`), { name });
const transientRetries = lambdaRetry.find((rule) => rule.ErrorEquals.includes("Lambda.ServiceException"))!.MaxAttempts;
const streamOf = (records: DynamoDBRecord[], documentId: string) =>
  records
    .filter((record) => record.dynamodb?.Keys?.documentId?.S === documentId)
    .map((record) => `${record.dynamodb?.NewImage?.status?.S} v${record.dynamodb?.NewImage?.version?.N}`);

describe("redrive on the twin", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;
  let sfn: SFNClient;
  /** Functions failing with Lambda.ServiceException while in this set (an outage beyond the retries). */
  const down = new Set<string>();
  /** The error the functions in `down` fail with. */
  let outageError = "Lambda.ServiceException";
  const invocations: Array<{ fn: string; items?: number[] }> = [];
  /** Every one of the workflow's own DynamoDB writes fails while enabled (`LLAMBDA_FAULTS="ddb:error=1"`). */
  const dynamoDbOutage = new FaultInjector(parseFaults("ddb:error=1"));
  dynamoDbOutage.enabled = false;

  beforeAll(async () => {
    fixture = await startTestTwin({
      faults: dynamoDbOutage,
      injectFault: (fn, event) => {
        invocations.push({ fn, ...(fn === "infer" ? { items: (event as InferBatchInput).Items.map((item) => item.index) } : {}) });
        return down.has(fn) ? serviceError(outageError) : undefined;
      },
    });
    twin = fixture.twin;
    // The twin's Step Functions endpoint, found the way handlers find it (AWS_ENDPOINT_URL_SFN).
    sfn = new SFNClient({});
  }, 120_000);

  afterAll(async () => {
    sfn?.destroy();
    await fixture?.stop();
  });

  const executionOf = (documentId: string) =>
    twin.stepFunctions.executions().find((execution) => (JSON.parse(execution.input) as { documentId: string }).documentId === documentId)!;
  const count = (fn: string) => invocations.filter((call) => call.fn === fn).length;

  it("an execution that failed at the merge is recorded FAILED, and its redrive completes it without rerunning a chunk", async () => {
    down.add("merge");
    const { documentId } = await twin.uploadBytes(await multiPagePdf(3), "uploads/redrive/merge-outage.pdf");
    const failed = (await twin.waitForDocument(documentId))!;
    const execution = executionOf(documentId);
    expect(execution.status).toBe("FAILED");
    expect(execution.error).toBe("Lambda.ServiceException");
    expect(count("merge")).toBe(transientRetries + 1);
    // Recorded by the failed-execution function from the execution's status event.
    expect(failed).toMatchObject({ status: "FAILED", error: "Lambda.ServiceException", version: 3, executionArn: execution.executionArn });
    expect(failed.cause).toMatch(/injected outage/);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    expect(described.redriveStatus).toBe("REDRIVABLE");
    // EventBridge may deliver the status event twice: the second finds the outcome recorded and writes nothing.
    const { executionStatusChangeEvent } = await import("../../infra/local/eventbridge.ts");
    await expect(twin.lambda.invoke(TwinNames.functionArn("failed-execution"), executionStatusChangeEvent(execution, "us-east-1"))).resolves.toMatchObject({
      outcome: "already-final",
    });
    expect((await twin.getDocument(documentId))!.version).toBe(3);

    const before = { chunk: count("chunk"), infer: count("infer"), merge: count("merge") };
    down.delete("merge");
    await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
    const completed = (await twin.waitForDocument(documentId))!;
    expect(executionOf(documentId)).toMatchObject({ status: "SUCCEEDED", executionArn: execution.executionArn, redriveCount: 1 });
    expect({ chunk: count("chunk"), infer: count("infer"), merge: count("merge") }).toEqual({ ...before, merge: before.merge + 1 });
    expect(completed).toMatchObject({ status: "COMPLETED", version: 4, executionArn: execution.executionArn });
    expect(completed.error).toBeUndefined();
    expect(completed.chunks!.succeeded).toBe(completed.chunks!.total);
    expect(validateItem(completed)).toBe(true);
    await twin.streamSettled();
    expect(streamOf(await twin.streamRecords(), documentId)).toEqual(["PROCESSING v1", "PROCESSING v2", "FAILED v3", "COMPLETED v4"]);
  }, 300_000);

  it("an execution that failed before its item existed leaves a FAILED item, which its redrive completes", async () => {
    dynamoDbOutage.enabled = true;
    let documentId: string;
    try {
      ({ documentId } = await twin.uploadBytes(await multiPagePdf(1), "uploads/redrive/table-outage.pdf"));
      await twin.waitForDocument(documentId);
    } finally {
      dynamoDbOutage.enabled = false;
    }
    const execution = executionOf(documentId);
    // "Mark document processing" spent its retries: nothing wrote the item but the failed-execution function.
    expect(execution).toMatchObject({ status: "FAILED", error: "DynamoDB.InternalServerErrorException" });
    const failed = (await twin.getDocument(documentId))!;
    expect(failed).toMatchObject({
      status: "FAILED",
      error: "DynamoDB.InternalServerErrorException",
      version: 1,
      executionArn: execution.executionArn,
      source: { key: "uploads/redrive/table-outage.pdf" },
    });
    expect(validateItem(failed), JSON.stringify(validateItem.errors)).toBe(true);
    const { executionStatusChangeEvent } = await import("../../infra/local/eventbridge.ts");
    await expect(twin.lambda.invoke(TwinNames.functionArn("failed-execution"), executionStatusChangeEvent(execution, "us-east-1"))).resolves.toMatchObject({
      outcome: "already-final",
    });

    await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
    const completed = (await twin.waitForDocument(documentId))!;
    expect(completed).toMatchObject({ status: "COMPLETED", executionArn: execution.executionArn });
    expect(validateItem(completed)).toBe(true);
    await twin.streamSettled();
    expect(streamOf(await twin.streamRecords(), documentId)).toEqual(["FAILED v1", "PROCESSING v2", "PROCESSING v3", "COMPLETED v4"]);
  }, 300_000);

  it("a Map Run over its failure threshold is redriven: only the failed batch runs again and every chunk is merged once", async () => {
    const { documentId } = await (async () => {
      down.add("infer");
      try {
        const uploaded = await twin.uploadBytes(await multiPagePdf(2), "uploads/redrive/inference-outage.pdf");
        await twin.waitForDocument(uploaded.documentId);
        return uploaded;
      } finally {
        down.delete("infer");
      }
    })();
    const failed = (await twin.getDocument(documentId))!;
    const execution = executionOf(documentId);
    expect(execution.error).toBe("States.ExceedToleratedFailureThreshold");
    expect(failed).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold", version: 3 });
    const total = failed.chunks!.total;
    expect(total).toBeGreaterThan(1);
    const inferBefore = invocations.filter((call) => call.fn === "infer").length;

    await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
    const completed = (await twin.waitForDocument(documentId))!;
    expect(completed).toMatchObject({ status: "COMPLETED", version: 4, chunks: { total, succeeded: total, failed: 0 } });
    // Each chunk was extracted exactly once after the redrive (the failed batches; nothing had succeeded before).
    const rerun = invocations.filter((call) => call.fn === "infer").slice(inferBefore).flatMap((call) => call.items!);
    expect(rerun.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(validateItem(completed)).toBe(true);
  }, 300_000);

  it("a redrive that fails again, with another error, updates the item's error; the next redrive completes it", async () => {
    down.add("merge");
    try {
      const { documentId } = await twin.uploadBytes(await multiPagePdf(1), "uploads/redrive/twice.pdf");
      expect(await twin.waitForDocument(documentId)).toMatchObject({ status: "FAILED", error: "Lambda.ServiceException", version: 3 });
      const execution = executionOf(documentId);
      outageError = "Lambda.Unknown";
      await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
      expect(await twin.waitForDocument(documentId)).toMatchObject({ status: "FAILED", error: "Lambda.Unknown", version: 4 });
      down.delete("merge");
      await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
      expect(await twin.waitForDocument(documentId)).toMatchObject({ status: "COMPLETED", version: 5 });
      expect(executionOf(documentId).redriveCount).toBe(2);
    } finally {
      down.delete("merge");
      outageError = "Lambda.ServiceException";
    }
  }, 300_000);

  it("a stopped execution is recorded FAILED (ExecutionAborted); a redrive finishes it", async () => {
    const { documentId } = await twin.uploadBytes(await multiPagePdf(2), "uploads/redrive/stopped.pdf");
    const execution = executionOf(documentId);
    // Stop it once it is extracting: the item has its chunk count (version 2).
    for (let waited = 0; ((await twin.getDocument(documentId))?.version ?? 0) < 2 && waited < 60_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(execution.status).toBe("RUNNING");
    await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
    const stopped = (await twin.waitForDocument(documentId))!;
    expect(execution.status).toBe("ABORTED");
    expect(stopped).toMatchObject({ status: "FAILED", error: "ExecutionAborted" });

    await sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }));
    const completed = (await twin.waitForDocument(documentId))!;
    expect(completed.status).toBe("COMPLETED");
    expect(completed.version).toBe(stopped.version + 1);
  }, 300_000);

  it("refuses to redrive a succeeded execution, and a repeated status event writes nothing", async () => {
    const { documentId } = await twin.uploadBytes(await multiPagePdf(1), "uploads/redrive/fine.pdf");
    const item = (await twin.waitForDocument(documentId))!;
    const execution = executionOf(documentId);
    await expect(sfn.send(new RedriveExecutionCommand({ executionArn: execution.executionArn }))).rejects.toMatchObject({
      name: "ExecutionNotRedrivable",
    });
    // The failed-execution function, given a (late, duplicated) FAILED event for it, leaves the COMPLETED item alone.
    const { executionStatusChangeEvent } = await import("../../infra/local/eventbridge.ts");
    const lateEvent = executionStatusChangeEvent({ ...execution, status: "FAILED", error: "Late", cause: "duplicate" }, "us-east-1");
    await expect(twin.lambda.invoke(TwinNames.functionArn("failed-execution"), lateEvent)).resolves.toMatchObject({
      outcome: "already-final",
    });
    expect(await twin.getDocument(documentId)).toEqual(item);
  }, 300_000);
});
