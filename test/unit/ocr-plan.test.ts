/** The chunk step's side of OCR: the per-page decision, page groups, the assembled pages and the failed-page tolerance. */
import { PDFDocument, StandardFonts } from "pdf-lib";
import UTIF from "utif2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkOrPlanDocument, type OcrNeeded } from "../../functions/chunk/chunk-document.ts";
import { assembleOcrPages, checkFailedPages, missingPage, pageGroups, pagesToOcr } from "../../functions/chunk/ocr-plan.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import type { OcrPageRecord } from "../../functions/shared/contracts.ts";
import { DocumentInputCodes, DocumentInputError, TooManyFailedPagesError } from "../../functions/shared/errors.ts";
import { imageFormatOf, imagePageCount } from "../../functions/shared/image-format.ts";
import { taggedWords } from "../helpers/chunk-fixtures.ts";

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

const options = (sourceKey: string) => ({ documentId: "d", sourceKey, bucket: "b", maxTokens: 200, tokenizer });

/** A PDF whose pages are text (an array of words) or a drawn shape only (null): a scan's page, to the text layer. */
async function mixedPdf(pages: Array<string[] | null>): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const words of pages) {
    const page = doc.addPage([595, 842]);
    if (words === null) {
      page.drawRectangle({ x: 50, y: 50, width: 400, height: 600 });
      continue;
    }
    for (let line = 0; line * 10 < words.length; line++) {
      page.drawText(words.slice(line * 10, line * 10 + 10).join(" "), { x: 40, y: 800 - line * 14, size: 10, font });
    }
  }
  return doc.save();
}

const PNG_HEADER = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13);

describe("pagesToOcr", () => {
  const verdicts = ["usable", "empty", "sparse", "garbled", "usable"] as const;
  it("auto OCRs the pages whose text layer is not usable; always every page; never none", () => {
    expect(pagesToOcr(verdicts, "auto")).toEqual([2, 3, 4]);
    expect(pagesToOcr(verdicts, "always")).toEqual([1, 2, 3, 4, 5]);
    expect(pagesToOcr(verdicts, "never")).toEqual([]);
  });
  it("groups pages in page order, the last group holding the rest", () => {
    const pages = Array.from({ length: 19 }, (_, i) => i + 1);
    const groups = pageGroups(pages, 8);
    expect(groups.map((group) => group.pages.length)).toEqual([8, 8, 3]);
    expect(groups.flatMap((group) => group.pages)).toEqual(pages);
  });
});

describe("chunkOrPlanDocument with OCR", () => {
  it("plans the scanned pages of a mixed PDF and keeps its text pages' text", async () => {
    const bytes = await mixedPdf([taggedWords(1, 120), null, taggedWords(3, 120)]);
    const planned = (await chunkOrPlanDocument(bytes, { ...options("uploads/mixed.pdf"), ocrMode: "auto" })) as OcrNeeded;
    expect(planned.ocr.format).toBe("pdf");
    expect(planned.ocr.pageCount).toBe(3);
    expect(planned.ocr.textLayer.ocrPages).toEqual([2]);
    expect(planned.ocr.textLayer.pages[0]).toContain("p1w0");
    expect(planned.ocr.textLayer.pages[1]).toBe("");
  });

  it("chunks a text PDF without a plan, and refuses a scan with OCR off (NO_TEXT_LAYER)", async () => {
    const text = await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120)]), { ...options("uploads/t.pdf"), ocrMode: "auto" });
    expect("manifest" in text).toBe(true);
    const always = await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120)]), { ...options("uploads/t.pdf"), ocrMode: "always" });
    expect((always as OcrNeeded).ocr.textLayer.ocrPages).toEqual([1]);
    await expect(chunkOrPlanDocument(await mixedPdf([null, null]), { ...options("uploads/s.pdf"), ocrMode: "never" })).rejects.toMatchObject({
      code: DocumentInputCodes.NoTextLayer,
      message: expect.stringContaining("LLAMBDA_OCR=never"),
    });
  });

  it("plans every page of an image upload; OCR off refuses it; bytes that are not the named format are NOT_AN_IMAGE", async () => {
    const planned = (await chunkOrPlanDocument(PNG_HEADER, options("uploads/photo.PNG"))) as OcrNeeded;
    expect(planned.ocr).toMatchObject({ format: "png", pageCount: 1, textLayer: { pages: [""], ocrPages: [1] } });
    await expect(chunkOrPlanDocument(PNG_HEADER, { ...options("uploads/photo.png"), ocrMode: "never" })).rejects.toMatchObject({
      code: DocumentInputCodes.NoTextLayer,
    });
    await expect(chunkOrPlanDocument(PNG_HEADER, options("uploads/photo.jpg"))).rejects.toMatchObject({ code: DocumentInputCodes.NotAnImage });
    await expect(chunkOrPlanDocument(new Uint8Array(0), options("uploads/photo.tif"))).rejects.toMatchObject({ code: DocumentInputCodes.EmptyFile });
  });

  it("chunks the assembled pages after OCR, and ends NO_TEXT_FOUND when no page has any text", async () => {
    const chunked = await chunkOrPlanDocument(new Uint8Array(0), { ...options("uploads/scan.pdf"), pages: ["", "Invoice INV-1 total 12.00"] });
    expect("manifest" in chunked && chunked.manifest.items.map((item) => [item.pageStart, item.pageEnd])).toEqual([[2, 2]]);
    const blank = chunkOrPlanDocument(new Uint8Array(0), { ...options("uploads/scan.pdf"), pages: ["", "  \n"] });
    await expect(blank).rejects.toBeInstanceOf(DocumentInputError);
    await expect(blank).rejects.toMatchObject({ code: DocumentInputCodes.NoTextFound });
  });
});

