import { describe, expect, it } from "vitest";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  executionFailureOf,
  failedItemOf,
  maxCauseLength,
  UnrecordableEventError,
  type ExecutionStatusChangeDetail,
} from "../../functions/failed-execution/failure.ts";
import type { WorkflowInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { failedExecutionEventPattern } from "../../infra/specs.ts";
import { matchesEventPattern } from "../../infra/local/event-pattern.ts";
import { validateItem } from "../helpers/item-schema.ts";

const arn = "arn:aws:states:eu-west-1:123456789012:execution:llambda-document-workflow:report-pdf-0123456789abcdef";
const machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:llambda-document-workflow";
const source = { bucket: "docs", key: "uploads/report.pdf", versionId: "v2", etag: "abc", size: 2048, sequencer: "0A1B" };
/** The execution input as the start function builds it. */
const input: WorkflowInput = {
  documentId: "d1",
  schemaId: "generic",
  kind: "document",
  source,
  sourceOrder: sourceOrderOf(source.sequencer),
  sourceAttribute: { M: marshall(source) },
  ocrMode: "auto",
};
const detail = (overrides: Partial<ExecutionStatusChangeDetail>): ExecutionStatusChangeDetail => ({
  executionArn: arn,
  stateMachineArn: machine,
  status: "FAILED",
  startDate: Date.parse("2024-05-01T10:00:00.000Z"),
  input: JSON.stringify(input),
  inputDetails: { included: true },
  error: "Lambda.ServiceException",
  cause: "Service unavailable",
  ...overrides,
});

describe("recording an unsuccessful execution", () => {
  it("takes the document and its upload from the input and the error from the event", () => {
    expect(executionFailureOf(detail({}))).toEqual({
      documentId: "d1",
      executionArn: arn,
      status: "FAILED",
      error: "Lambda.ServiceException",
      cause: "Service unavailable",
      redriveCount: 0,
      upload: { kind: "document", schemaId: "generic", source, sourceOrder: input.sourceOrder, startedAt: "2024-05-01T10:00:00.000Z" },
    });
  });

  it("builds the FAILED item an execution leaves when it failed before writing one, valid under the item contract", () => {
    const now = new Date("2024-05-01T10:05:00.000Z");
    const item = failedItemOf(executionFailureOf(detail({})), now);
    expect(item).toEqual({
      documentId: "d1",
      kind: "document",
      contractVersion: 1,
      status: "FAILED",
      version: 1,
      source,
      sourceOrder: input.sourceOrder,
      executionArn: arn,
      schemaId: "generic",
      error: "Lambda.ServiceException",
      cause: "Service unavailable",
      timings: { startedAt: "2024-05-01T10:00:00.000Z" },
      updatedAt: "2024-05-01T10:05:00.000Z",
    });
    expect(validateItem(item), JSON.stringify(validateItem.errors)).toBe(true);
    // Only the source fields of the contract; without a start date, the time of recording.
    const extra = executionFailureOf(detail({ startDate: undefined, input: JSON.stringify({ ...input, source: { ...source, extra: 1 } }) }));
    expect(validateItem(failedItemOf(extra, now)), JSON.stringify(validateItem.errors)).toBe(true);
    expect(failedItemOf(extra, now).timings).toEqual({ startedAt: "2024-05-01T10:05:00.000Z" });
  });

  it("names timeouts and stops, which carry no error of their own, and keeps the start of a long cause", () => {
    expect(executionFailureOf(detail({ status: "TIMED_OUT", error: null, cause: null }))).toMatchObject({ error: "States.Timeout" });
    expect(executionFailureOf(detail({ status: "ABORTED", error: null, cause: null, redriveCount: 2 }))).toMatchObject({
      error: "ExecutionAborted",
      redriveCount: 2,
    });
    expect(executionFailureOf(detail({ cause: "x".repeat(5000) })).cause).toHaveLength(maxCauseLength);
  });

  it("refuses events it cannot record: a success, no input, no document id, an input without the upload", () => {
    const bare = JSON.stringify({ documentId: "d1", schemaId: "generic" });
    for (const bad of [
      detail({ status: "SUCCEEDED" }),
      detail({ input: null, inputDetails: { included: false } }),
      detail({ input: "{}" }),
      detail({ input: "not json" }),
      detail({ input: bare }),
    ]) {
      expect(() => executionFailureOf(bad)).toThrow(UnrecordableEventError);
    }
  });

  it("is routed by a rule that matches only this state machine's unsuccessful ends", () => {
    const event = (status: string, stateMachineArn = machine) => ({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: { ...detail({ status }), stateMachineArn },
    });
    const pattern = failedExecutionEventPattern(machine);
    expect(["FAILED", "TIMED_OUT", "ABORTED"].map((status) => matchesEventPattern(event(status), pattern))).toEqual([true, true, true]);
    expect(matchesEventPattern(event("SUCCEEDED"), pattern)).toBe(false);
    expect(matchesEventPattern(event("RUNNING"), pattern)).toBe(false);
    expect(matchesEventPattern(event("FAILED", `${machine}-other`), pattern)).toBe(false);
  });
});
