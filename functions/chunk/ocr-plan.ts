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
  PageDrawing,
} from "../shared/contracts.ts";
import { OcrPageCodes, TooManyFailedPagesError } from "../shared/errors.ts";
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
  const hybrid = new Set((textLayer.regions ?? []).map(({ page }) => page));
  for (const page of textLayer.ocrPages) {
    const record = records.get(page);
    if (record === undefined) {
      failedPages.push(missing(page));
    } else if ("error" in record) {
      failedPages.push({ page, error: record.error, message: record.message });
    } else if (hybrid.has(page)) {
      const read = ocrDrawing(record);
      pages[page - 1] = [pages[page - 1] ?? "", record.text.trim()].filter((part) => part !== "").join("\n\n");
      const drawn = drawings[page - 1];
      drawings[page - 1] = drawn
        ? { ...drawn, runs: [...drawn.runs, ...read.runs] }
        : { width: read.width, height: read.height, source: "text-layer", runs: read.runs };
      done.push(page);
      if (record.words.length > 0 && record.meanConfidence < LOW_OCR_CONFIDENCE) lowConfidencePages.push(page);
    } else {
      pages[page - 1] = record.text;
      drawings[page - 1] = { ...ocrDrawing(record), source: "ocr" };
      done.push(page);
      if (record.words.length > 0 && record.meanConfidence < LOW_OCR_CONFIDENCE) lowConfidencePages.push(page);
    }
  }
  return { pages, drawings, summary: { pages: done, failedPages, lowConfidencePages } };
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
