/** A hybrid page's regions in the OCR function (functions/ocr/regions.ts): cut out of the page, read back into its pixels. */
import { describe, expect, it } from "vitest";
import { cropRegion, MIN_REGION_CONFIDENCE, REGION_MARGIN_PT, regionsByPage, regionsRead } from "../../functions/ocr/regions.ts";
import type { OcrPage } from "../../functions/ocr/recognizer.ts";

describe("cropRegion", () => {
  // 144 dpi: a point is 2 pixels. Each pixel's level is its column, so a crop shows where it was cut.
  const image = { width: 200, height: 100, dpi: 144, pixels: Uint8Array.from({ length: 200 * 100 }, (_, i) => i % 200) };

  it("cuts the region in points, with its margin, out of the page's pixels", () => {
    const margin = REGION_MARGIN_PT * 2;
    const crop = cropRegion(image, [20, 10, 50, 30])!;
    expect([crop.left, crop.top]).toEqual([40 - margin, 20 - margin]);
    expect([crop.image.width, crop.image.height, crop.image.dpi]).toEqual([60 + 2 * margin, 40 + 2 * margin, 144]);
    expect(crop.image.pixels[0]).toBe(40 - margin);
    expect(crop.image.pixels[crop.image.width - 1]).toBe(100 + margin - 1);
  });

  it("clips the region to the page, and gives nothing for a region off it", () => {
    const crop = cropRegion(image, [-10, -10, 20, 20])!;
    expect([crop.left, crop.top, crop.image.width, crop.image.height]).toEqual([0, 0, 40 + REGION_MARGIN_PT * 2, 40 + REGION_MARGIN_PT * 2]);
    expect(cropRegion(image, [150, 10, 200, 30])).toBeUndefined();
  });
});

describe("regionsRead", () => {
  const page = (text: string, confidence: number): OcrPage => ({
    text,
    words: text.split(" ").map((word, k) => ({ text: word, confidence, box: { x0: k * 10, y0: 0, x1: k * 10 + 8, y1: 5 } })),
    meanConfidence: confidence,
  });

  it("moves the words into the page's pixels, joins the texts, and leaves out a region read as junk", () => {
    const read = regionsRead([
      { ocr: page("ACME Ltd", 90), left: 100, top: 50 },
      { ocr: page("~ |", MIN_REGION_CONFIDENCE - 1), left: 300, top: 300 },
      { ocr: page("VAT 12", 70), left: 100, top: 200 },
    ]);
    expect(read.text).toBe("ACME Ltd\n\nVAT 12");
    expect(read.words.map((word) => [word.text, word.box.x0, word.box.y0])).toEqual([
      ["ACME", 100, 50],
      ["Ltd", 110, 50],
      ["VAT", 100, 200],
      ["12", 110, 200],
    ]);
    expect(read.meanConfidence).toBe(80);
    expect(regionsRead([])).toEqual({ text: "", words: [], meanConfidence: 0 });
  });

  it("indexes a group's regions by page", () => {
    expect(regionsByPage([{ page: 3, boxes: [[0, 0, 1, 1]] }]).get(3)).toEqual([[0, 0, 1, 1]]);
    expect(regionsByPage(undefined).size).toBe(0);
  });
});
