/**
 * The OCR core's pure parts (functions/ocr): which pages' text layers are used as they are, and the resolution a page
 * is rendered at under the pixel bound.
 */
import { describe, expect, it } from "vitest";
import { textLayerVerdict } from "../../functions/chunk/text-layer.ts";
import { DEFAULT_MAX_PIXELS, DEFAULT_OCR_DPI, renderDpi } from "../../functions/shared/page-render/render-page.ts";

const a4 = { widthPt: 595, heightPt: 842 };

describe("textLayerVerdict", () => {
  it("uses a page with a real text layer, even a sparse form", () => {
    expect(textLayerVerdict("Invoice INV-7 Total 12.00 GBP\nBill to: Globex Corporation, 500 Market Street", a4)).toBe("usable");
  });

  it("OCRs a page with no text, or whitespace only", () => {
    expect(textLayerVerdict("", a4)).toBe("empty");
    expect(textLayerVerdict(" \n\t ", a4)).toBe("empty");
  });

  it("OCRs a scan whose text layer is a page number or a stamp", () => {
    expect(textLayerVerdict("3", a4)).toBe("sparse");
    expect(textLayerVerdict("PAID", a4)).toBe("sparse");
    // A short note on a page that paints no image is that page's whole text: nothing for OCR to add.
    expect(textLayerVerdict("PAID", a4, false)).toBe("usable");
    expect(textLayerVerdict("PAID", a4, true)).toBe("sparse");
    // The same four characters on a label-sized page are its text.
    expect(textLayerVerdict("PAID", { widthPt: 144, heightPt: 72 })).toBe("usable");
  });

  it("OCRs a page whose text is mostly replacement, private-use or control characters", () => {
    expect(textLayerVerdict("\uFFFD\uFFFD\uFFFD\uFFFD ab \uE001\uE002\u0001\u0002".repeat(20), a4)).toBe("garbled");
    expect(textLayerVerdict(`${"Readable text of an ordinary page. ".repeat(5)}\uFFFD`, a4)).toBe("usable");
  });
});

describe("renderDpi", () => {
  it("renders at the asked resolution when the page fits the pixel bound", () => {
    expect(renderDpi(a4)).toBe(DEFAULT_OCR_DPI);
    expect(renderDpi(a4, { dpi: 200 })).toBe(200);
  });

  it("lowers the resolution of a huge page to stay within the pixel bound", () => {
    const poster = { widthPt: 72 * 40, heightPt: 72 * 30 };
    const dpi = renderDpi(poster);
    expect(dpi).toBeLessThan(DEFAULT_OCR_DPI);
    const pixels = (at: number) => Math.ceil((poster.widthPt * at) / 72) * Math.ceil((poster.heightPt * at) / 72);
    expect(pixels(dpi)).toBeLessThanOrEqual(DEFAULT_MAX_PIXELS);
    expect(pixels(dpi + 1)).toBeGreaterThan(DEFAULT_MAX_PIXELS);
  });
});
