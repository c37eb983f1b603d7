import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { DocumentInputError } from "../functions/shared/errors.ts";
import { chunkOrPlanDocument, type OcrNeeded } from "../functions/chunk/chunk-document.ts";
import { assembleOcrPages, hybridPagesOf, missingPage } from "../functions/chunk/ocr-plan.ts";
import { ocrPages, type OcrInput } from "../functions/ocr/ocr-pages.ts";
import { regionsByPage } from "../functions/ocr/regions.ts";
import type { DocumentLayout, OcrMode, OcrPageRecord, OcrSummary, PageDrawing } from "../functions/shared/contracts.ts";
import { imageFormatOf } from "../functions/shared/image-format.ts";
import type { IsolatedExtractor } from "../functions/chunk/isolated-extract.ts";
import { checkByteSize, type ChunkLimits } from "../functions/chunk/limits.ts";
import type { TokenCounter } from "../functions/chunk/tokenizer.ts";

/**
 * Chunks a local file the way the chunk function chunks an upload, without S3: for `npm run chunk` and the chunker
 * benchmark. A DocumentInputError becomes an "error" outcome with its code; anything else is a bug and propagates.
 */
export interface ChunkOutcome {
  file: string;
  status: "ok" | "error";
  code?: string;
  message?: string;
  bytes: number;
  pages: number;
  chunks: number;
  tokens: number;
  ms: number;
  /** With `withChunks`: each chunk as the inference function receives it. */
  chunkList?: InspectedChunk[];
  /** With `withChunks`: each page's text as the chunk step has it, and where it came from. */
  pageList?: InspectedPage[];
  /** A document with OCR'd pages: which pages OCR read, which failed, which read with low confidence. */
  ocr?: Omit<OcrSummary, "usage">;
  /** With `withLayout`: the document layout the chunk step writes beside the manifest (not for a record batch). */
  layout?: DocumentLayout;
}

export interface InspectedPage {
  page: number;
  /** `text layer + OCR of images`: a page with a usable text layer whose images OCR read too (`auto`). */
  source: "text layer" | "OCR" | "text layer + OCR of images";
  /** OCR's mean word confidence, 0–100. */
  meanConfidence?: number;
  text: string;
}

export interface InspectedChunk {
  index: number;
  pageStart: number;
  pageEnd: number;
  recordId?: string;
  tokens: number;
  text: string;
}

export interface InspectSettings {
  maxTokens: number;
  tokenizer: TokenCounter;
  /** Extraction in a worker thread with time and memory bounds, as in the chunk function. */
  extractor: IsolatedExtractor;
  timeoutMs: number;
  /** Return the chunks themselves too (`npm run chunk -- --text`). */
  withChunks?: boolean;
  /** Return the document layout too (`npm run ground`). */
  withLayout?: boolean;
  /**
   * The chunk function's bounds, applied where it applies them (bytes before reading, pages before extraction, records
   * while reading, chunks while chunking). Default: none.
   */
  limits?: Pick<ChunkLimits, "maxBytes" | "maxPages" | "maxChunks" | "maxRecordBytes" | "dropRunningHeaders">;
  /** Which pages are OCR'd (default `auto`, as the chunk step), and how: the OCR function's settings. */
  ocrMode?: OcrMode;
  ocr?: { dpi: number; maxPixels: number; language: string; pageTimeoutMs: number; concurrency: number };
}

/** The OCR function's defaults (functions/ocr/config.ts), for a local run. */
export const localOcrSettings = { dpi: 300, maxPixels: 40_000_000, language: "eng", pageTimeoutMs: 120_000, concurrency: 1 };

