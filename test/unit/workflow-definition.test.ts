import { resultAttributes } from "../../functions/shared/document-item.ts";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { buildDocumentWorkflow, MapLabel, OcrMapLabel, StateNames } from "../../statemachine/definition.ts";
import { dynamoDbRetry, inputErrors, lambdaRetry } from "../../statemachine/retry-policy.ts";

const validate = createRequire(import.meta.url)("asl-validator") as (
  definition: unknown,
  options?: object,
) => { isValid: boolean; errors: unknown[] };

const resources = {
  chunkFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:chunk",
  ocrFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:ocr",
  inferFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:infer",
  mergeFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:merge",
  reviewFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:review",
  tableName: "documents",
  bucketName: "uploads-bucket",
};

type State = Record<string, unknown> & { Type: string };

describe("document workflow definition", () => {
  const definition = buildDocumentWorkflow(resources);
  const states = definition.States as Record<string, State>;

  it("is valid Amazon States Language", () => {
    // asl-validator mutates its input; validate a copy.
    const result = validate(structuredClone(definition), { checkArn: true, checkPaths: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("marks the document PROCESSING, chunks (OCRing the pages that need it first), records the chunk count, fans out, merges", () => {
    expect(definition.StartAt).toBe(StateNames.markProcessing);
    expect(states[StateNames.markProcessing]!.Next).toBe(StateNames.chunk);
    expect(states[StateNames.chunk]!.Next).toBe(StateNames.pagesToOcr);
    expect(states[StateNames.pagesToOcr]).toMatchObject({
      Type: "Choice",
      Choices: [{ Variable: "$.chunkTask.value.ocrPlan", IsPresent: true, Next: StateNames.ocr }],
      Default: StateNames.recordChunkCount,
    });
    expect(states[StateNames.ocr]).toMatchObject({ Type: "Map", Label: OcrMapLabel, Next: StateNames.chunkAfterOcr });
    expect(states[StateNames.chunkAfterOcr]!.Next).toBe(StateNames.recordChunkCount);
    expect(states[StateNames.recordChunkCount]!.Next).toBe(StateNames.extract);
    expect(states[StateNames.extract]!.Next).toBe(StateNames.merge);
    expect(states[StateNames.merge]!.Next).toBe(StateNames.mergedAsFailed);
    expect(states[StateNames.mergedAsFailed]).toMatchObject({
      Type: "Choice",
      Choices: [
        { Variable: "$.merge.value.status", StringEquals: "FAILED", Next: StateNames.mergeFailure },
        { Not: { Variable: "$.kind", StringEquals: "document" }, Next: StateNames.succeeded },
      ],
      Default: StateNames.review,
    });
    expect(states[StateNames.mergeFailure]!.Next).toBe(StateNames.failed);
    expect(states[StateNames.review]!.Next).toBe(StateNames.succeeded);
  });

  it("writes a finished document's review page after the merge; any failure of it goes into the output, and the execution succeeds", () => {
    const review = states[StateNames.review]!;
    expect(review).toMatchObject({
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName: resources.reviewFunctionArn, Payload: { "documentId.$": "$.documentId", execution: { "id.$": "$$.Execution.Id" } } },
      ResultSelector: { "value.$": "$.Payload" },
      ResultPath: "$.review",
      Retry: lambdaRetry,
    });
    expect(review.Catch).toEqual([{ ErrorEquals: ["States.ALL"], ResultPath: "$.review", Next: StateNames.succeeded }]);
    // Only a finished document gets there: FAILED goes to the Fail state, a record batch straight to the end.
    const choice = states[StateNames.mergedAsFailed] as State & { Choices: Array<{ Next: string }> };
    expect(choice.Choices.map((rule) => rule.Next)).toEqual([StateNames.mergeFailure, StateNames.succeeded]);
    expect(Object.entries(states).filter(([, state]) => JSON.stringify(state).includes(`"${StateNames.review}"`)).map(([name]) => name)).toEqual([
      StateNames.mergedAsFailed,
    ]);
  });

  it("sends a document with an OCR plan through the OCR Map and a second chunk run, which fail the document by name", () => {
    expect(states[StateNames.pagesToOcr]).toMatchObject({
      Type: "Choice",
      Choices: [{ Variable: "$.chunkTask.value.ocrPlan", IsPresent: true, Next: StateNames.ocr }],
    });
    const ocr = states[StateNames.ocr] as State & { ItemProcessor: { States: Record<string, State> } };
    expect(ocr).toMatchObject({
      Type: "Map",
      ItemReader: { Parameters: { "Key.$": "$.chunkTask.value.ocrPlan.pageGroups.key" } },
      ItemBatcher: { MaxItemsPerBatch: 1, BatchInput: { "documentId.$": "$.documentId", "source.$": "$.source" } },
      ResultPath: "$.ocrRun",
      Next: StateNames.chunkAfterOcr,
    });
    expect(ocr.ItemProcessor.States[StateNames.ocrGroup]).toMatchObject({
      Parameters: { FunctionName: resources.ocrFunctionArn },
      Next: StateNames.ocrPagesLeft,
    });
    // Pages not started for lack of time go back to a fresh invocation.
    expect(ocr.ItemProcessor.States[StateNames.ocrPagesLeft]).toMatchObject({
      Choices: [{ Variable: "$.Items[0]", IsPresent: true, Next: StateNames.ocrGroup }],
    });
    const second = states[StateNames.chunkAfterOcr]!;
    expect(second).toMatchObject({
      Parameters: { FunctionName: resources.chunkFunctionArn, Payload: { ocr: { "plan.$": "$.chunkTask.value.ocrPlan", "mapRun.$": "$.ocrRun" } } },
      ResultPath: "$.chunkTask",
      Next: StateNames.recordChunkCount,
    });
    expect((second.Catch as Array<{ ErrorEquals: string[] }>)[0]!.ErrorEquals).toEqual(["DocumentInputError", "TooManyFailedPages"]);
  });

  it("passes the document's schema to every batch and to the merge", () => {
    const map = states[StateNames.extract]!;
    expect(map.ItemBatcher).toMatchObject({ BatchInput: { "documentId.$": "$.documentId", "schemaId.$": "$.schemaId" } });
    expect(JSON.stringify(states[StateNames.merge]!.Parameters)).toContain('"schemaId.$":"$.schemaId"');
  });

  it("writes the item conditionally: PROCESSING unless a newer upload owns it, later writes only by the owner", () => {
    const params = (name: string) => states[name]!.Parameters as { ConditionExpression: string; UpdateExpression: string };
    expect(params(StateNames.markProcessing).ConditionExpression).toBe("attribute_not_exists(documentId) OR sourceOrder <= :order");
    expect(params(StateNames.markProcessing).UpdateExpression).toContain("#owner = :execution");
    // A new version starts without anything of the previous result: no stale result, page, flag or grounding while PROCESSING.
    const names = (states[StateNames.markProcessing]!.Parameters as { ExpressionAttributeNames: Record<string, string> }).ExpressionAttributeNames;
    const removed = /REMOVE ([^A-Z]+) ADD/.exec(params(StateNames.markProcessing).UpdateExpression)![1]!.split(", ").map((alias) => names[alias.trim()]);
    expect(removed.sort()).toEqual([...resultAttributes].sort());
    expect(removed).toEqual(expect.arrayContaining(["result", "grounding", "confidence", "needsReview", "reviewReasons", "reviewPage", "cost"]));
    for (const name of [StateNames.markProcessing, StateNames.recordChunkCount, StateNames.recordFailure]) {
      expect(params(name).UpdateExpression, name).toContain("ADD #version :one");
    }
    for (const name of [StateNames.recordChunkCount, StateNames.recordFailure]) {
      expect(params(name).ConditionExpression, name).toBe("#owner = :execution");
    }
    expect(states[StateNames.superseded]!.Type).toBe("Succeed");
  });

  it("fans out with a labelled Distributed Map over the JSONL manifest, with STANDARD children and results in S3", () => {
    const map = states[StateNames.extract]!;
    expect(map.Type).toBe("Map");
    expect(map.Label).toBe(MapLabel);
    expect(map.ItemProcessor).toMatchObject({ ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" } });
    expect(map.ItemReader).toMatchObject({ Resource: "arn:aws:states:::s3:getObject", ReaderConfig: { InputType: "JSONL" } });
    expect(map.ItemBatcher).toMatchObject({ MaxItemsPerBatch: expect.any(Number), MaxInputBytesPerBatch: expect.any(Number) });
    expect(map.ResultWriter).toMatchObject({ Resource: "arn:aws:states:::s3:putObject", Parameters: { Bucket: "uploads-bucket" } });
    expect(map.MaxConcurrency).toBeGreaterThan(0);
    expect(map.ToleratedFailurePercentage).toBeGreaterThanOrEqual(0);
  });

  it("catches only input errors, recording FAILED; every other failure stops the execution where it happened", () => {
    const toFailure = { ErrorEquals: inputErrors, ResultPath: "$.failure", Next: StateNames.recordFailure };
    expect(inputErrors).toEqual(["DocumentInputError", "TooManyFailedPages"]);
    const toSuperseded = {
      ErrorEquals: ["DynamoDB.ConditionalCheckFailedException", "Superseded"],
      ResultPath: "$.failure",
      Next: StateNames.superseded,
    };
    expect(states[StateNames.chunk]!.Catch).toEqual([toFailure]);
    expect(states[StateNames.chunkAfterOcr]!.Catch).toEqual([toFailure]);
    // A Map Run over its failure threshold is not caught: a redrive reruns its unsuccessful child executions.
    expect(states[StateNames.extract]!.Catch).toBeUndefined();
    expect(states[StateNames.ocr]!.Catch).toBeUndefined();
    // Where the item is written, a refused condition means a newer upload took over: not a failure of this document.
    for (const name of [StateNames.markProcessing, StateNames.recordChunkCount, StateNames.merge]) {
      expect(states[name]!.Catch, name).toEqual([toSuperseded]);
    }
    // The review page's task is the one exception: it catches everything, because a review page never fails a document.
    const everyCatch = JSON.stringify(Object.entries(states).flatMap(([name, state]) => (name === StateNames.review ? [] : (state.Catch ?? []))));
    expect(everyCatch).not.toContain("States.ALL");
    const record = states[StateNames.recordFailure]!;
    expect(record.Resource).toBe("arn:aws:states:::dynamodb:updateItem");
    expect(JSON.stringify(record.Parameters)).toContain('"S":"FAILED"');
    expect(record.Catch).toEqual([{ ...toSuperseded, ResultPath: null }]);
    expect(record.Next).toBe(StateNames.failed);
    expect(states[StateNames.failed]!.Type).toBe("Fail");
  });

  it("takes every Retry block from the one retry policy", () => {
    const tasks: State[] = [
      ...Object.values(states),
      ...Object.values((states[StateNames.extract]!.ItemProcessor as { States: Record<string, State> }).States),
    ].filter((state) => state.Type === "Task");
    for (const task of tasks) {
      const expected = String(task.Resource).includes("dynamodb") ? dynamoDbRetry : lambdaRetry;
      expect(task.Retry).toEqual(expected);
    }
  });

  it("sets explicit timeouts on every task (the local runner defaults to 60 s otherwise), and on the execution", () => {
    for (const name of [StateNames.chunk, StateNames.chunkAfterOcr, StateNames.merge, StateNames.review]) expect(states[name]!.TimeoutSeconds).toBeGreaterThan(60);
    // Above the review function's own 120 s: Lambda's timeout, not the state's, is what reports.
    expect(states[StateNames.review]!.TimeoutSeconds).toBeGreaterThan(120);
    const tasks = Object.entries(states).filter(([, state]) => state.Type === "Task");
    expect(tasks.length).toBe(7);
    for (const [name, state] of tasks) expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
    const processor = states[StateNames.extract]!.ItemProcessor as { States: Record<string, State> };
    expect(processor.States[StateNames.inferBatch]!.TimeoutSeconds).toBeGreaterThan(900);
    // Above the OCR function's own 900 s: the function's deadline, not the state's, ends an invocation.
    const ocrProcessor = states[StateNames.ocr]!.ItemProcessor as { States: Record<string, State> };
    expect(ocrProcessor.States[StateNames.ocrGroup]!.TimeoutSeconds).toBeGreaterThan(900);
    expect(states[StateNames.chunkAfterOcr]!.TimeoutSeconds).toBeGreaterThan(60);
  });

  it("applies workflow settings", () => {
    const custom = buildDocumentWorkflow(resources, {
      ...{ maxItemsPerBatch: 2, maxInputBytesPerBatch: 1000, maxConcurrency: 3, toleratedFailurePercentage: 0 },
      chunkTimeoutSeconds: 10,
      inferTimeoutSeconds: 20,
      mergeTimeoutSeconds: 30,
      executionTimeoutSeconds: 40,
      ocrTimeoutSeconds: 50,
      reviewTimeoutSeconds: 60,
    });
    expect(custom.States[StateNames.review]).toMatchObject({ TimeoutSeconds: 60 });
    const map = custom.States[StateNames.extract]!;
    expect(map).toMatchObject({ MaxConcurrency: 3, ToleratedFailurePercentage: 0, ItemBatcher: { MaxItemsPerBatch: 2 } });
    expect(custom.TimeoutSeconds).toBe(40);
    const ocrMap = custom.States[StateNames.ocr]!;
    expect(ocrMap).toMatchObject({ MaxConcurrency: 3, ToleratedFailurePercentage: 0 });
    const ocrTask = (ocrMap.ItemProcessor as { States: Record<string, State> }).States[StateNames.ocrGroup]!;
    expect(ocrTask).toMatchObject({ TimeoutSeconds: 50, Parameters: expect.objectContaining({ FunctionName: resources.ocrFunctionArn }) });
  });
});
