import type { LayoutRun, OcrPageRecord } from "../shared/contracts.ts";
import type { TextItemLike } from "./text-lines.ts";

/**
 * Where a page's text is drawn, for grounding (functions/shared/contracts.ts DocumentLayout): pdf.js text items and
 * OCR'd words as runs with boxes in PDF points from the page's top-left corner, as the page is shown. Pure.
 */

/** Share of the font size below the baseline (descenders) and above it (ascenders) that a run's box covers. */
const DESCENT = 0.2;
const ASCENT = 0.8;

/** Coordinates are kept to a tenth of a point: finer than any highlight needs, and the layout stays small. */
export function roundPoint(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * A page's text items as runs. `viewportTransform` is pdf.js's viewport transform at scale 1 (the page's rotation
 * applied): it maps the PDF's user space (origin bottom-left, y up) to the page as shown (origin top-left, y down).
 * An item's box spans its advance width along its baseline and, across it, from 0.2 font sizes below the baseline to
 * 0.8 above; its corners are transformed and bounded, so rotated text gets the box it covers on the shown page.
 * Items of only whitespace carry nothing to ground and are left out.
 */
export function textRuns(items: ReadonlyArray<TextItemLike | object>, viewportTransform: readonly number[]): LayoutRun[] {
  const [va = 1, vb = 0, vc = 0, vd = 1, ve = 0, vf = 0] = viewportTransform;
  const runs: LayoutRun[] = [];
  for (const item of items) {
    if (!("str" in item) || !Array.isArray((item as TextItemLike).transform)) continue;
    const { str, transform, width } = item as TextItemLike;
    if (str.trim() === "") continue;
    const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = transform;
    const alongLength = Math.hypot(a, b) || 1;
    const [ux, uy] = [a / alongLength, b / alongLength];
    const upLength = Math.hypot(c, d);
    // A degenerate up vector: perpendicular to the baseline.
    const [wx, wy] = upLength > 0 ? [c / upLength, d / upLength] : [-uy, ux];
    const size = (item as TextItemLike).height || upLength || alongLength;
    const advance = Number.isFinite(width) && width > 0 ? width : 0;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const along of [0, advance]) {
      for (const across of [-DESCENT * size, ASCENT * size]) {
        const x = e + ux * along + wx * across;
        const y = f + uy * along + wy * across;
        const shownX = va * x + vc * y + ve;
        const shownY = vb * x + vd * y + vf;
        x0 = Math.min(x0, shownX);
        x1 = Math.max(x1, shownX);
        y0 = Math.min(y0, shownY);
        y1 = Math.max(y1, shownY);
      }
    }
    if (![x0, y0, x1, y1].every(Number.isFinite)) continue;
    runs.push({ text: str, box: [roundPoint(x0), roundPoint(y0), roundPoint(x1), roundPoint(y1)] });
  }
  return runs;
}

/**
 * A PDF rectangle [x1, y1, x2, y2] in user space (an annotation's `rect`) on the page as shown, as a box
 * [x0, y0, x1, y1] from the top-left corner.
 */
export function shownBox(rect: readonly number[], viewportTransform: readonly number[]): LayoutRun["box"] {
  const [va = 1, vb = 0, vc = 0, vd = 1, ve = 0, vf = 0] = viewportTransform;
  const [rx0 = 0, ry0 = 0, rx1 = 0, ry1 = 0] = rect;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [x, y] of [
    [rx0, ry0],
    [rx0, ry1],
    [rx1, ry0],
    [rx1, ry1],
  ] as const) {
    xs.push(va * x + vc * y + ve);
    ys.push(vb * x + vd * y + vf);
  }
  return [roundPoint(Math.min(...xs)), roundPoint(Math.min(...ys)), roundPoint(Math.max(...xs)), roundPoint(Math.max(...ys))];
}

/** Points per inch: an image's pixels at `dpi` are `px * 72 / dpi` points. */
const POINTS_PER_INCH = 72;

/** An OCR'd page's size in points and its words as runs (boxes from pixels at the record's dpi, word confidence kept). */
export function ocrDrawing(record: Extract<OcrPageRecord, { words: unknown }>): { width: number; height: number; runs: LayoutRun[] } {
  const scale = POINTS_PER_INCH / (record.dpi > 0 ? record.dpi : POINTS_PER_INCH);
  return {
    width: roundPoint(record.width * scale),
    height: roundPoint(record.height * scale),
    runs: record.words
      .filter((word) => word.text.trim() !== "")
      .map((word) => ({
        text: word.text,
        box: [roundPoint(word.box.x0 * scale), roundPoint(word.box.y0 * scale), roundPoint(word.box.x1 * scale), roundPoint(word.box.y1 * scale)],
        confidence: Math.round(word.confidence * 10) / 10,
      })),
  };
}
