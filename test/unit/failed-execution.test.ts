import { describe, expect, it } from "vitest";
import { executionFailureOf, maxCauseLength, UnrecordableEventError, type ExecutionStatusChangeDetail } from "../../functions/failed-execution/failure.ts";
import { failedExecutionEventPattern } from "../../infra/specs.ts";
import { matchesEventPattern } from "../../infra/local/event-pattern.ts";

const arn = "arn:aws:states:eu-west-1:123456789012:execution:llambda-document-workflow:report-pdf-0123456789abcdef";
const machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:llambda-document-workflow";
const detail = (overrides: Partial<ExecutionStatusChangeDetail>): ExecutionStatusChangeDetail => ({
  executionArn: arn,
  stateMachineArn: machine,
  status: "FAILED",
  input: JSON.stringify({ documentId: "d1", schemaId: "generic" }),
  inputDetails: { included: true },
  error: "Lambda.ServiceException",
  cause: "Service unavailable",
  ...overrides,
});

describe("recording an unsuccessful execution", () => {
  it("takes the document from the input and the error from the event", () => {
    expect(executionFailureOf(detail({}))).toEqual({
      documentId: "d1",
      executionArn: arn,
      status: "FAILED",
      error: "Lambda.ServiceException",
      cause: "Service unavailable",
      redriveCount: 0,
    });
  });

  it("names timeouts and stops, which carry no error of their own, and keeps the start of a long cause", () => {
    expect(executionFailureOf(detail({ status: "TIMED_OUT", error: null, cause: null }))).toMatchObject({ error: "States.Timeout" });
    expect(executionFailureOf(detail({ status: "ABORTED", error: null, cause: null, redriveCount: 2 }))).toMatchObject({
      error: "ExecutionAborted",
      redriveCount: 2,
    });
    expect(executionFailureOf(detail({ cause: "x".repeat(5000) })).cause).toHaveLength(maxCauseLength);
  });

  it("refuses events it cannot record: a success, no input, no document id", () => {
    for (const bad of [detail({ status: "SUCCEEDED" }), detail({ input: null, inputDetails: { included: false } }), detail({ input: "{}" }), detail({ input: "not json" })]) {
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
