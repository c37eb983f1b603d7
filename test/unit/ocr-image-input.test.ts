/**
 * Image uploads as OCR input, from hand-made headers: which keys are images and how many pages an image has (a TIFF's
 * directory chain), what counts as not an image (functions/shared/image-format.ts); the size and resolution a page's
 * header states (functions/shared/page-render/image-input.ts); the grey conversion and the shrinking to the pixel bound
 * (functions/shared/page-render/render-page.ts).
 */
import { describe, expect, it } from "vitest";
import { jpegHeader, pngHeader, tiffDpi } from "../../functions/shared/page-render/image-input.ts";
import { fitToPixels, greyOf, shrinkGrey } from "../../functions/shared/page-render/render-page.ts";
import { DocumentInputError, OcrPageError } from "../../functions/shared/errors.ts";
import { imageFormatOf, imagePageCount, tiffImageDirectories } from "../../functions/shared/image-format.ts";

function bytesOf(...parts: Array<number[] | string>): Uint8Array {
  return new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? [...part].map((char) => char.charCodeAt(0)) : part)));
}
const u32 = (value: number) => [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
const u16 = (value: number) => [value >>> 8, value & 255];

/** A PNG's signature, IHDR and, optionally, pHYs (CRCs are zero: nothing here checks them). */
function png(width: number, height: number, pixelsPerMetre?: number, unit = 1): Uint8Array {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const ihdr = [...u32(13), ..."IHDR".split("").map((char) => char.charCodeAt(0)), ...u32(width), ...u32(height), 8, 0, 0, 0, 0, ...u32(0)];
  const phys = pixelsPerMetre === undefined ? [] : [...u32(9), ...bytesOf("pHYs"), ...u32(pixelsPerMetre), ...u32(pixelsPerMetre), unit, ...u32(0)];
  const idat = [...u32(0), ...bytesOf("IDAT"), ...u32(0)];
  return bytesOf(signature, ihdr, phys, idat);
}

/** A JPEG's SOI, optionally a JFIF APP0, and a baseline SOF0 frame header. */
function jpeg(width: number, height: number, density?: { units: number; value: number }): Uint8Array {
  const app0 = density === undefined ? [] : [0xff, 0xe0, ...u16(16), ...bytesOf("JFIF"), 0, 1, 1, density.units, ...u16(density.value), ...u16(density.value), 0, 0];
  const sof0 = [0xff, 0xc0, ...u16(11), 8, ...u16(height), ...u16(width), 1, 1, 0x11, 0];
  return bytesOf([0xff, 0xd8], app0, sof0, [0xff, 0xda]);
}

/**
 * A TIFF with `pages` one-entry directories (ImageWidth, or `tag`) chained one after the other; `loop` points the last
 * back to the first.
 */
function tiff(pages: number, options: { loop?: boolean; bigEndian?: boolean; tag?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(8 + pages * 18);
  const view = new DataView(bytes.buffer);
  const little = !options.bigEndian;
  bytes.set(little ? [0x49, 0x49] : [0x4d, 0x4d]);
  view.setUint16(2, 42, little);
  view.setUint32(4, pages === 0 ? 0 : 8, little);
  for (let page = 0; page < pages; page++) {
    const at = 8 + page * 18;
    view.setUint16(at, 1, little); // one entry: ImageWidth = 1
    view.setUint16(at + 2, options.tag ?? 256, little);
    view.setUint16(at + 4, 3, little);
    view.setUint32(at + 6, 1, little);
    view.setUint16(at + 10, 1, little);
    const last = page === pages - 1;
    view.setUint32(at + 14, last ? (options.loop ? 8 : 0) : at + 18, little);
  }
  return bytes;
}

describe("imageFormatOf", () => {
  it("knows PNG, JPEG and TIFF keys by extension, whatever the case", () => {
    expect(imageFormatOf("scans/page.png")).toBe("png");
    expect(imageFormatOf("scans/PAGE.PNG")).toBe("png");
    expect(imageFormatOf("a/receipt.jpg")).toBe("jpeg");
    expect(imageFormatOf("a/receipt.JPeG")).toBe("jpeg");
    expect(imageFormatOf("fax.tif")).toBe("tiff");
    expect(imageFormatOf("fax.final.TIFF")).toBe("tiff");
  });

  it("is undefined for anything else", () => {
    for (const key of ["invoice.pdf", "notes.txt", "png", "scans.png/readme", "photo.gif", "photo.jpg.zip", "noextension", "dir.tif/"]) {
      expect(imageFormatOf(key), key).toBeUndefined();
    }
  });
});

describe("imagePageCount", () => {
  it("is 1 for a PNG and a JPEG", () => {
    expect(imagePageCount(png(10, 20), "png")).toBe(1);
    expect(imagePageCount(jpeg(10, 20), "jpeg")).toBe(1);
  });

  it("counts a TIFF's image directories, in either byte order", () => {
    expect(imagePageCount(tiff(1), "tiff")).toBe(1);
    expect(imagePageCount(tiff(3), "tiff")).toBe(3);
    expect(imagePageCount(tiff(2, { bigEndian: true }), "tiff")).toBe(2);
    expect(tiffImageDirectories(tiff(3))).toEqual([8, 26, 44]);
  });

  it("refuses an empty object as EMPTY_FILE", () => {
    expect(() => imagePageCount(new Uint8Array(0), "png")).toThrow(expect.objectContaining({ name: "DocumentInputError", code: "EMPTY_FILE" }));
  });

  it("refuses bytes that are not an image of the format, or a TIFF that cannot be walked, as NOT_AN_IMAGE", () => {
    const junk = bytesOf("%PDF-1.7 this is a PDF, not an image at all");
    const cases: Array<[Uint8Array, "png" | "jpeg" | "tiff"]> = [
      [junk, "png"],
      [junk, "jpeg"],
      [junk, "tiff"],
      [png(10, 10), "jpeg"],
      [tiff(0), "tiff"], // no directory
      [tiff(2, { tag: 34665 }), "tiff"], // directories without an image (EXIF)
      [tiff(2, { loop: true }), "tiff"], // a chain that would never end
      [tiff(3).subarray(0, 30), "tiff"], // a directory cut off
    ];
    for (const [bytes, format] of cases) {
      expect(() => imagePageCount(bytes, format), `${format} ${bytes.length}`).toThrow(DocumentInputError);
      expect(() => imagePageCount(bytes, format)).toThrow(expect.objectContaining({ code: "NOT_AN_IMAGE" }));
    }
  });
});

describe("a page's header", () => {
  it("fails the page when it cannot be read behind a good signature", () => {
    expect(() => pngHeader(png(0, 10))).toThrow(OcrPageError);
    expect(() => jpegHeader(jpeg(10, 10).subarray(0, 6))).toThrow(/OCR_FAILED: .*no frame header/);
  });
});

describe("the resolution an image states", () => {
  it("reads PNG pHYs in pixels per metre, and ignores it without a unit", () => {
    expect(pngHeader(png(2480, 3508, 11811))).toEqual({ width: 2480, height: 3508, dpi: 300 });
    expect(pngHeader(png(2480, 3508, 11811, 0))).toEqual({ width: 2480, height: 3508 });
    expect(pngHeader(png(2480, 3508))).toEqual({ width: 2480, height: 3508 });
  });

  it("reads a JFIF density per inch or per centimetre", () => {
    expect(jpegHeader(jpeg(1700, 2200, { units: 1, value: 200 }))).toEqual({ width: 1700, height: 2200, dpi: 200 });
    expect(jpegHeader(jpeg(1700, 2200, { units: 2, value: 118 }))).toEqual({ width: 1700, height: 2200, dpi: 300 });
    expect(jpegHeader(jpeg(1700, 2200, { units: 0, value: 1 }))).toEqual({ width: 1700, height: 2200 });
  });

  it("reads a TIFF's XResolution in its unit", () => {
    expect(tiffDpi({ t282: [[300, 1]], t296: [2] })).toBe(300);
    expect(tiffDpi({ t282: [[400, 2]] })).toBe(200); // inch is the default unit
    expect(tiffDpi({ t282: [[80, 1]], t296: [3] })).toBe(203);
    expect(tiffDpi({ t282: [[300, 1]], t296: [1] })).toBeUndefined(); // no absolute unit
    expect(tiffDpi({})).toBeUndefined();
  });

  it("ignores resolutions no scan has (the 72 or 96 many tools write whatever the pixels)", () => {
    expect(pngHeader(png(2480, 3508, 2835)).dpi).toBeUndefined(); // 72 dpi
    expect(jpegHeader(jpeg(1700, 2200, { units: 1, value: 96 })).dpi).toBeUndefined();
  });
});

describe("grey pixels", () => {
  it("weighs red, green and blue as luma does, and puts transparent pixels on white paper", () => {
    const rgba = new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128]);
    expect([...greyOf(rgba)]).toEqual([0, 255, 76, 255, 127]);
  });

  it("shrinks an image to the pixel bound, averaging what each new pixel covers", () => {
    expect(fitToPixels(100, 50, 10_000)).toEqual({ width: 100, height: 50, scale: 1 });
    const fit = fitToPixels(4000, 3000, 1_000_000);
    expect(fit.width * fit.height).toBeLessThanOrEqual(1_000_000);
    expect(fit.width / fit.height).toBeCloseTo(4 / 3, 2);
    // A 4x2 checker of black and white columns shrinks to two mid-grey pixels.
    const checker = new Uint8Array([0, 255, 0, 255, 0, 255, 0, 255]);
    expect([...shrinkGrey(checker, 4, 2, 2, 1)]).toEqual([128, 128]);
    expect([...shrinkGrey(new Uint8Array([0, 0, 255, 255]), 4, 1, 2, 1)]).toEqual([0, 255]);
  });
});
