/** The OCR Map Run's result files, as AWS writes them: usage of the children that succeeded, pages of those that failed. */
import { describe, expect, it } from "vitest";
import { collectOcrMapRun } from "../../functions/chunk/ocr-map-run.ts";
import type { OcrBatchInput, OcrBatchOutput } from "../../functions/shared/contracts.ts";
import type { FunctionUsage } from "../../functions/shared/invocation-usage.ts";

const usage = (invocations: number, billedMs: number): FunctionUsage => ({
  invocations, billedMs, memoryMb: 3584, architecture: "arm64", s3Gets: invocations, s3Puts: 8,
});
const context = { documentId: "d", source: { bucket: "b", key: "uploads/s.pdf", etag: "e", size: 1 } };
const child = (arn: string, pages: number[], status: string, output?: OcrBatchOutput, error?: string) => ({
  ExecutionArn: arn,
  Status: status,
  Input: JSON.stringify({ Items: [{ pages }], BatchInput: context } satisfies OcrBatchInput),
  ...(output ? { Output: JSON.stringify(output) } : {}),
  ...(error ? { Error: error, Cause: "Task timed out" } : {}),
});

describe("collectOcrMapRun", () => {
  it("adds up the succeeded children's usage and names the pages of failed ones with their error, a redriven child once", async () => {
    const done = (u: FunctionUsage): OcrBatchOutput => ({ Items: [], BatchInput: context, pagesDone: 8, usage: u });
    const files: Record<string, string> = {
      "map-results/run/manifest.json": JSON.stringify({
        DestinationBucket: "b",
        MapRunArn: "arn:run",
        ResultFiles: {
          SUCCEEDED: [{ Key: "map-results/run/SUCCEEDED_0.json", Size: 1 }],
          FAILED: [{ Key: "map-results/run/FAILED_0.json", Size: 1 }],
        },
      }),
      "map-results/run/SUCCEEDED_0.json": JSON.stringify([
        child("arn:a", [1, 2], "SUCCEEDED", done(usage(2, 9000))),
        child("arn:c", [5, 6], "SUCCEEDED", done(usage(1, 4000))),
      ]),
      // arn:c failed once and succeeded on a redrive: its pages are not failed.
      "map-results/run/FAILED_0.json": JSON.stringify([
        child("arn:b", [3, 4], "FAILED", undefined, "Sandbox.Timedout"),
        child("arn:c", [5, 6], "FAILED", undefined, "Lambda.Unknown"),
      ]),
    };
    const read = async (_bucket: string, key: string) => {
      const text = files[key];
      if (text === undefined) throw new Error(`no ${key}`);
      return text;
    };
    const collected = await collectOcrMapRun("b", "map-results/run/manifest.json", read);
    expect(collected.usage).toMatchObject({ invocations: 3, billedMs: 13_000 });
    expect([...collected.failedPages]).toEqual([
      [3, "Sandbox.Timedout"],
      [4, "Sandbox.Timedout"],
    ]);
  });
});
