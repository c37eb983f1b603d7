/**
 * The review page's images (functions/review/page-images.ts) with real render workers: PDF pages as colour JPEGs sized
 * in points as shown (a rotated page turned, a landscape page wide), image uploads sized from the resolution they state
 * (300 dpi when none, as OCR and the document layout take it) and scaled down to the dpi asked, the weight budget met by rendering again smaller and,
 * at the floor, by leaving the last pages out; a page beyond the document left out alone; bytes that are not a PDF fail.
 */
import { crc32 } from "node:zlib";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { degrees, PDFDocument, rgb, StandardFonts } from "pdf-lib";
import UTIF from "utif2";
import { beforeAll, describe, expect, it } from "vitest";
import { renderPageImages, REVIEW_IMAGE_DPI } from "../../functions/review/page-images.ts";
import { dataUrlLength, type ReviewPageImage } from "../../functions/review/review-page.ts";
import { DocumentInputError } from "../../functions/shared/errors.ts";
import { jpegHeader } from "../../functions/shared/page-render/image-input.ts";

/** Three pages: A4 portrait, A4 portrait shown rotated by 90°, A4 landscape; each with a blue band at its top. */
async function threePagePdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const sizes: Array<[number, number]> = [
    [595, 842],
    [595, 842],
    [842, 595],
  ];
  sizes.forEach(([width, height], index) => {
    const page = pdf.addPage([width, height]);
    page.drawRectangle({ x: 0, y: height - 40, width, height: 40, color: rgb(0.1, 0.3, 0.8) });
    for (let line = 0; line < 30; line++) page.drawText(`Line ${line} of page ${index + 1}: quarterly revenue 1,234.50 EUR`, { x: 40, y: height - 80 - line * 16, size: 10, font });
    if (index === 1) page.setRotation(degrees(90));
  });
  return pdf.save();
}

/** A PNG of `width` x `height` pixels, stating `dpi` in a pHYs chunk when given. */
function png(width: number, height: number, dpi?: number): Uint8Array {
  const canvas = createCanvas(width, height);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.fillStyle = "#c01010";
  context.fillRect(0, 0, width, Math.round(height / 10));
  const bytes = new Uint8Array(canvas.toBuffer("image/png"));
  if (dpi === undefined) return bytes;
  // pHYs right after IHDR (8-byte signature + 25-byte IHDR chunk): pixels per metre in x and y, unit 1 (metre).
  const body = Buffer.alloc(13);
  body.write("pHYs", 0, "latin1");
  body.writeUInt32BE(Math.round(dpi / 0.0254), 4);
  body.writeUInt32BE(Math.round(dpi / 0.0254), 8);
  body.writeUInt8(1, 12);
  const chunk = Buffer.alloc(21);
  chunk.writeUInt32BE(9, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), 17);
  return new Uint8Array(Buffer.concat([bytes.subarray(0, 33), chunk, bytes.subarray(33)]));
}

const weight = (images: ReviewPageImage[]) => images.reduce((sum, image) => sum + dataUrlLength(image), 0);

