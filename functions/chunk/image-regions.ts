import type { LayoutRun, OcrRegion } from "../shared/contracts.ts";
import { roundPoint } from "./text-runs.ts";

/**
 * Where a page whose text layer is usable paints images that may hold text the layer lacks (a letterhead's address,
 * an issuer block pasted as a picture): the regions OCR reads on such a page. Pure: it works on pdf.js's operator list
 * (`fnArray`/`argsArray`) and the page's text runs.
 *
 * An image is painted into the unit square of the current transformation matrix (CTM). The CTM is tracked through
 * save/restore, transform, form XObjects (their matrix) and transparency groups (which pdf.js brackets with
 * save/restore of their own; their matrix is the form's, applied by the form's begin operator).
 */

/** pdf.js's operator codes this module reads (OPS of pdfjs-dist), passed in so this module needs no pdf.js. */
export interface OperatorCodes {
  save: number;
  restore: number;
  transform: number;
  paintFormXObjectBegin: number;
  paintFormXObjectEnd: number;
  beginGroup: number;
  endGroup: number;
  paintImageXObject: number;
  paintInlineImageXObject: number;
  paintImageMaskXObject: number;
  paintImageXObjectRepeat: number;
  paintImageMaskXObjectRepeat: number;
  paintImageMaskXObjectGroup: number;
  paintInlineImageXObjectGroup: number;
}

/**
 * Smallest region worth reading, in points: half an inch wide and one line of 9-point text high. Smaller images
 * (bullets, icons, rules, signatures' flourishes) hold no text a value could be grounded in.
 */
export const MIN_REGION_WIDTH_PT = 36;
export const MIN_REGION_HEIGHT_PT = 12;
/** Smallest image in its own pixels: fewer than this many rows or columns cannot draw a legible line of text. */
export const MIN_IMAGE_PIXELS = 16;
/**
 * Share of a region's area under text-layer runs above which its text is taken to be in the layer already: a
 * background or watermark behind text, a scan under its own invisible OCR layer. A picture next to text has none;
 * an invoice's text covers 15–40 % of the area it fills.
 */
export const MAX_TEXT_COVERED_SHARE = 0.05;
/** Regions OCR'd on one page at most (the largest): past a handful of pictures, a page is a catalogue, not a form. */
export const MAX_REGIONS_PER_PAGE = 6;
/**
 * Pages of one document whose images are read at most (the first ones found): a letterhead or an issuer block is on
 * the first pages; past this, a document of pictures (a brochure, a catalogue) would cost an OCR page each.
 */
export const MAX_HYBRID_PAGES = 20;
/**
 * Share of the document's decode bound (pdf-decode-bound.ts) past which images are no longer looked for: looking
 * decodes a page's images, which reading its text does not, and must not make a document with large pictures fail
 * TOO_LARGE where its text alone reads fine.
 */
export const MAX_REGION_SEARCH_DECODE_SHARE = 0.25;
/** A region mostly (this share of its area) inside a larger kept one adds nothing: it is read with it. */
const CONTAINED_SHARE = 0.8;

type Matrix = [number, number, number, number, number, number];
const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

/** m × n in pdf.js's (and the canvas's) order: n is applied first, then m. */
function multiply(m: Matrix, n: readonly number[]): Matrix {
  const [a, b, c, d, e, f] = m;
  const [na = 1, nb = 0, nc = 0, nd = 1, ne = 0, nf = 0] = n;
  return [a * na + c * nb, b * na + d * nb, a * nc + c * nd, b * nc + d * nd, a * ne + c * nf + e, b * ne + d * nf + f];
}

/** One painted image: the unit square under `matrix` (user space), and its size in pixels when the operator says it. */
export interface ImagePlacement {
  matrix: Matrix;
  pixels?: { width: number; height: number };
}

function sizeOf(image: unknown): { width: number; height: number } | undefined {
  const { width, height } = (image ?? {}) as { width?: unknown; height?: unknown };
  return typeof width === "number" && typeof height === "number" ? { width, height } : undefined;
}

