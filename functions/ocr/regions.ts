import type { OcrRegion } from "../shared/contracts.ts";
import type { GreyImage } from "../shared/page-render/render-page.ts";
import type { OcrPage } from "./recognizer.ts";

/**
 * OCR of a hybrid page's regions (its images; the rest of the page is read from its text layer): each region is cut
 * out of the rendered page and recognised alone, and the words are moved back into the page's pixels. Pure.
 */

const POINTS_PER_INCH = 72;
/** Points added around a region: glyphs drawn to the image's edge keep some white around them, as Tesseract prefers. */
export const REGION_MARGIN_PT = 3;
/**
 * A region whose words have a lower mean confidence than this is a picture without text (a photo, a drawing, a
 * logo's emblem): Tesseract reads such shapes as a few junk "words" of confidence 10–50. Its words are left out, so
 * that they neither add noise to the page's text nor list the page as read with low confidence.
 */
export const MIN_REGION_CONFIDENCE = 50;

/** `box` (points) cut out of the page `image` with REGION_MARGIN_PT around it; undefined when nothing of it is on the image. */
export function cropRegion(image: GreyImage, box: readonly number[]): { image: GreyImage; left: number; top: number } | undefined {
  const scale = image.dpi / POINTS_PER_INCH;
  const margin = REGION_MARGIN_PT * scale;
  const left = Math.max(0, Math.floor((box[0] ?? 0) * scale - margin));
  const top = Math.max(0, Math.floor((box[1] ?? 0) * scale - margin));
  const right = Math.min(image.width, Math.ceil((box[2] ?? 0) * scale + margin));
  const bottom = Math.min(image.height, Math.ceil((box[3] ?? 0) * scale + margin));
  if (right - left < 1 || bottom - top < 1) return undefined;
  const width = right - left;
  const height = bottom - top;
  const pixels = new Uint8Array(width * height);
  for (let row = 0; row < height; row++) {
    const from = (top + row) * image.width + left;
    pixels.set(image.pixels.subarray(from, from + width), row * width);
  }
  return { image: { width, height, pixels, dpi: image.dpi }, left, top };
}

/**
 * The regions' readings as one page's: words moved by their region's offset into the page's pixels, texts joined by a
 * blank line in the regions' order, regions below MIN_REGION_CONFIDENCE left out, mean confidence over the words kept.
 */
export function regionsRead(read: ReadonlyArray<{ ocr: OcrPage; left: number; top: number }>): OcrPage {
  const kept = read.filter(({ ocr }) => ocr.words.length > 0 && ocr.meanConfidence >= MIN_REGION_CONFIDENCE);
  const words = kept.flatMap(({ ocr, left, top }) =>
    ocr.words.map((word) => ({
      ...word,
      box: { x0: word.box.x0 + left, y0: word.box.y0 + top, x1: word.box.x1 + left, y1: word.box.y1 + top },
    })),
  );
  const text = kept
    .map(({ ocr }) => ocr.text.trim())
    .filter((part) => part !== "")
    .join("\n\n");
  const meanConfidence = words.length === 0 ? 0 : words.reduce((sum, word) => sum + word.confidence, 0) / words.length;
  return { text, words, meanConfidence };
}

/** The regions as a Map by page, for `ocrPages`. */
export function regionsByPage(regions: ReadonlyArray<{ page: number; boxes: OcrRegion[] }> | undefined): Map<number, OcrRegion[]> {
  return new Map((regions ?? []).map(({ page, boxes }) => [page, boxes]));
}
