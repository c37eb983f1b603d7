/**
 * The chunk step's part of OCR: which pages go to OCR (the per-page decision), how they are grouped for the OCR
 * Distributed Map, and, once OCR has run, the document's pages assembled from the text layer and the OCR results.
 */
import type {
  OcrFailedPage,
  OcrMode,
  OcrPageGroup,
  OcrPageRecord,
  OcrPageRegions,
  OcrRegion,
  OcrSummary,
  OcrTextLayer,
  LayoutRun,
  PageDrawing,
} from "../shared/contracts.ts";
import { OcrPageCodes, TooManyFailedPagesError } from "../shared/errors.ts";
import { area, overlap } from "./image-regions.ts";
import type { TextLayerVerdict } from "./text-layer.ts";
import { ocrDrawing } from "./text-runs.ts";

/**
 * Pages one OCR invocation is given. A page takes 2–5 s of one vCPU at 300 dpi, so a group of 8 is well inside one
 * invocation at the OCR function's concurrency, and a 300-page scan fans out to 38 invocations. A group that does not
 * finish in time hands its remaining pages to a fresh invocation (the OCR Map's loop).
 */
export const OCR_PAGES_PER_GROUP = 8;

/** Mean word confidence (0–100) below which an OCR'd page is listed in `lowConfidencePages`. */
export const LOW_OCR_CONFIDENCE = 60;

/**
 * 1-based pages to OCR: `always` every page (whole), `auto` the pages whose text layer is not usable and the usable
 * pages with image regions (`imageRegions`, pdf-text.ts; only inside them, see `regionsToOcr`), `never` none.
 */
export function pagesToOcr(textLayer: readonly TextLayerVerdict[], mode: OcrMode, imageRegions?: readonly OcrRegion[][]): number[] {
  if (mode === "never") return [];
  const hybrid = new Set(regionsToOcr(textLayer, mode, imageRegions).map(({ page }) => page));
  return textLayer.flatMap((verdict, i) => (mode === "always" || verdict !== "usable" || hybrid.has(i + 1) ? [i + 1] : []));
}

/**
 * The hybrid pages, read only inside their images: in `auto`, the pages whose text layer is usable and that paint
 * images that may hold text. `always` reads every page whole; `never` none.
 */
export function regionsToOcr(textLayer: readonly TextLayerVerdict[], mode: OcrMode, imageRegions?: readonly OcrRegion[][]): OcrPageRegions[] {
  if (mode !== "auto" || imageRegions === undefined) return [];
  return textLayer.flatMap((verdict, i) => {
    const boxes = imageRegions[i] ?? [];
    return verdict === "usable" && boxes.length > 0 ? [{ page: i + 1, boxes: [...boxes] }] : [];
  });
}

/** The pages in groups of `perGroup`, in page order; a group carries the regions of its hybrid pages. */
export function pageGroups(
  pages: readonly number[],
  perGroup: number = OCR_PAGES_PER_GROUP,
  regions: readonly OcrPageRegions[] = [],
): OcrPageGroup[] {
  const groups: OcrPageGroup[] = [];
  for (let start = 0; start < pages.length; start += perGroup) {
    const inGroup = new Set(pages.slice(start, start + perGroup));
    const groupRegions = regions.filter(({ page }) => inGroup.has(page));
    groups.push({ pages: [...inGroup], ...(groupRegions.length > 0 ? { regions: groupRegions } : {}) });
  }
  return groups;
}

export interface AssembledPages {
  /**
   * Every page's text: OCR's for the pages OCR read whole, the text layer's and then its regions' OCR text (after a
   * blank line) for a hybrid page, else the text layer's.
   */
  pages: string[];
  /**
   * Every page as drawn: OCR's words for the pages OCR read whole, the text layer's runs and then the regions' words
   * (with their confidence) for a hybrid page, else the text layer's runs (when the plan kept them).
   */
  drawings: Array<PageDrawing | undefined>;
  summary: Omit<OcrSummary, "usage">;
}

/**
 * The document's pages after OCR. `records` holds each OCR'd page's stored result; a page without one (its
 * invocation failed beyond its retries) failed with `missing`'s error. A failed page keeps its text-layer text. A
 * hybrid page (in `textLayer.regions`) keeps its text-layer text and runs, and gains its regions' text and words after
 * them: the layout's text (what chunk offsets refer to) is this assembled text, so the runs follow it in order.
 */
