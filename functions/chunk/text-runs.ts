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
 * Items that continue a run: on its baseline (within 0.1 font sizes), in its direction, starting at most half a font
 * size after its end (a word gap) and not far before it. pdf.js gives a line as one item or as dozens (per word, per
 * glyph): joining them keeps the layout about the size of the text.
 */
const JOIN_ACROSS = 0.1;
const JOIN_GAP = 0.5;
const JOIN_OVERLAP = 0.2;
/** A gap wider than this many font sizes between joined items is a space, when neither item has one there. */
const SPACE_GAP = 0.15;

interface OpenRun {
  text: string;
  /** The baseline's direction and the glyphs' up, unit vectors in user space; the font size. */
  ux: number;
  uy: number;
  wx: number;
  wy: number;
  size: number;
  /** Where the last item's advance ends, user space. */
  endX: number;
  endY: number;
  box: [number, number, number, number];
}

/**
 * A page's text items as runs. `viewportTransform` is pdf.js's viewport transform at scale 1 (the page's rotation
 * applied): it maps the PDF's user space (origin bottom-left, y up) to the page as shown (origin top-left, y down).
 * An item's box spans its advance width along its baseline and, across it, from 0.2 font sizes below the baseline to
 * 0.8 above; its corners are transformed and bounded, so rotated text gets the box it covers on the shown page.
 * Consecutive items of one line are joined into one run (JOIN_*). Items of only whitespace carry nothing to ground
 * and are left out.
 */
export function textRuns(items: ReadonlyArray<TextItemLike | object>, viewportTransform: readonly number[]): LayoutRun[] {
  const [va = 1, vb = 0, vc = 0, vd = 1, ve = 0, vf = 0] = viewportTransform;
  const runs: LayoutRun[] = [];
  let open: OpenRun | undefined;
  const close = () => {
    if (open === undefined) return;
    const [x0, y0, x1, y1] = open.box;
    if ([x0, y0, x1, y1].every(Number.isFinite)) runs.push({ text: open.text, box: [roundPoint(x0), roundPoint(y0), roundPoint(x1), roundPoint(y1)] });
    open = undefined;
  };
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
    const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const along of [0, advance]) {
      for (const across of [-DESCENT * size, ASCENT * size]) {
        const x = e + ux * along + wx * across;
        const y = f + uy * along + wy * across;
        const shownX = va * x + vc * y + ve;
        const shownY = vb * x + vd * y + vf;
        box[0] = Math.min(box[0], shownX);
        box[2] = Math.max(box[2], shownX);
        box[1] = Math.min(box[1], shownY);
        box[3] = Math.max(box[3], shownY);
      }
    }
    let gap = 0;
    if (open !== undefined) {
      const [dx, dy] = [e - open.endX, f - open.endY];
      gap = dx * open.ux + dy * open.uy;
      const across = dx * open.wx + dy * open.wy;
      const sameFrame = Math.abs(ux - open.ux) < 0.01 && Math.abs(uy - open.uy) < 0.01 && Math.abs(size - open.size) <= 0.2 * open.size;
      if (!sameFrame || Math.abs(across) > JOIN_ACROSS * size || gap > JOIN_GAP * size || gap < -JOIN_OVERLAP * size) close();
    }
    if (open === undefined) {
      open = { text: str, ux, uy, wx, wy, size, endX: e + ux * advance, endY: f + uy * advance, box };
      continue;
    }
    const spaced = /\s$/.test(open.text) || /^\s/.test(str);
    open.text += !spaced && gap > SPACE_GAP * size ? ` ${str}` : str;
    open.endX = e + ux * advance;
    open.endY = f + uy * advance;
    open.box = [Math.min(open.box[0], box[0]), Math.min(open.box[1], box[1]), Math.max(open.box[2], box[2]), Math.max(open.box[3], box[3])];
  }
  close();
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
