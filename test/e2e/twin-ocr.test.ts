/**
 * Scanned documents end to end on the twin: the chunk step plans OCR for pages without a text layer, the OCR
 * Distributed Map reads them in the OCR function (real pdf.js rendering and tesseract.js), the second chunk run
 * chunks the assembled text, and the item says which pages were OCR'd. A long scan under a shrunk OCR function timeout
 * fans out by page groups and hands the pages it had no time for to fresh invocations: every page ends read or with a
 * typed error, none lost to the timeout.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestKey, ocrPageKey } from "../../functions/shared/bucket-layout.ts";
import type { ChunkItem, OcrPageRecord } from "../../functions/shared/contracts.ts";
import { TwinNames, type LocalTwin } from "../../infra/local/twin.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { scanOf, scannedPagesPdf } from "../../bench/scans.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";

/**
 * An OCR invocation may start pages only in its first 2 s: the shrunk timeout less the 10 s margin less the page time
 * bound. The bound is generous (a page takes about a second here) so that a loaded machine does not time pages out.
 */
const PAGE_TIMEOUT_MS = 20_000;
const OCR_TIMEOUT_SECONDS = 10 + PAGE_TIMEOUT_MS / 1000 + 2;

async function readText(twin: LocalTwin, key: string): Promise<string> {
  const object = await twin.s3.send(new GetObjectCommand({ Bucket: TwinNames.bucket, Key: key }));
  return object.Body!.transformToString("utf-8");
}

describe("scanned documents on the twin", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;

  beforeAll(async () => {
    fixture = await startTestTwin({
      ocrDpi: 150,
      ocrPageTimeoutMs: PAGE_TIMEOUT_MS,
      ocrTimeoutSeconds: OCR_TIMEOUT_SECONDS,
      ocrConcurrency: 2,
    });
    twin = fixture.twin;
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("reads an image-only invoice: COMPLETED, its OCR'd text chunked with the invoice number and total", async () => {
    const scan = await scanOf(new Uint8Array(readFileSync(join(repoRoot, "samples", "acme-invoice.pdf"))), 150);
    const { documentId } = await twin.uploadBytes(scan, "uploads/e2e/scanned invoice.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(item?.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item!.ocr).toEqual({ pages: [1, 2], failedPages: [], lowConfidencePages: [] });
    expect(item!.cost!.lambda.ocr!.invocations).toBeGreaterThanOrEqual(1);
    const chunks = (await readText(twin, manifestKey(documentId)))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as ChunkItem);
    const text = chunks.map((chunk) => chunk.text ?? "").join("\n");
    expect(text).toContain("INV-2024-0117");
    expect(text).toMatch(/Total due\s+3,906\.00 GBP/);
    // The words and their boxes are kept for grounding.
    const page = JSON.parse(await readText(twin, ocrPageKey(documentId, 1))) as OcrPageRecord;
    expect("words" in page && page.words.some((word) => word.text.includes("INV-2024-0117"))).toBe(true);
  }, 300_000);

  it("fans a 40-page scan out by page groups, past a shrunk timeout, and accounts for every page", async () => {
    const pages = 40;
    const { documentId } = await twin.uploadBytes(await scannedPagesPdf(pages), "uploads/e2e/long scan.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(["COMPLETED", "PARTIAL"], JSON.stringify({ status: item?.status, error: item?.error, cause: item?.cause, ocr: item?.ocr })).toContain(
      item?.status,
    );
    const read = item!.ocr!.pages;
    const failed = item!.ocr!.failedPages;
    expect([...read, ...failed.map((page) => page.page)].sort((a, b) => a - b)).toEqual(Array.from({ length: pages }, (_, i) => i + 1));
    // Failures, if any, are the page's own (typed), never a result lost with an invocation the timeout killed.
    for (const failure of failed) expect(failure.message, JSON.stringify(failure)).not.toMatch(/no OCR result/);
    expect(read.length).toBeGreaterThanOrEqual(pages - 2);
    // 5 groups of 8 pages; an invocation may start pages only in its first 2 s, so the groups took more passes.
    expect(item!.cost!.lambda.ocr!.invocations).toBeGreaterThan(5);
    const seventh = JSON.parse(await readText(twin, ocrPageKey(documentId, 7))) as OcrPageRecord;
    expect("text" in seventh && seventh.text).toMatch(/Page 7 of 40/);
  }, 600_000);
});