export function assembleOcrPages(
  textLayer: OcrTextLayer,
  records: ReadonlyMap<number, OcrPageRecord>,
  missing: (page: number) => OcrFailedPage,
): AssembledPages {
  const pages = [...textLayer.pages];
  const drawings: Array<PageDrawing | undefined> = textLayer.pages.map((_, i) => textLayer.drawings?.[i]);
  const done: number[] = [];
  const failedPages: OcrFailedPage[] = [];
  const lowConfidencePages: number[] = [];
  const hybrid = hybridPagesOf(textLayer);
  for (const page of textLayer.ocrPages) {
    const record = records.get(page);
    if (record === undefined) {
      failedPages.push(missing(page));
    } else if ("error" in record) {
      failedPages.push({ page, error: record.error, message: record.message });
    } else if (hybrid.has(page)) {
      const read = ocrDrawing(record);
      const drawn = drawings[page - 1];
      const words = wordsBesideTextLayer(read.runs, drawn?.runs ?? []);
      pages[page - 1] = [pages[page - 1] ?? "", wordsText(words)].filter((part) => part !== "").join("\n\n");
      drawings[page - 1] = drawn
        ? { ...drawn, runs: [...drawn.runs, ...words] }
        : { width: read.width, height: read.height, source: "text-layer", runs: words };
      done.push(page);
      const mean = words.reduce((sum, word) => sum + (word.confidence ?? 0), 0) / Math.max(1, words.length);
      if (words.length > 0 && mean < LOW_OCR_CONFIDENCE) lowConfidencePages.push(page);
    } else {
      pages[page - 1] = record.text;
      drawings[page - 1] = { ...ocrDrawing(record), source: "ocr" };
      done.push(page);
      if (record.words.length > 0 && record.meanConfidence < LOW_OCR_CONFIDENCE) lowConfidencePages.push(page);
    }
  }
  return { pages, drawings, summary: { pages: done, failedPages, lowConfidencePages } };
}

/** The pages OCR reads only inside their images (hybrid pages: their text layer is read too). */
export function hybridPagesOf(textLayer: Pick<OcrTextLayer, "regions">): Set<number> {
  return new Set((textLayer.regions ?? []).map(({ page }) => page));
}

/**
 * Share of an OCR'd word's box under a text-layer run above which the word is the text layer's own text, drawn over or
 * beside the picture and read again by OCR (the page is rendered whole): it is left out, the layer has it.
 */
const TEXT_LAYER_OVERLAP = 0.5;

/** A hybrid page's OCR'd words (points) less those the text layer's runs already draw. */
function wordsBesideTextLayer(words: readonly LayoutRun[], layerRuns: readonly LayoutRun[]): LayoutRun[] {
  return words.filter(({ box }) => {
    const covered = layerRuns.reduce((sum, run) => sum + overlap(run.box, box), 0);
    return covered <= TEXT_LAYER_OVERLAP * area(box);
  });
}

/**
 * The words' text, in their order (Tesseract's reading order): a word on the line of the one before (its vertical
 * centre within that word's height, to its right) follows it after a space, any other starts a new line. Built from
 * the words themselves, the text is exactly what the runs draw.
 */
function wordsText(words: readonly LayoutRun[]): string {
  let text = "";
  let previous: LayoutRun["box"] | undefined;
  for (const { text: word, box } of words) {
    const centre = (box[1] + box[3]) / 2;
    const sameLine = previous !== undefined && centre >= previous[1] && centre <= previous[3] && box[0] >= previous[0];
    text += previous === undefined ? word : `${sameLine ? " " : "\n"}${word}`;
    previous = box;
  }
  return text;
}

/** A page whose OCR left no result: its invocation failed (the Map Run's error for it, when known). */
export function missingPage(page: number, reason: string | undefined): OcrFailedPage {
  return {
    page,
    error: OcrPageCodes.Failed,
    message: `no OCR result: its invocation failed${reason === undefined ? "" : ` (${reason})`}`,
  };
}

/**
 * Fails the document when more OCR'd pages failed than `toleratedPercentage` of them (every page, when the tolerance
 * is 0 and one failed): TooManyFailedPages, its message naming each failed page and why. Hybrid pages
 * (`regionPages`) do not count: their text layer was read, only their images' text is missing (they are still listed
 * as failed, and the document ends PARTIAL).
 */
export function checkFailedPages(
  summary: Pick<OcrSummary, "failedPages">,
  ocrPageCount: number,
  toleratedPercentage: number,
  regionPages: ReadonlySet<number> = new Set(),
): void {
  const counted = summary.failedPages.filter(({ page }) => !regionPages.has(page));
  const failed = counted.length;
  const whole = ocrPageCount - regionPages.size;
  if (failed === 0 || failed * 100 <= whole * toleratedPercentage) return;
  const listed = counted
    .slice(0, 20)
    .map(({ page, error }) => `${page} (${error})`)
    .join(", ");
  throw new TooManyFailedPagesError(
    `${failed} of ${whole} OCR'd page(s) failed, more than the tolerated ${toleratedPercentage} %: ` +
      `page ${listed}${failed > 20 ? `, and ${failed - 20} more` : ""}`,
  );
}