describe("renderPageImages", () => {
  let pdf: Uint8Array;
  let full: ReviewPageImage[];

  beforeAll(async () => {
    pdf = await threePagePdf();
    full = await renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [1, 2, 3] });
  });

  it("renders PDF pages as colour JPEGs at the dpi asked, sized in points as shown", async () => {
    expect(full.map((image) => [image.page, image.width, image.height, image.mime])).toEqual([
      [1, 595, 842, "image/jpeg"],
      [2, 842, 595, "image/jpeg"],
      [3, 842, 595, "image/jpeg"],
    ]);
    for (const image of full) {
      const header = jpegHeader(image.data);
      expect(header.width).toBe(Math.ceil((image.width * REVIEW_IMAGE_DPI) / 72));
      expect(header.height).toBe(Math.ceil((image.height * REVIEW_IMAGE_DPI) / 72));
    }
    // Colour survives: the blue band at the top of page 1 (at the left of page 2, turned).
    const decoded = await loadImage(Buffer.from(full[0]!.data));
    const canvas = createCanvas(decoded.width, decoded.height);
    canvas.getContext("2d").drawImage(decoded, 0, 0);
    const [red, green, blue] = canvas.getContext("2d").getImageData(decoded.width / 2, 10, 1, 1).data;
    expect(blue! - red!).toBeGreaterThan(100);
    expect(blue! - green!).toBeGreaterThan(60);
  });

  it("meets the weight budget by rendering smaller, and at the floor leaves the last pages out", async () => {
    const total = weight(full);
    const halved = await renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [1, 2, 3], maxTotalBytes: Math.floor(total / 2) });
    expect(halved.map((image) => image.page)).toEqual([1, 2, 3]);
    expect(weight(halved)).toBeLessThanOrEqual(total / 2);
    expect(jpegHeader(halved[0]!.data).width).toBeLessThan(jpegHeader(full[0]!.data).width);
    // Sizes in points do not change with the resolution.
    expect(halved.map((image) => [image.width, image.height])).toEqual(full.map((image) => [image.width, image.height]));

    const skipped: Array<[number, string]> = [];
    const budget = 12_000;
    const tight = await renderPageImages({
      bytes: pdf,
      key: "uploads/report.pdf",
      pages: [1, 2, 3],
      maxTotalBytes: budget,
      onPageSkipped: (page, reason) => skipped.push([page, reason]),
    });
    expect(weight(tight)).toBeLessThanOrEqual(budget);
    expect(tight.length).toBeGreaterThan(0);
    expect(tight.length + skipped.length).toBe(3);
    expect(skipped.map(([page]) => page)).toEqual([1, 2, 3].slice(tight.length));
    expect(skipped[0]![1]).toMatch(/over 12000 bytes/);
  });

  it("sizes an image upload from its stated resolution (300 dpi when none, as OCR) and scales it down to the dpi asked, never up", async () => {
    const [stated] = await renderPageImages({ bytes: png(1000, 1400, 200), key: "uploads/scan.png", pages: [1] });
    expect(stated!.width).toBeCloseTo((1000 * 72) / 200, 6);
    expect(stated!.height).toBeCloseTo((1400 * 72) / 200, 6);
    const header = jpegHeader(stated!.data);
    expect(header.width).toBe(Math.round((1000 * REVIEW_IMAGE_DPI) / 200));

    const [unstated] = await renderPageImages({ bytes: png(600, 800), key: "uploads/photo.PNG", pages: [1] });
    expect([unstated!.width, unstated!.height]).toEqual([144, 192]);
    expect(jpegHeader(unstated!.data).width).toBe(Math.round((600 * REVIEW_IMAGE_DPI) / 300));
    // Never enlarged: a 150 dpi image asked at 200 dpi keeps its pixels.
    const [enlarged] = await renderPageImages({ bytes: png(600, 800, 150), key: "uploads/scan.png", pages: [1], dpi: 200 });
    expect(jpegHeader(enlarged!.data).width).toBe(600);
  });

  it("renders the page asked for of a multi-page TIFF, in colour", async () => {
    // Two uncompressed RGBA pages, no resolution stated: directories first, pixels after them.
    const DATA_START = 4096;
    const pixels = [
      [200, 30],
      [30, 200],
    ].map(([red, blue]) => {
      const rgba = new Uint8Array(300 * 200 * 4);
      for (let at = 0; at < rgba.length; at += 4) rgba.set([red!, 40, blue!, 255], at);
      return rgba;
    });
    const ifds = pixels.map((rgba, index) => ({
      t256: [300], t257: [200], t258: [8, 8, 8, 8], t259: [1], t262: [2], t273: [DATA_START + index * rgba.length], t277: [4],
      t278: [200], t279: [rgba.length], t338: [2],
    }));
    const header = new Uint8Array(UTIF.encode(ifds as unknown as UTIF.IFD[]));
    expect(header.length).toBeLessThan(DATA_START);
    const tiff = new Uint8Array(DATA_START + pixels.length * pixels[0]!.length);
    tiff.set(header);
    pixels.forEach((rgba, index) => tiff.set(rgba, DATA_START + index * rgba.length));
    const images = await renderPageImages({ bytes: tiff, key: "uploads/fax.tif", pages: [2] });
    expect(images.map((image) => [image.page, image.width, image.height])).toEqual([[2, 72, 48]]);
    const decoded = await loadImage(Buffer.from(images[0]!.data));
    const canvas = createCanvas(decoded.width, decoded.height);
    canvas.getContext("2d").drawImage(decoded, 0, 0);
    const [red, , blue] = canvas.getContext("2d").getImageData(decoded.width >> 1, decoded.height >> 1, 1, 1).data;
    expect(blue! - red!).toBeGreaterThan(100);
  });

  it("leaves out a page beyond the document and renders the others", async () => {
    const skipped: Array<[number, string]> = [];
    const images = await renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [1, 7], onPageSkipped: (page, reason) => skipped.push([page, reason]) });
    expect(images.map((image) => image.page)).toEqual([1]);
    expect(skipped).toEqual([[7, expect.stringMatching(/beyond the document's 3 page/)]]);
  });

  it("throws the document's input error for bytes that are not a PDF, and refuses bad arguments", async () => {
    await expect(renderPageImages({ bytes: new TextEncoder().encode("not a pdf at all"), key: "uploads/x.pdf", pages: [1] })).rejects.toBeInstanceOf(
      DocumentInputError,
    );
    await expect(renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [2, 1] })).rejects.toThrow(/ascending/);
    await expect(renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [1], jpegQuality: 0 })).rejects.toThrow(/quality/);
    expect(await renderPageImages({ bytes: pdf, key: "uploads/report.pdf", pages: [] })).toEqual([]);
  });
});
