/** The chunk step's side of OCR: the per-page decision, page groups, the assembled pages and the failed-page tolerance. */
import { PDFDocument, StandardFonts } from "pdf-lib";
import UTIF from "utif2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkOrPlanDocument, type OcrNeeded } from "../../functions/chunk/chunk-document.ts";
import { buildDocumentLayout } from "../../functions/chunk/document-layout.ts";
import { assembleOcrPages, checkFailedPages, missingPage, pageGroups, pagesToOcr, regionsToOcr } from "../../functions/chunk/ocr-plan.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import type { OcrPageRecord, OcrRegion, OcrTextLayer } from "../../functions/shared/contracts.ts";
import { DocumentInputCodes, DocumentInputError, TooManyFailedPagesError } from "../../functions/shared/errors.ts";
import { imageFormatOf, imagePageCount } from "../../functions/shared/image-format.ts";
import { taggedWords } from "../helpers/chunk-fixtures.ts";
import { greyPng } from "../helpers/grey-png.ts";

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

const options = (sourceKey: string) => ({ documentId: "d", sourceKey, bucket: "b", maxTokens: 200, tokenizer });

/**
 * A PDF whose pages are text (an array of words) or a drawn shape only (null): a scan's page, to the text layer. With
 * `logo`, the text pages also paint a 200 x 80 pt picture above their text (a hybrid page).
 */
