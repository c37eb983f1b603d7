/**
 * Scanned documents end to end on the twin: the chunk step plans OCR for pages without a text layer, the OCR
 * Distributed Map reads them in the OCR function (real pdf.js rendering and tesseract.js), the second chunk run
 * chunks the assembled text, and the item says which pages were OCR'd. A long scan under a shrunk OCR function timeout
 * fans out by page groups and hands the pages it had no time for to fresh invocations: every page ends read or with a
 * typed error, none lost to the timeout. A page with a text layer that paints a picture of text (a letterhead) is
 * OCR'd inside the picture only (`auto`): its text layer and the picture's text are both chunked.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestKey, ocrPageKey } from "../../functions/shared/bucket-layout.ts";
import type { ChunkItem, OcrPageRecord } from "../../functions/shared/contracts.ts";
import { TwinNames, type LocalTwin } from "../../infra/local/twin.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { scanOf, scannedPagesPdf } from "../../bench/scans.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";
import { textPicturePng } from "../helpers/text-picture.ts";

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

  it("reads the text of a picture on a page with a text layer, and keeps the page's text layer", async () => {
    const letterhead = textPicturePng("ACME TRADING 4711");
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    const page = doc.addPage([595, 842]);
    page.drawImage(await doc.embedPng(letterhead), { x: 50, y: 720, width: 300, height: 75 });
    for (let line = 0; line < 20; line++) {
      page.drawText(`Invoice INV-2024-0117 line ${line + 1}: one widget at 12.50 GBP`, { x: 50, y: 650 - line * 16, size: 11, font });
    }
    const { documentId } = await twin.uploadBytes(await doc.save(), "uploads/e2e/letterhead invoice.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(item?.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item!.ocr).toEqual({ pages: [1], failedPages: [], lowConfidencePages: [] });
    const text = (await readText(twin, manifestKey(documentId)))
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as ChunkItem).text ?? "")
      .join("\n");
    expect(text).toContain("Invoice INV-2024-0117 line 20: one widget at 12.50 GBP");
    expect(text).toMatch(/ACME TRADING 4711/);
    const record = JSON.parse(await readText(twin, ocrPageKey(documentId, 1))) as OcrPageRecord;
    expect("words" in record && record.words.map((word) => word.text)).toEqual(["ACME", "TRADING", "4711"]);
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
