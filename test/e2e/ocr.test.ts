/**
 * The OCR core (functions/ocr) on real renders: a text PDF turned into an image-only PDF (each page rendered and put
 * back as a picture, as a scanner would) has no usable text layer, and rendering plus tesseract.js reads its invoice
 * number and total back, with each word's box inside the page and its confidence. A blank page gives no words.
 */
import { readFileSync } from "node:fs";
import { PDFDocument } from "pdf-lib";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recognizer, type OcrPage } from "../../functions/ocr/recognizer.ts";
import { renderPageGrey, type GreyImage } from "../../functions/shared/page-render/render-page.ts";
import { OcrPageError } from "../../functions/shared/errors.ts";
import { textLayerVerdict } from "../../functions/chunk/text-layer.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { canvasFactoryOf, openForRendering, scanOf } from "../../bench/scans.ts";

const open = openForRendering;

describe("OCR of an image-only PDF", () => {
  let recognizer: Recognizer;
  const pages: Array<{ verdict: string; image: GreyImage; ocr: OcrPage }> = [];

  beforeAll(async () => {
    recognizer = await Recognizer.create();
    const scan = await open(await scanOf(new Uint8Array(readFileSync(join(repoRoot, "samples", "acme-invoice.pdf"))), 150));
    for (let number = 1; number <= scan.numPages; number++) {
      const page = await scan.getPage(number);
      const { width, height } = page.getViewport({ scale: 1 });
      const text = (await page.getTextContent()).items.map((item) => ("str" in item ? item.str : "")).join(" ");
      const image = await renderPageGrey(page, canvasFactoryOf(scan), { dpi: 300 });
      pages.push({ verdict: textLayerVerdict(text, { widthPt: width, heightPt: height }), image, ocr: await recognizer.recognize(image) });
    }
    await scan.destroy();
  }, 180_000);
  afterAll(async () => {
    await recognizer?.close();
  });

  it("has no text layer to use", () => {
    expect(pages.map((page) => page.verdict)).toEqual(pages.map(() => "empty"));
  });

  it("reads the invoice number and the total back", () => {
    const text = pages.map((page) => page.ocr.text).join("\n");
    expect(text).toContain("INV-2024-0117");
    expect(text).toMatch(/Total due\s+3,906\.00 GBP/);
  });

  it("keeps each word's box inside its page and its confidence", () => {
    for (const { image, ocr } of pages) {
      expect(ocr.words.length).toBeGreaterThan(10);
      for (const { box, confidence } of ocr.words) {
        expect(box.x0 >= 0 && box.x1 <= image.width && box.x0 < box.x1, JSON.stringify(box)).toBe(true);
        expect(box.y0 >= 0 && box.y1 <= image.height && box.y0 < box.y1, JSON.stringify(box)).toBe(true);
        expect(confidence).toBeGreaterThanOrEqual(0);
        expect(confidence).toBeLessThanOrEqual(100);
      }
      expect(ocr.meanConfidence).toBeGreaterThan(70);
    }
    const number = pages[0]!.ocr.words.find((word) => word.text.includes("INV-2024-0117"));
    expect(number, "the invoice number is one word").toBeDefined();
    // It sits in the top third of the page, where the sample prints it.
    expect(number!.box.y1).toBeLessThan(pages[0]!.image.height / 3);
  });

  it("stops a render past its deadline with OCR_TIMEOUT", async () => {
    const doc = await open(new Uint8Array(readFileSync(join(repoRoot, "samples", "acme-invoice.pdf"))));
    const render = renderPageGrey(await doc.getPage(1), canvasFactoryOf(doc), { dpi: 300, deadline: Date.now() - 1 });
    await expect(render).rejects.toBeInstanceOf(OcrPageError);
    await expect(render).rejects.toMatchObject({ code: "OCR_TIMEOUT" });
    await doc.destroy();
  });

  it("finds no words on a blank page", async () => {
    const blank = await PDFDocument.create();
    blank.addPage([595, 842]);
    const doc = await open(await blank.save());
    const ocr = await recognizer.recognize(await renderPageGrey(await doc.getPage(1), canvasFactoryOf(doc), { dpi: 150 }));
    await doc.destroy();
    expect(ocr).toEqual({ text: "", words: [], meanConfidence: 0 });
  });
});
