import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateNames } from "../../statemachine/definition.ts";
import { multiPagePdf, startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * EXTRACTION_TIMEOUT end to end. Its own file: the twin's handlers keep their configuration and SDK clients for the
 * life of the module, so a twin with different settings needs a fresh module registry (vitest gives one per file).
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

describe("a text extraction over its time bound, end to end on the twin", () => {
  let fixture: TestTwin;

  beforeAll(async () => {
    // 1 ms: no PDF can be read in time (the worker alone takes longer), while plain text needs no extraction.
    fixture = await startTestTwin({ extractionTimeoutMs: 1 });
  }, 120_000);

  afterAll(async () => {
    await fixture?.stop();
  });

  it("ends the PDF FAILED with EXTRACTION_TIMEOUT, not retried, and keeps running", async () => {
    const { twin } = fixture;
    let chunkCalls = 0;
    twin.onEvent((event) => {
      if (event.type === "StateEntered" && event.state === StateNames.chunk) chunkCalls++;
    });
    const slow = await twin.uploadBytes(await multiPagePdf(2), "uploads/e2e/timeout/report.pdf");
    const item = await twin.waitForDocument(slow.documentId);
    expect(item).toMatchObject({ status: "FAILED", error: "DocumentInputError" });
    expect(item!.cause).toContain("EXTRACTION_TIMEOUT: ");
    expect(item!.cause).toContain("LLAMBDA_EXTRACTION_TIMEOUT_MS=1");
    expect(chunkCalls).toBe(1);
    const good = await twin.uploadBytes(new TextEncoder().encode("Initech paid 5 EUR."), "uploads/e2e/timeout/after.txt");
    expect((await twin.waitForDocument(good.documentId))?.status).toBe("COMPLETED");
  }, 300_000);
});