describe("image uploads", () => {
  it("knows images by extension and counts a TIFF's pages", () => {
    expect(["a.png", "b.JPG", "c.jpeg", "d.tif", "e.TIFF", "f.pdf", "g.png.txt"].map(imageFormatOf)).toEqual([
      "png", "jpeg", "jpeg", "tiff", "tiff", undefined, undefined,
    ]);
    const page = (w: number, h: number) => {
      const ifd = UTIF.decode(UTIF.encodeImage(new Uint8Array(w * h * 4).fill(255), w, h))[0]!;
      return ifd;
    };
    const single = new Uint8Array(UTIF.encodeImage(new Uint8Array(16 * 16 * 4).fill(255), 16, 16));
    expect(imagePageCount(single, "tiff")).toBe(1);
    const three = new Uint8Array(UTIF.encode([page(8, 8), page(9, 9), page(10, 10)].map((ifd) => ({ ...ifd }))));
    expect(imagePageCount(three, "tiff")).toBe(3);
    expect(() => imagePageCount(Uint8Array.of(1, 2, 3, 4), "tiff")).toThrow(/NOT_AN_IMAGE/);
  });
});

describe("assembling the pages after OCR", () => {
  const text = (page: number, value: string, meanConfidence = 90): OcrPageRecord => ({
    page, text: value, words: value === "" ? [] : [{ text: value, confidence: meanConfidence, box: { x0: 0, y0: 0, x1: 1, y1: 1 } }],
    meanConfidence, width: 10, height: 10, dpi: 300, ms: 5,
  });
  const layer = { pages: ["own text", "", "stamp", ""], ocrPages: [2, 3, 4] };

  it("puts OCR's text on the OCR'd pages, keeps a failed page's text layer, and lists low-confidence and failed pages", () => {
    const records = new Map<number, OcrPageRecord>([
      [2, text(2, "scanned words", 41)],
      [3, { page: 3, error: "OCR_TIMEOUT", message: "page 3 did not finish" }],
    ]);
    const { pages, summary } = assembleOcrPages(layer, records, (page) => missingPage(page, "States.Timeout"));
    expect(pages).toEqual(["own text", "scanned words", "stamp", ""]);
    expect(summary).toEqual({
      pages: [2],
      lowConfidencePages: [2],
      failedPages: [
        { page: 3, error: "OCR_TIMEOUT", message: "page 3 did not finish" },
        { page: 4, error: "OCR_FAILED", message: "no OCR result: its invocation failed (States.Timeout)" },
      ],
    });
  });

  it("a blank OCR'd page is read, not low-confidence", () => {
    const records = new Map<number, OcrPageRecord>([2, 3, 4].map((page) => [page, text(page, "", 0)]));
    expect(assembleOcrPages(layer, records, (page) => missingPage(page, undefined)).summary).toEqual({
      pages: [2, 3, 4],
      failedPages: [],
      lowConfidencePages: [],
    });
  });

  it("fails the document past the tolerated share of failed pages, naming them", () => {
    const failed = (count: number) => ({
      failedPages: Array.from({ length: count }, (_, i) => ({ page: i + 1, error: "OCR_FAILED" as const, message: "m" })),
    });
    expect(() => checkFailedPages(failed(1), 10, 10)).not.toThrow();
    expect(() => checkFailedPages(failed(0), 10, 0)).not.toThrow();
    expect(() => checkFailedPages(failed(2), 10, 10)).toThrow(TooManyFailedPagesError);
    expect(() => checkFailedPages(failed(1), 10, 0)).toThrow(/1 of 10 OCR'd page\(s\) failed.*page 1 \(OCR_FAILED\)/);
  });
});
