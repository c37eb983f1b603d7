/**
 * The OCR engine (functions/ocr/ocr-pages.ts) end to end, with real render workers and tesseract.js: image uploads
 * made in the test from the sample invoice (PNG, JPEG, a 3-page TIFF) read back its invoice number; a page beyond the
 * document fails alone, as does one that outgrows the render worker's heap or a bomb image's; bytes that are not an
 * image fail whole; a page whose rendering, decoding or recognition overruns its time is OCR_TIMEOUT and the next page
 * still succeeds (its worker was replaced); pages that do not fit before the deadline are not started; two pipelines
 * read the same text as one. Renders at 150 dpi: accuracy is not what is tested.
 */
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCanvas } from "@napi-rs/canvas";
import { PDFDocument, PDFName } from "pdf-lib";
import { getDocument, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import UTIF from "utif2";
import { beforeAll, describe, expect, it } from "vitest";
import {
  imagePageCount,
  isOcrPageFailure,
  ocrPages,
  type OcrInput,
  type OcrOptions,
  type OcrPageOutcome,
  type OcrPageText,
} from "../../functions/ocr/ocr-pages.ts";
import { pdfjsRenderingOptions, renderPageGrey, type GreyImage } from "../../functions/shared/page-render/render-page.ts";
import { DocumentInputError } from "../../functions/shared/errors.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { textPicturePng } from "../helpers/text-picture.ts";

const INVOICE_NUMBER = "INV-2024-0117";
const invoicePdf = new Uint8Array(readFileSync(join(repoRoot, "samples", "acme-invoice.pdf")));

const options = (overrides: Partial<OcrOptions> = {}): OcrOptions => ({
  dpi: 150,
  maxPixels: 40_000_000,
  language: "eng",
  pageTimeoutMs: 60_000,
  deadline: Date.now() + 10 * 60_000,
  concurrency: 1,
  ...overrides,
});

type CanvasFactory = Parameters<typeof renderPageGrey>[1];
const canvasFactoryOf = (doc: PDFDocumentProxy) => (doc as unknown as { canvasFactory: CanvasFactory }).canvasFactory;

/** The invoice's pages rendered to grey at `dpi`: what a scanner would produce. */
async function invoiceScans(dpi: number): Promise<GreyImage[]> {
  const doc = await getDocument({ data: new Uint8Array(invoicePdf), ...pdfjsRenderingOptions() }).promise;
  const scans: GreyImage[] = [];
  for (let number = 1; number <= doc.numPages; number++) {
    scans.push(await renderPageGrey(await doc.getPage(number), canvasFactoryOf(doc), { dpi }));
  }
  await doc.destroy();
  return scans;
}

function encoded(image: GreyImage, mime: "image/png" | "image/jpeg"): Uint8Array {
  const canvas = createCanvas(image.width, image.height);
  const context = canvas.getContext("2d");
  const data = context.createImageData(image.width, image.height);
  image.pixels.forEach((level, index) => data.data.set([level, level, level, 255], index * 4));
  context.putImageData(data, 0, 0);
  return new Uint8Array(mime === "image/png" ? canvas.toBuffer("image/png") : canvas.toBuffer("image/jpeg", 90));
}

/** A multi-page TIFF of 8-bit grey, uncompressed images, each stating its resolution. */
function tiffOf(images: GreyImage[], tags: (index: number) => object = () => ({})): Uint8Array {
  const DATA_START = 4096;
  let offset = DATA_START;
  const ifds = images.map((image, index) => {
    const ifd = {
      t256: [image.width], t257: [image.height], t258: [8], t259: [1], t262: [1], t273: [offset], t277: [1],
      t278: [image.height], t279: [image.pixels.length], t282: [[image.dpi, 1]], t283: [[image.dpi, 1]], t296: [2],
    };
    offset += image.pixels.length;
    return { ...ifd, ...tags(index) };
  });
  const header = new Uint8Array(UTIF.encode(ifds as unknown as UTIF.IFD[]));
  expect(header.length).toBeLessThan(DATA_START);
  const file = new Uint8Array(offset);
  file.set(header);
  let at = DATA_START;
  for (const image of images) {
    file.set(image.pixels, at);
    at += image.pixels.length;
  }
  return file;
}

/** `image` repeated `across` times across and `down` times down. */
function tiled(image: GreyImage, across: number, down: number): GreyImage {
  const width = image.width * across;
  const pixels = new Uint8Array(width * image.height * down);
  for (let row = 0; row < image.height * down; row++) {
    const source = image.pixels.subarray((row % image.height) * image.width, ((row % image.height) + 1) * image.width);
    for (let copy = 0; copy < across; copy++) pixels.set(source, row * width + copy * image.width);
  }
  return { width, height: image.height * down, dpi: image.dpi, pixels };
}

/**
 * A PDF whose page 1 takes minutes to render (a free-form triangle mesh shading of full-page triangles, which pdf.js
 * draws pixel by pixel in one operation that its cancel hook cannot interrupt) and whose page 2 is the invoice's.
 */
async function heavyThenInvoice(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const heavy = doc.addPage([612, 792]);
  const TRIANGLES = 10_000; // ~8 s per 1,000 here
  const mesh = new Uint8Array(TRIANGLES * 3 * 6);
  let at = 0;
  for (let triangle = 0; triangle < TRIANGLES; triangle++) {
    const corners = triangle % 2 ? [[0, 0], [65535, 0], [0, 65535]] : [[65535, 65535], [65535, 0], [0, 65535]];
    for (const [x, y] of corners) mesh.set([0, x! >> 8, x! & 255, y! >> 8, y! & 255, (triangle * 37) & 255], (at++) * 6);
  }
  const shading = doc.context.stream(mesh, {
    ShadingType: 4, ColorSpace: "DeviceGray", BitsPerCoordinate: 16, BitsPerComponent: 8, BitsPerFlag: 8, Decode: [0, 612, 0, 792, 0, 1],
  });
  heavy.node.Resources()!.set(PDFName.of("Shading"), doc.context.obj({ Sh0: doc.context.register(shading) }));
  heavy.node.set(PDFName.of("Contents"), doc.context.register(doc.context.stream("/Sh0 sh")));
  const [invoicePage] = await doc.copyPages(await PDFDocument.load(invoicePdf), [0]);
  doc.addPage(invoicePage);
  return doc.save();
}

const texts = (outcomes: OcrPageOutcome[]) => outcomes.map((outcome) => (isOcrPageFailure(outcome) ? outcome.error : outcome.text));
const asText = (outcome: OcrPageOutcome | undefined): OcrPageText => {
  if (outcome === undefined || isOcrPageFailure(outcome)) throw new Error(`expected text, got ${JSON.stringify(outcome)}`);
  return outcome;
};

describe("ocrPages", () => {
  let scans: GreyImage[];
  let png: Uint8Array;
  let jpeg: Uint8Array;
  let tiff: Uint8Array;

  beforeAll(async () => {
    scans = await invoiceScans(150);
    png = encoded(scans[0]!, "image/png");
    jpeg = encoded(scans[0]!, "image/jpeg");
    tiff = tiffOf([scans[0]!, scans[1]!, scans[0]!]);
  });

  it("reads the invoice number from a PNG and a JPEG", async () => {
    for (const [format, bytes] of [["png", png], ["jpeg", jpeg]] as const) {
      const { outcomes, notStarted } = await ocrPages({ kind: "image", format, bytes }, [1], options());
      expect(notStarted).toEqual([]);
      const page = asText(outcomes[0]);
      expect(page.text, format).toContain(INVOICE_NUMBER);
      expect([page.width, page.height]).toEqual([scans[0]!.width, scans[0]!.height]);
      expect(page.words.length).toBeGreaterThan(10);
      expect(page.meanConfidence).toBeGreaterThan(50);
    }
  }, 120_000);

  it("reads every page of a 3-page TIFF, at the resolution the TIFF states", async () => {
    expect(imagePageCount(tiff, "tiff")).toBe(3);
    const { outcomes } = await ocrPages({ kind: "image", format: "tiff", bytes: tiff }, [3, 1, 2], options());
    expect(outcomes.map((outcome) => outcome.page)).toEqual([1, 2, 3]);
    for (const outcome of outcomes) {
      expect(asText(outcome).text).toContain(INVOICE_NUMBER);
      expect(asText(outcome).dpi).toBe(150);
    }
  }, 120_000);

  it("fails a page beyond the document alone, and scales an image down to the pixel bound", async () => {
    const image = await ocrPages({ kind: "image", format: "png", bytes: png }, [1, 2], options({ maxPixels: 1_000_000 }));
    const first = asText(image.outcomes[0]);
    expect(first.width * first.height).toBeLessThanOrEqual(1_000_000);
    expect(first.dpi).toBeLessThan(300); // the assumed 300 dpi, scaled down with the pixels
    expect(image.outcomes[1]).toMatchObject({ page: 2, error: "OCR_FAILED" });

    const pdf = await ocrPages({ kind: "pdf", bytes: invoicePdf }, [9, 2], options());
    expect(pdf.outcomes[0]).toMatchObject({ page: 2 });
    expect(asText(pdf.outcomes[0]).text).toContain(INVOICE_NUMBER);
    expect(pdf.outcomes[1]).toMatchObject({ page: 9, error: "OCR_FAILED", message: expect.stringContaining("beyond") });
  }, 120_000);

  it("refuses bytes that are not the image or PDF they claim to be, and fails a damaged image's page", async () => {
    const junk = new TextEncoder().encode("this is not an image at all");
    for (const input of [
      { kind: "image", format: "png", bytes: junk },
      { kind: "image", format: "tiff", bytes: junk },
      { kind: "pdf", bytes: junk },
    ] satisfies OcrInput[]) {
      await expect(ocrPages(input, [1], options()), input.kind).rejects.toThrow(DocumentInputError);
    }
    // A PNG whose header claims 60,000 x 60,000 pixels (a decompression bomb): its page is refused before decoding.
    const bomb = png.slice();
    new DataView(bomb.buffer).setUint32(16, 60_000);
    new DataView(bomb.buffer).setUint32(20, 60_000);
    const { outcomes } = await ocrPages({ kind: "image", format: "png", bytes: bomb }, [1], options());
    expect(outcomes).toEqual([{ page: 1, error: "OCR_FAILED", message: expect.stringContaining("pixel bound") }]);
  }, 60_000);

  it("stops a TIFF page whose decoding does not end (OCR_TIMEOUT), and reads the next page", async () => {
    // Page 1's strip claims LZW compression but is junk, on which utif2 loops without end; page 2 is blank paper.
    const lzwJunk = { width: 100, height: 100, dpi: 300, pixels: new Uint8Array(100 * 100).fill(0xab) };
    const blank = { width: 100, height: 100, dpi: 300, pixels: new Uint8Array(100 * 100).fill(255) };
    const tiffBytes = tiffOf([lzwJunk, blank], (index) => (index === 0 ? { t259: [5] } : {}));
    const { outcomes } = await ocrPages({ kind: "image", format: "tiff", bytes: tiffBytes }, [1, 2], options({ pageTimeoutMs: 5_000 }));
    expect(outcomes[0]).toMatchObject({ page: 1, error: "OCR_TIMEOUT" });
    expect(asText(outcomes[1])).toMatchObject({ page: 2, text: "", words: [] });
  }, 60_000);

  it("stops a page that overruns its time (OCR_TIMEOUT) and does the next page in a fresh worker", async () => {
    const pdf = await heavyThenInvoice();
    const started = Date.now();
    const { outcomes } = await ocrPages({ kind: "pdf", bytes: pdf }, [1, 2], options({ pageTimeoutMs: 10_000 }));
    expect(outcomes[0]).toMatchObject({ page: 1, error: "OCR_TIMEOUT" });
    expect(asText(outcomes[1]).text).toContain(INVOICE_NUMBER);
    // Not the minutes the first page would take: it was stopped at its bound.
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);

  it("fails a page whose rendering outgrows the render worker's heap bound (OCR_FAILED) and renders the next", async () => {
    // 300,000 tiny filled rectangles: pdf.js's operator list for them alone is more than a 64 MB heap holds.
    const doc = await PDFDocument.create();
    doc.addPage([612, 792]).node.set(PDFName.of("Contents"), doc.context.register(doc.context.flateStream("0 0 1 1 re f\n".repeat(300_000))));
    doc.addPage([612, 792]);
    const { outcomes } = await ocrPages({ kind: "pdf", bytes: await doc.save() }, [1, 2], options({ dpi: 72, renderHeapMb: 64 }));
    expect(outcomes[0]).toMatchObject({ page: 1, error: "OCR_FAILED", message: expect.stringContaining("out of memory") });
    expect(asText(outcomes[1])).toMatchObject({ page: 2, text: "" });
  }, 90_000);

  it("stops a recognition that overruns the page's time (OCR_TIMEOUT) and reads the next page with a new recogniser", async () => {
    // Page 1 (blank) starts the workers; page 2 decodes in a moment in the warm render worker but is the invoice's
    // first page 5 x 4 times over (43 MP), tens of seconds of text to recognise; page 3 is blank again.
    const blank = { width: 100, height: 100, dpi: 300, pixels: new Uint8Array(100 * 100).fill(255) };
    const bytes = tiffOf([blank, tiled(scans[0]!, 5, 4), blank]);
    const { outcomes } = await ocrPages(
      { kind: "image", format: "tiff", bytes },
      [1, 2, 3],
      options({ pageTimeoutMs: 4_000, maxPixels: 50_000_000 }),
    );
    expect(asText(outcomes[0])).toMatchObject({ page: 1, text: "" });
    expect(outcomes[1]).toMatchObject({ page: 2, error: "OCR_TIMEOUT", message: expect.stringContaining("recognition") });
    expect(asText(outcomes[2])).toMatchObject({ page: 3, text: "" });
  }, 60_000);

  it("starts no page that would not finish before the deadline", async () => {
    const started = Date.now();
    const result = await ocrPages({ kind: "pdf", bytes: invoicePdf }, [2, 1], options({ pageTimeoutMs: 20_000, deadline: Date.now() + 1_000 }));
    expect(result).toEqual({ outcomes: [], notStarted: [1, 2] });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("reads the same text with two pipelines as with one", async () => {
    const pages = [1, 2, 3];
    const input: OcrInput = { kind: "image", format: "tiff", bytes: tiff };
    const one = await ocrPages(input, pages, options());
    const two = await ocrPages(input, pages, options({ concurrency: 2 }));
    expect(texts(two.outcomes)).toEqual(texts(one.outcomes));
    expect(texts(one.outcomes).every((text) => text.includes(INVOICE_NUMBER))).toBe(true);
  }, 180_000);

  it("reads a hybrid page only inside its regions, words in the whole page's pixels; a picture without text adds nothing", async () => {
    const logo = textPicturePng("ACME TRADING 4711");
    const stripes = createCanvas(200, 200);
    const striped = stripes.getContext("2d");
    for (let k = 0; k < 200; k += 4) {
      striped.fillStyle = `rgb(${k}, ${k}, ${k})`;
      striped.fillRect(0, k, 200, 4);
    }
    const doc = await PDFDocument.create();
    const page = doc.addPage([595, 842]);
    page.drawImage(await doc.embedPng(logo), { x: 50, y: 700, width: 300, height: 75 });
    page.drawImage(await doc.embedPng(stripes.toBuffer("image/png")), { x: 350, y: 500, width: 150, height: 150 });
    page.drawText("Textlayer words are read by the chunk step", { x: 50, y: 400, size: 14 });
    const regions: Array<[number, number, number, number]> = [
      [50, 67, 350, 142],
      [350, 192, 500, 342],
    ];
    const { outcomes } = await ocrPages({ kind: "pdf", bytes: await doc.save() }, [1], options(), new Map([[1, regions]]));
    const read = asText(outcomes[0]);
    expect(read.text).toMatch(/ACME/);
    expect(read.text).toMatch(/4711/);
    expect(read.text).not.toMatch(/Textlayer|chunk/);
    expect(read.regions).toBe(2);
    // The whole page's pixels at 150 dpi (a point is 150/72 pixels), every word inside the logo's region.
    expect(read.width).toBeCloseTo((595 * 150) / 72, -1);
    expect(read.height).toBeCloseTo((842 * 150) / 72, -1);
    const scale = 150 / 72;
    for (const word of read.words) {
      expect(word.box.x0).toBeGreaterThanOrEqual((50 - 3) * scale - 1);
      expect(word.box.x1).toBeLessThanOrEqual((350 + 3) * scale + 1);
      expect(word.box.y0).toBeGreaterThanOrEqual((67 - 3) * scale - 1);
      expect(word.box.y1).toBeLessThanOrEqual((142 + 3) * scale + 1);
    }
  }, 60_000);

  it("leaves no render worker files in the temporary folder", () => {
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith("llambda-render-worker"))).toEqual([]);
  });
});
