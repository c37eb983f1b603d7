/**
 * The one invocation wrapper (functions/shared/invocation.ts): Lambda's context on the lines, the init phase is billed with the first invocation only,
 * correlation keys are on every line the invocation logs and gone afterwards (also when it throws), and metrics are
 * flushed at its end.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { invocationHandler } from "../../functions/shared/invocation.ts";
import { logger } from "../../functions/shared/logger.ts";
import { addMetric, MetricNames, metrics } from "../../functions/shared/metrics.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The logger's JSON lines written from now on. */
function captureLogs(): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  });
  return lines;
}

describe("invocationHandler", () => {
  it("bills the init phase with the first invocation only", async () => {
    const handler = invocationHandler({ initMs: 5_000, metrics: false }, async (_event: unknown, { usage }) => usage());
    const first = await handler({}, { memoryLimitInMB: "512" });
    const second = await handler({}, { memoryLimitInMB: "512" });
    expect(first.billedMs).toBeGreaterThanOrEqual(5_000);
    expect(second.billedMs).toBeLessThan(5_000);
    expect(first).toMatchObject({ invocations: 1, memoryMb: 512 });
  });

  it("puts the event's correlation keys on its lines and takes them off afterwards, also after a throw", async () => {
    const lines = captureLogs();
    const handler = invocationHandler(
      { initMs: 0, metrics: false, correlate: (event: { id: string; fail?: boolean }) => ({ document: event.id, execution: undefined }) },
      async (event) => {
        logger.info("inside");
        if (event.fail) throw new Error("boom");
        return event.id;
      },
    );
    await expect(handler({ id: "doc-1" }, { awsRequestId: "request-1", functionName: "F", memoryLimitInMB: "256" })).resolves.toBe("doc-1");
    await expect(handler({ id: "doc-2", fail: true })).rejects.toThrow("boom");
    logger.info("after");
    const inside = lines.filter((line) => line.message === "inside");
    expect(inside.map((line) => line.document)).toEqual(["doc-1", "doc-2"]);
    // The Lambda context goes on the lines first (Powertools addContext).
    expect(inside[0]).toMatchObject({ function_request_id: "request-1", function_name: "F" });
    expect(inside.every((line) => !("execution" in line))).toBe(true);
    expect(lines.find((line) => line.message === "after")).not.toHaveProperty("document");
  });

  it("flushes the invocation's metrics at its end, with its keys as metadata", async () => {
    const published = vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);
    const metadata = vi.spyOn(metrics, "addMetadata");
    const handler = invocationHandler({ initMs: 0, correlate: () => ({ document: "doc-3" }) }, async () => {
      addMetric(metrics, MetricNames.documentPages, 2);
    });
    await handler({});
    expect(metadata).toHaveBeenCalledWith("document", "doc-3");
    expect(published).toHaveBeenCalledTimes(1);
    metrics.clearMetrics();
  });
});