/** Every image the operator list paints, with the CTM it is painted under. Unknown operators are ignored. */
export function imagePlacements(
  fnArray: readonly number[],
  argsArray: ReadonlyArray<unknown>,
  ops: OperatorCodes,
): ImagePlacement[] {
  const placements: ImagePlacement[] = [];
  const stack: Matrix[] = [];
  let ctm: Matrix = [...IDENTITY];
  const push = () => stack.push(ctm);
  const pop = () => {
    ctm = stack.pop() ?? ctm;
  };
  for (let i = 0; i < fnArray.length; i++) {
    const op = fnArray[i];
    const args = (argsArray[i] ?? []) as unknown[];
    switch (op) {
      case ops.save:
      case ops.beginGroup:
        push();
        break;
      case ops.restore:
      case ops.endGroup:
      case ops.paintFormXObjectEnd:
        pop();
        break;
      case ops.transform:
        ctm = multiply(ctm, args as number[]);
        break;
      case ops.paintFormXObjectBegin: {
        push();
        const matrix = args[0];
        if (Array.isArray(matrix) && matrix.length === 6) ctm = multiply(ctm, matrix as number[]);
        break;
      }
      case ops.paintImageXObject: {
        const [, width, height] = args;
        placements.push({ matrix: ctm, ...(typeof width === "number" && typeof height === "number" ? { pixels: { width, height } } : {}) });
        break;
      }
      case ops.paintInlineImageXObject:
      case ops.paintImageMaskXObject: {
        const pixels = sizeOf(args[0]);
        placements.push({ matrix: ctm, ...(pixels ? { pixels } : {}) });
        break;
      }
      case ops.paintImageXObjectRepeat: {
        const [, scaleX, scaleY, positions] = args as [unknown, number, number, number[]];
        for (let p = 0; p + 1 < (positions?.length ?? 0); p += 2) {
          placements.push({ matrix: multiply(ctm, [scaleX, 0, 0, scaleY, positions[p]!, positions[p + 1]!]) });
        }
        break;
      }
      case ops.paintImageMaskXObjectRepeat: {
        const [image, scaleX, skewX, skewY, scaleY, positions] = args as [unknown, number, number, number, number, number[]];
        const pixels = sizeOf(image);
        for (let p = 0; p + 1 < (positions?.length ?? 0); p += 2) {
          const matrix = multiply(ctm, [scaleX, skewX ?? 0, skewY ?? 0, scaleY, positions[p]!, positions[p + 1]!]);
          placements.push({ matrix, ...(pixels ? { pixels } : {}) });
        }
        break;
      }
      case ops.paintImageMaskXObjectGroup:
        for (const image of (args[0] ?? []) as Array<{ transform?: number[] }>) {
          const pixels = sizeOf(image);
          placements.push({ matrix: multiply(ctm, image.transform ?? IDENTITY), ...(pixels ? { pixels } : {}) });
        }
        break;
      case ops.paintInlineImageXObjectGroup:
        for (const entry of (args[1] ?? []) as Array<{ transform?: number[]; w?: number; h?: number }>) {
          const pixels = typeof entry.w === "number" && typeof entry.h === "number" ? { width: entry.w, height: entry.h } : undefined;
          placements.push({ matrix: multiply(ctm, entry.transform ?? IDENTITY), ...(pixels ? { pixels } : {}) });
        }
        break;
      default:
        break;
    }
  }
  return placements;
}

/**
 * `regions` less those already read on an earlier page (`seen`, which this adds to): a picture at the same place on
 * several pages is a running letterhead or logo, read once. Boxes compare as rounded (to a tenth of a point).
 */
export function newRegions(regions: readonly OcrRegion[], seen: Set<string>): OcrRegion[] {
  const fresh = regions.filter((box) => !seen.has(box.join(",")));
  for (const box of regions) seen.add(box.join(","));
  return fresh;
}

/** The unit square under `matrix`, then `viewportTransform` (user space to the page as shown), bounded. */
function shownBounds(matrix: Matrix, viewportTransform: readonly number[]): OcrRegion {
  const shown = multiply(viewportTransform.length === 6 ? ([...viewportTransform] as Matrix) : IDENTITY, matrix);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [u, v] of [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ] as const) {
    xs.push(shown[0] * u + shown[2] * v + shown[4]);
    ys.push(shown[1] * u + shown[3] * v + shown[5]);
  }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** A box's area ([x0, y0, x1, y1]); 0 when it is empty. */
export function area([x0, y0, x1, y1]: readonly number[]): number {
  return Math.max(0, (x1 ?? 0) - (x0 ?? 0)) * Math.max(0, (y1 ?? 0) - (y0 ?? 0));
}

/** The area two boxes share. */
export function overlap(a: readonly number[], b: readonly number[]): number {
  return area([Math.max(a[0]!, b[0]!), Math.max(a[1]!, b[1]!), Math.min(a[2]!, b[2]!), Math.min(a[3]!, b[3]!)]);
}

/**
 * The regions of a page OCR should read: images (`placements`) as shown on the page (`viewportTransform`, pdf.js's
 * viewport at scale 1), clipped to the page (`size`, points), at least MIN_REGION_* points and MIN_IMAGE_PIXELS pixels,
 * with at most MAX_TEXT_COVERED_SHARE of their area under the text layer's `runs`; the largest
 * MAX_REGIONS_PER_PAGE, a region mostly inside a larger one dropped. Sorted in reading order (top to bottom, then
 * left to right), boxes in points from the page's top-left corner, to a tenth of a point.
 */
export function imageRegions(
  placements: readonly ImagePlacement[],
  viewportTransform: readonly number[],
  size: { width: number; height: number },
  runs: readonly Pick<LayoutRun, "box">[],
): OcrRegion[] {
  const candidates: OcrRegion[] = [];
  for (const { matrix, pixels } of placements) {
    if (!matrix.every(Number.isFinite)) continue;
    if (pixels && (pixels.width < MIN_IMAGE_PIXELS || pixels.height < MIN_IMAGE_PIXELS)) continue;
    const [x0, y0, x1, y1] = shownBounds(matrix, viewportTransform);
    const box: OcrRegion = [Math.max(0, x0), Math.max(0, y0), Math.min(size.width, x1), Math.min(size.height, y1)];
    if (box[2] - box[0] < MIN_REGION_WIDTH_PT || box[3] - box[1] < MIN_REGION_HEIGHT_PT) continue;
    const covered = runs.reduce((sum, run) => sum + overlap(run.box, box), 0);
    if (covered > MAX_TEXT_COVERED_SHARE * area(box)) continue;
    candidates.push(box);
  }
  candidates.sort((a, b) => area(b) - area(a));
  const kept: OcrRegion[] = [];
  for (const box of candidates) {
    if (kept.length >= MAX_REGIONS_PER_PAGE) break;
    if (kept.some((larger) => overlap(larger, box) >= CONTAINED_SHARE * area(box))) continue;
    kept.push(box);
  }
  return kept
    .map((box) => box.map(roundPoint) as OcrRegion)
    .sort((a, b) => a[1] - b[1] || a[0] - b[0]);
}