async function mixedPdf(pages: Array<string[] | null>, logo = false): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const picture = logo ? await doc.embedPng(greyPng(200, 80, (x) => (x % 20 < 10 ? 0 : 255))) : undefined;
  for (const words of pages) {
    const page = doc.addPage([595, 842]);
    if (picture && words !== null) page.drawImage(picture, { x: 40, y: 820 - 80, width: 200, height: 80 });
    if (words === null) {
      page.drawRectangle({ x: 50, y: 50, width: 400, height: 600 });
      continue;
    }
    for (let line = 0; line * 10 < words.length; line++) {
      page.drawText(words.slice(line * 10, line * 10 + 10).join(" "), { x: 40, y: (logo ? 700 : 800) - line * 14, size: 10, font });
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
  it("auto also OCRs the usable pages with image regions, only inside them; always reads them whole; never not at all", () => {
    const logo: OcrRegion = [40, 22, 240, 102];
    const regions = [[logo], [logo], [], [], []];
    expect(pagesToOcr(verdicts, "auto", regions)).toEqual([1, 2, 3, 4]);
    // A page OCR reads whole anyway (empty) has no regions, whatever was found on it.
    expect(regionsToOcr(verdicts, "auto", regions)).toEqual([{ page: 1, boxes: [logo] }]);
    expect(pagesToOcr(verdicts, "always", regions)).toEqual([1, 2, 3, 4, 5]);
    expect(regionsToOcr(verdicts, "always", regions)).toEqual([]);
    expect(pagesToOcr(verdicts, "never", regions)).toEqual([]);
    expect(regionsToOcr(verdicts, "never", regions)).toEqual([]);
    expect(regionsToOcr(verdicts, "auto", undefined)).toEqual([]);
  });
  it("scans OCRs the pages whose text layer is not usable, never the pictures on the others", () => {
    const logo: OcrRegion = [40, 22, 240, 102];
    expect(pagesToOcr(verdicts, "scans", [[logo], [logo], [], [], [logo]])).toEqual([2, 3, 4]);
    expect(regionsToOcr(verdicts, "scans", [[logo], [], [], [], []])).toEqual([]);
    expect(pagesToOcr(["usable", "usable"], "scans", [[logo], [logo]])).toEqual([]);
  });
  it("groups pages in page order, each group with its own pages' regions", () => {
    const box: OcrRegion = [0, 0, 100, 50];
    const groups = pageGroups([1, 2, 3, 4], 2, [{ page: 1, boxes: [box] }, { page: 4, boxes: [box, box] }]);
    expect(groups).toEqual([
      { pages: [1, 2], regions: [{ page: 1, boxes: [box] }] },
      { pages: [3, 4], regions: [{ page: 4, boxes: [box, box] }] },
    ]);
    expect(pageGroups([5], 2, [{ page: 1, boxes: [box] }])).toEqual([{ pages: [5] }]);
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

  it("plans a text page that paints a picture for OCR inside the picture only (auto); always reads it whole; never chunks it", async () => {
    const bytes = await mixedPdf([taggedWords(1, 120), null], true);
    const planned = (await chunkOrPlanDocument(bytes, { ...options("uploads/logo.pdf"), ocrMode: "auto" })) as OcrNeeded;
    expect(planned.ocr.textLayer.ocrPages).toEqual([1, 2]);
    expect(planned.ocr.textLayer.regions).toEqual([{ page: 1, boxes: [[40, 22, 240, 102]] }]);
    expect(planned.ocr.textLayer.pages[0]).toContain("p1w0");
    const always = (await chunkOrPlanDocument(bytes, { ...options("uploads/logo.pdf"), ocrMode: "always" })) as OcrNeeded;
    expect(always.ocr.textLayer).toMatchObject({ ocrPages: [1, 2] });
    expect(always.ocr.textLayer.regions).toBeUndefined();
    const never = await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120)], true), { ...options("uploads/logo.pdf"), ocrMode: "never" });
    expect("manifest" in never).toBe(true);
  });

  it("scans leaves the pictures on text pages alone: the scanned page is planned, a text page with a logo is chunked", async () => {
    const mixed = (await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120), null], true), { ...options("uploads/logo.pdf"), ocrMode: "scans" })) as OcrNeeded;
    expect(mixed.ocr.textLayer.ocrPages).toEqual([2]);
    expect(mixed.ocr.textLayer.regions).toBeUndefined();
    const logoOnly = await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120)], true), { ...options("uploads/logo.pdf"), ocrMode: "scans" });
    expect("manifest" in logoOnly).toBe(true);
    const auto = await chunkOrPlanDocument(await mixedPdf([taggedWords(1, 120)], true), { ...options("uploads/logo.pdf"), ocrMode: "auto" });
    expect("manifest" in auto).toBe(false);
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

  it("keeps a hybrid page's text-layer text and runs and adds its regions' text and words after them", () => {
    const hybrid: OcrTextLayer = {
      pages: ["Invoice 42 total 10.00", "second page"],
      ocrPages: [1],
      drawings: [
        { width: 595, height: 842, source: "text-layer", runs: [{ text: "Invoice 42 total 10.00", box: [40, 200, 200, 210] }] },
        { width: 595, height: 842, source: "text-layer", runs: [{ text: "second page", box: [40, 200, 100, 210] }] },
      ],
      regions: [{ page: 1, boxes: [[40, 22, 240, 102]] }],
    };
    const record: OcrPageRecord = {
      page: 1, text: "ACME Ltd\nVAT BE0123", meanConfidence: 88, width: 2480, height: 3508, dpi: 300, ms: 400,
      words: [
        { text: "ACME", confidence: 90, box: { x0: 200, y0: 100, x1: 400, y1: 150 } },
        { text: "Ltd", confidence: 92, box: { x0: 420, y0: 100, x1: 500, y1: 150 } },
        { text: "VAT", confidence: 85, box: { x0: 200, y0: 200, x1: 300, y1: 250 } },
        { text: "BE0123", confidence: 85, box: { x0: 320, y0: 200, x1: 600, y1: 250 } },
      ],
    };
    const { pages, drawings, summary } = assembleOcrPages(hybrid, new Map([[1, record]]), (page) => missingPage(page, undefined));
    expect(pages).toEqual(["Invoice 42 total 10.00\n\nACME Ltd\nVAT BE0123", "second page"]);
    expect(drawings[0]).toMatchObject({ width: 595, height: 842, source: "text-layer" });
    expect(drawings[0]!.runs.map((run) => [run.text, run.confidence])).toEqual([
      ["Invoice 42 total 10.00", undefined], ["ACME", 90], ["Ltd", 92], ["VAT", 85], ["BE0123", 85],
    ]);
    // Pixels at 300 dpi to points: 200 px = 48 pt.
    expect(drawings[0]!.runs[1]!.box).toEqual([48, 24, 96, 36]);
    expect(summary).toEqual({ pages: [1], failedPages: [], lowConfidencePages: [] });
    // The layout's text is the assembled text, its runs in the same order: the regions' words come after the page's text.
    const layout = buildDocumentLayout(pages, drawings, []);
    expect(layout.text.slice(layout.pages[0]!.charStart, layout.pages[0]!.charEnd)).toBe(pages[0]);

    const unsure = { ...record, meanConfidence: 45, words: record.words.map((word) => ({ ...word, confidence: 45 })) };
    expect(assembleOcrPages(hybrid, new Map([[1, unsure]]), () => missingPage(1, undefined)).summary.lowConfidencePages).toEqual([1]);
    const blank = { ...record, text: "", words: [], meanConfidence: 0 };
    expect(assembleOcrPages(hybrid, new Map([[1, blank]]), () => missingPage(1, undefined)).pages[0]).toBe("Invoice 42 total 10.00");
    const failed = assembleOcrPages(hybrid, new Map(), (page) => missingPage(page, undefined));
    expect(failed.pages[0]).toBe("Invoice 42 total 10.00");
    expect(failed.drawings[0]!.runs).toHaveLength(1);
    expect(failed.summary.failedPages.map(({ page }) => page)).toEqual([1]);
  });

  it("leaves out a hybrid page's OCR'd words that the text layer already draws (text set over the picture)", () => {
    const layer: OcrTextLayer = {
      pages: ["Paid"],
      ocrPages: [1],
      drawings: [{ width: 595, height: 842, source: "text-layer", runs: [{ text: "Paid", box: [100, 30, 130, 40] }] }],
      regions: [{ page: 1, boxes: [[40, 22, 240, 102]] }],
    };
    const record: OcrPageRecord = {
      page: 1, text: "ACME Paid", meanConfidence: 80, width: 2480, height: 3508, dpi: 300, ms: 400,
      words: [
        { text: "ACME", confidence: 90, box: { x0: 200, y0: 125, x1: 400, y1: 165 } },
        // 100-130 x 30-40 points: the run "Paid" of the text layer.
        { text: "Paid", confidence: 70, box: { x0: 417, y0: 125, x1: 542, y1: 167 } },
      ],
    };
    const { pages, drawings } = assembleOcrPages(layer, new Map([[1, record]]), () => missingPage(1, undefined));
    expect(pages).toEqual(["Paid\n\nACME"]);
    expect(drawings[0]!.runs.map((run) => run.text)).toEqual(["Paid", "ACME"]);
  });

  it("does not fail the document for a hybrid page whose regions could not be read", () => {
    const failedPages = [{ page: 1, error: "OCR_FAILED" as const, message: "m" }];
    expect(() => checkFailedPages({ failedPages }, 3, 0, new Set([1]))).not.toThrow();
    expect(() => checkFailedPages({ failedPages: [...failedPages, { page: 2, error: "OCR_FAILED" as const, message: "m" }] }, 3, 0, new Set([1]))).toThrow(
      /1 of 2 OCR'd page\(s\) failed.*page 2 \(OCR_FAILED\)/,
    );
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