export async function chunkFile(file: string, settings: InspectSettings): Promise<ChunkOutcome> {
  const { limits } = settings;
  const started = performance.now();
  let bytes: Buffer | undefined;
  try {
    // As the handler checks the object's size before downloading it.
    if (limits) checkByteSize((await stat(file)).size, limits, "file size");
    bytes = await readFile(file);
    const chunkSettings = {
      documentId: "local",
      sourceKey: basename(file),
      bucket: "local",
      maxTokens: settings.maxTokens,
      tokenizer: settings.tokenizer,
      ...(limits ? { maxChunks: limits.maxChunks, maxRecordBytes: limits.maxRecordBytes } : {}),
    };
    let pageList: InspectedPage[] | undefined;
    let ocr: Omit<OcrSummary, "usage"> | undefined;
    let result = await chunkOrPlanDocument(new Uint8Array(bytes), {
      ...chunkSettings,
      ocrMode: settings.ocrMode ?? "auto",
      extract: (body, hint) =>
        settings.extractor.extract(body, {
          key: hint.key,
          keepTextlessPages: hint.keepTextlessPages,
          findImageRegions: hint.findImageRegions,
          timeoutMs: settings.timeoutMs,
          ...(limits ? { maxPages: limits.maxPages, dropRunningHeaders: limits.dropRunningHeaders } : {}),
        }),
    });
    if ("ocr" in result) {
      // What the OCR Map and the second chunk run do on AWS, here in this process.
      const assembled = await ocrLocally(bytes, basename(file), result, settings.ocr ?? localOcrSettings);
      ocr = assembled.summary;
      pageList = assembled.pageList;
      result = await chunkOrPlanDocument(new Uint8Array(0), { ...chunkSettings, pages: assembled.pages, drawings: assembled.drawings });
      if ("ocr" in result) throw new Error("unreachable: assembled pages are never planned for OCR again");
    } else if (settings.withChunks && result.pageTexts) {
      pageList = result.pageTexts.map((text, i) => ({ page: i + 1, source: "text layer", text }));
    }
    const ms = Math.round(performance.now() - started);
    // A chunk too large for the Map's item payload travels as an S3 pointer: its text is among the large texts.
    const largeText = new Map(result.manifest.largeTexts.map(({ location, text }) => [location.key, text]));
    const chunkList = settings.withChunks
      ? result.manifest.items.map((item) => ({
          index: item.index,
          pageStart: item.pageStart,
          pageEnd: item.pageEnd,
          ...(item.recordId === undefined ? {} : { recordId: item.recordId }),
          tokens: item.tokenCount,
          text: item.text ?? largeText.get(item.textLocation?.key ?? "") ?? "",
        }))
      : undefined;
    return {
      file,
      status: "ok",
      bytes: bytes.byteLength,
      pages: result.pageCount,
      chunks: result.chunkCount,
      tokens: result.tokenCount,
      ms,
      ...(chunkList ? { chunkList } : {}),
      ...(settings.withChunks && pageList ? { pageList } : {}),
      ...(ocr ? { ocr } : {}),
      ...(settings.withLayout && result.layout ? { layout: result.layout } : {}),
    };
  } catch (error) {
    if (!(error instanceof DocumentInputError)) throw error;
    return {
      file,
      status: "error",
      code: error.code,
      message: error.message,
      bytes: bytes?.byteLength ?? 0,
      pages: 0,
      chunks: 0,
      tokens: 0,
      ms: Math.round(performance.now() - started),
    };
  }
}

/** OCRs the planned pages in this process and assembles the document's pages, as the second chunk run does. */
async function ocrLocally(
  bytes: Uint8Array,
  key: string,
  needed: OcrNeeded,
  options: NonNullable<InspectSettings["ocr"]>,
): Promise<{ pages: string[]; drawings: Array<PageDrawing | undefined>; summary: Omit<OcrSummary, "usage">; pageList: InspectedPage[] }> {
  const format = imageFormatOf(key);
  const input: OcrInput = format === undefined ? { kind: "pdf", bytes } : { kind: "image", format, bytes };
  const { textLayer } = needed.ocr;
  const { outcomes } = await ocrPages(
    input,
    textLayer.ocrPages,
    { ...options, deadline: Number.MAX_SAFE_INTEGER },
    regionsByPage(textLayer.regions),
  );
  const records = new Map<number, OcrPageRecord>(
    outcomes.map((outcome) => [
      outcome.page,
      "error" in outcome ? outcome : { ...outcome, ms: outcome.renderMs + outcome.recognizeMs },
    ]),
  );
  const { pages, drawings, summary } = assembleOcrPages(textLayer, records, (page) => missingPage(page, "not OCR'd"));
  const hybrid = hybridPagesOf(textLayer);
  const pageList = pages.map((text, i): InspectedPage => {
    const record = records.get(i + 1);
    if (!record || "error" in record) return { page: i + 1, source: "text layer", text };
    const source = hybrid.has(i + 1) ? "text layer + OCR of images" : "OCR";
    return { page: i + 1, source, meanConfidence: Math.round(record.meanConfidence), text };
  });
  return { pages, drawings, summary, pageList };
}
