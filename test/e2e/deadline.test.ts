import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InferBatchInput, InferBatchOutput } from "../../functions/shared/contracts.ts";
import type { LocalTwin } from "../../infra/local/twin.ts";
import { TwinNames } from "../../infra/local/twin.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * The inference function under a timeout far too short for its chunks, on the twin with real llama.cpp: the twin
 * enforces Lambda's timeout (Sandbox.Timedout), and the function must never hit it. Chunks are cut at the deadline,
 * split, retried in fresh invocations by the workflow's loop, and end with typed errors when even their smallest parts
 * cannot finish.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

describe("inference deadlines on the twin", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;
  const invocations: Array<{ input: InferBatchInput; output?: InferBatchOutput; error?: string }> = [];
  const inferTimeoutSeconds = 2;

  beforeAll(async () => {
    fixture = await startTestTwin({
      // 0.5 s of work per invocation: the tiny model needs over a second for one answer of ~340 tokens.
      inferTimeoutSeconds,
      deadlineMarginMs: 1500,
      workflow: { maxItemsPerBatch: 4, toleratedFailurePercentage: 100 },
    });
    twin = fixture.twin;
    const invoke = twin.lambda.invoke.bind(twin.lambda);
    twin.lambda.invoke = async (name: string, event: unknown) => {
      try {
        const output = await invoke(name, event);
        if (name === TwinNames.functionArn("infer")) {
          invocations.push({ input: event as InferBatchInput, output: output as InferBatchOutput });
        }
        return output;
      } catch (error) {
        if (name === TwinNames.functionArn("infer")) invocations.push({ input: event as InferBatchInput, error: (error as Error).name });
        throw error;
      }
    };
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("never lets Lambda's timeout kill an invocation: chunks are cut, split, retried and end with typed errors", async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const page = pdf.addPage();
    for (let line = 0; line < 12; line++) {
      page.drawText(`Line ${line}: Initech invoice ${line} of ${200 + line} EUR, due 2024-05-${10 + line}.`, { x: 40, y: 760 - line * 22, size: 11, font });
    }
    const { documentId } = await twin.uploadBytes(await pdf.save(), "uploads/deadline/short-timeout.pdf");
    const item = await twin.waitForDocument(documentId);

    expect(invocations.length).toBeGreaterThan(1);
    // No invocation failed: the twin rejects one that overruns its timeout with Sandbox.Timedout, as Lambda does.
    expect(invocations.filter((call) => call.error)).toEqual([]);
    // The deadline cut chunks and the loop handed their halves to fresh invocations.
    expect(invocations.some((call) => (call.output?.Items.length ?? 0) > 0)).toBe(true);
    expect(invocations.some((call) => call.input.Items.some((part) => part.part !== undefined))).toBe(true);

    // Every chunk is accounted for, with a typed error where it failed; nothing ran into Lambda's timeout.
    expect(["PARTIAL", "FAILED"]).toContain(item?.status);
    if (item!.status === "FAILED") {
      expect(item!.error).toBe("TooManyFailedChunks");
      expect(item!.cause).toContain("DeadlineExceeded");
    } else {
      expect(item!.chunks!.succeeded + item!.chunks!.failed).toBe(item!.chunks!.total);
      for (const failure of item!.failedChunks ?? []) expect(failure.error).toBe("DeadlineExceeded");
    }
  }, 300_000);
});
