import { describe, expect, it } from "vitest";
import { costOfDocument, transitionsBeforePayload } from "../../functions/merge/document-cost.ts";
import type { MergeTaskInput } from "../../functions/shared/contracts.ts";
import { lambdaPricePerGbSecond, lambdaPricePerRequest, stepFunctionsPricePerStateTransition } from "../../functions/shared/cost.ts";
import { addUsage, type FunctionUsage } from "../../functions/shared/invocation-usage.ts";
import { buildDocumentWorkflow, StateNames } from "../../statemachine/definition.ts";
import { documentTransitions, workflowTransitions } from "../../statemachine/transitions.ts";

const usage = (memoryMb: number, billedMs: number, extra: Partial<FunctionUsage> = {}): FunctionUsage => ({
  invocations: 1,
  billedMs,
  memoryMb,
  architecture: "arm64",
  s3Gets: 0,
  s3Puts: 0,
  ...extra,
});

describe("the workflow's state transitions, counted on the definition", () => {
  it("follows the happy path of the parent and of a batch, and the loop of an extra pass", () => {
    const shape = workflowTransitions();
    expect(shape.parentStates).toEqual([
      StateNames.markProcessing,
      StateNames.chunk,
      StateNames.pagesToOcr,
      StateNames.recordChunkCount,
      StateNames.extract,
      StateNames.merge,
      StateNames.mergedAsFailed,
      StateNames.review,
      StateNames.succeeded,
    ]);
    expect(shape.batchStates).toEqual([StateNames.inferBatch, StateNames.chunksLeft, StateNames.batchExtracted]);
    expect(shape.perExtraPass).toBe(2);
    // Two batches, the second needing a second pass: 9 + 3 + (3 + 2).
    expect(documentTransitions([1, 2])).toBe(17);
  });
});

describe("the transition counts in the merge's payload", () => {
  const counts = () => {
    const { fixed, perBatch, perExtraPass } = workflowTransitions();
    return { fixed, perBatch, perExtraPass };
  };

  it("are the counts of the definition's own transitions", () => {
    const definition = buildDocumentWorkflow({
      chunkFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:chunk",
      ocrFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:ocr",
      inferFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:infer",
      mergeFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:merge",
      reviewFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:review",
      tableName: "documents",
      bucketName: "uploads",
    });
    const payload = (definition.States[StateNames.merge]!.Parameters as { Payload: MergeTaskInput }).Payload;
    expect(payload.transitions).toEqual(counts());
  });

  it("cost a new execution what the merge computed from the definition before the payload carried them", () => {
    const input = { merge: usage(1024, 500), childPasses: [1, 3, 2], resultObjects: 2, itemBytes: [3000] };
    const cost = costOfDocument({ ...input, transitions: counts() });
    expect(cost.stepFunctions.transitions).toBe(documentTransitions([1, 3, 2]));
    expect(cost.stepFunctions.transitions).toBe(9 + 3 + (3 + 2 * 2) + (3 + 2));
  });

  it("fall back, for an execution started before the payload had them (a redrive), to that workflow's counts", () => {
    const input = { merge: usage(1024, 500), childPasses: [2], resultObjects: 1, itemBytes: [100] };
    expect(costOfDocument(input)).toEqual(costOfDocument({ ...input, transitions: { fixed: 7, perBatch: 3, perExtraPass: 2 } }));
    // The fallback describes the workflow those executions ran, before the Choice that sends scans to OCR and the
    // review page's task were added.
    expect(counts()).toEqual({ ...transitionsBeforePayload, fixed: transitionsBeforePayload.fixed + 2 });
  });
});

describe("a document's cost from measured usage", () => {
  it("bills each function's GB-seconds and requests, the transitions and the requests, and sums them", () => {
    const infer = addUsage(usage(10240, 20_000, { s3Gets: 1 }), usage(10240, 10_000, { s3Gets: 2 }));
    const cost = costOfDocument({
      chunk: usage(2048, 1000, { s3Gets: 1, s3Puts: 2 }),
      infer,
      merge: usage(1024, 500),
      childPasses: [2],
      resultObjects: 2,
      itemBytes: [3000],
      transitions: workflowTransitions(),
    });
    expect(cost.lambda.chunk!.gbSeconds).toBeCloseTo(2, 10);
    expect(cost.lambda.infer!).toMatchObject({ invocations: 2, gbSeconds: 300 });
    expect(cost.lambda.infer!.computeUsd).toBeCloseTo(300 * lambdaPricePerGbSecond.arm64, 12);
    expect(cost.lambda.infer!.requestUsd).toBeCloseTo(2 * lambdaPricePerRequest, 12);
    expect(cost.stepFunctions).toEqual({ transitions: documentTransitions([2]), usd: documentTransitions([2]) * stepFunctionsPricePerStateTransition });
    // Gets: chunk 1 + infer 3 + the ItemReader 1 + the merge reading 2 result objects; puts: chunk 2 + 2 result objects.
    expect(cost.requests).toMatchObject({ s3Gets: 7, s3Puts: 4, dynamoDbWriteUnits: 2 + 3, sqsRequests: 3 });
    const parts = Object.values(cost.lambda).reduce((sum, fn) => sum + fn.totalUsd, 0) + cost.stepFunctions.usd + cost.requests.totalUsd;
    expect(cost.total).toBeCloseTo(parts, 15);
  });

  it("adds a scanned document's OCR invocations and the OCR branch's transitions", () => {
    const base = { merge: usage(1024, 500), childPasses: [1], resultObjects: 1, itemBytes: [100], transitions: workflowTransitions() };
    const ocr = addUsage(usage(3584, 8000, { s3Gets: 1, s3Puts: 8 }), usage(3584, 6000, { s3Gets: 1, s3Puts: 6 }));
    const without = costOfDocument(base);
    const withOcr = costOfDocument({ ...base, ocr });
    expect(withOcr.lambda.ocr).toMatchObject({ invocations: 2, gbSeconds: 3.5 * 14 });
    // The OCR Map and the second chunk run, and per invocation its task, Choice and Succeed.
    expect(withOcr.stepFunctions.transitions - without.stepFunctions.transitions).toBe(2 + 3 * 2);
    expect(withOcr.requests.s3Puts - without.requests.s3Puts).toBe(14);
  });

  it("prices x86_64 above arm64 for the same usage", () => {
    const arm = costOfDocument({ merge: usage(1024, 60_000), childPasses: [], resultObjects: 1, itemBytes: [100] });
    const x86 = costOfDocument({ merge: usage(1024, 60_000, { architecture: "x86_64" }), childPasses: [], resultObjects: 1, itemBytes: [100] });
    expect(x86.total).toBeGreaterThan(arm.total);
  });
});
