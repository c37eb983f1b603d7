import type { DocumentLayout, OcrMode, OcrRegion, OcrTextLayer, PageDrawing, RecordBatchLayout } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";
import { imageFormatOf, imagePageCount, type ImageFormat } from "../shared/image-format.ts";
import { chunkRecords } from "./chunk-records.ts";
import { ChunkLimitError, chunkPages } from "./chunker.ts";
import { buildDocumentLayout } from "./document-layout.ts";
import { buildManifest, type Manifest, type ManifestChunk } from "./manifest.ts";
import { pagesToOcr, regionsToOcr } from "./ocr-plan.ts";
import { extractDocumentText } from "./pdf-text.ts";
import { recordFormatOf, type RejectedRecord } from "./records.ts";
import type { TextLayerVerdict } from "./text-layer.ts";
import type { TokenCounter } from "./tokenizer.ts";

/**
 * Turns document bytes into page texts (and, for a PDF, each page's text-layer verdict); throws DocumentInputError
 * when it cannot. `keepTextlessPages`: a PDF without text comes back with empty pages (OCR will read it).
 * `findImageRegions`: a PDF's pages with a usable text layer come with the images OCR should read (`auto`).
 */
export type TextExtractor = (
  bytes: Uint8Array,
  hint: { key: string; keepTextlessPages: boolean; findImageRegions: boolean },
) => Promise<{ pages: string[]; textLayer?: TextLayerVerdict[]; drawings?: PageDrawing[]; imageRegions?: OcrRegion[][] }>;

export interface ChunkDocumentOptions {
  documentId: string;
  /**
   * The source object's key: decides the kind of document by its extension: `.jsonl`/`.ndjson`/`.csv` is a record
   * batch (functions/chunk/records.ts), anything else goes to the text extractor (`.txt`/`.md` plain text, else PDF).
   */
  sourceKey: string;
  /** Bucket the manifest and large chunk texts go to. */
  bucket: string;
  maxTokens: number;
  tokenizer: TokenCounter;
  /** Tokens of the previous chunk's tail each chunk starts with (see ChunkOptions.overlapTokens). Default 0. */
  overlapTokens?: number;
  /**
   * Most chunks the document (or record batch) may produce. Over it, DocumentInputError TOO_LARGE is thrown as soon
   * as the extra chunk would be made, before anything is returned to write. Default: no limit.
   */
  maxChunks?: number;
  /** Text extraction for documents; default extractDocumentText (in process). The handler passes its isolated one. */
  extract?: TextExtractor;
  /** Record batches: the field/column with each record's text (default "text") and id (default "id"). */
  textField?: string;
  idField?: string;
  /** Record batches: largest record, bytes (TOO_LARGE beyond, checked while reading). Default: no limit. */
  maxRecordBytes?: number;
  inlineTextLimitBytes?: number;
  /** Which pages are OCR'd (default `auto`): a document with pages to OCR is not chunked but planned (OcrNeeded). */
  ocrMode?: OcrMode;
  /** The second run after OCR: the document's pages, assembled; the bytes are not read again. */
  pages?: string[];
  /** With `pages`: each page as drawn (text-layer runs or OCR'd words), for the document layout. */
  drawings?: Array<PageDrawing | undefined>;
}

/** A document whose pages must be OCR'd before it can be chunked. */
export interface OcrNeeded {
  ocr: { textLayer: OcrTextLayer; format: "pdf" | ImageFormat; pageCount: number };
  /** Milliseconds spent extracting text and planning. */
  ms: number;
}

export interface ChunkedDocument {
  manifest: Manifest;
  /** Pages of the document; for a record batch, its number of records (each record is one page). */
  pageCount: number;
  /** Set for a record batch: all its records, those in `rejectedRecords` included. */
  recordCount?: number;
  /** A record batch's records whose id cannot be a key (not chunked; the merge writes them as FAILED records). */
  rejectedRecords?: RejectedRecord[];
  chunkCount: number;
  tokenCount: number;
  /** A document's page texts, the text the chunks were cut from (not for a record batch). */
  pageTexts?: string[];
  /** A document's layout (not for a record batch): written beside the manifest for grounding. */
  layout?: DocumentLayout;
  /** A record batch's layout (each record's text and chunk spans), written where a document's would be. */
  batchLayout?: RecordBatchLayout;
  /** Milliseconds spent extracting text and chunking. */
  ms: number;
}

/**
 * A document chunked without OCR: its own text (or, with `pages`, the pages assembled after OCR). A PDF without text
 * ends NO_TEXT_LAYER, an image upload too.
 */
export async function chunkDocument(bytes: Uint8Array, options: Omit<ChunkDocumentOptions, "ocrMode">): Promise<ChunkedDocument> {
  const result = await chunkOrPlanDocument(bytes, { ...options, ocrMode: "never" });
  if ("ocr" in result) throw new Error("unreachable: OCR mode never plans no OCR");
  return result;
}

/**
 * The chunk task's domain step, free of I/O: document bytes in, manifest (and the texts to store beside it) out, or,
 * for a document with pages to OCR (by `ocrMode`), the OCR plan (OcrNeeded).
 * Throws DocumentInputError when the bytes cannot be turned into text, a record of a batch is bad (BAD_RECORD), or
 * the document needs more than `maxChunks` chunks (TOO_LARGE).
 */
export async function chunkOrPlanDocument(bytes: Uint8Array, options: ChunkDocumentOptions): Promise<ChunkedDocument | OcrNeeded> {
  const started = performance.now();
  const settings = {
    maxTokens: options.maxTokens,
    tokenizer: options.tokenizer,
    ...(options.overlapTokens === undefined ? {} : { overlapTokens: options.overlapTokens }),
    ...(options.maxChunks === undefined ? {} : { maxChunks: options.maxChunks }),
  };
  let chunks: ManifestChunk[];
  let pageCount: number;
  let recordCount: number | undefined;
  let rejectedRecords: RejectedRecord[] = [];
  let batchLayout: RecordBatchLayout | undefined;
  let pageTexts: string[] | undefined;
  let drawings: Array<PageDrawing | undefined> | undefined;
  const format = options.pages === undefined ? recordFormatOf(options.sourceKey) : undefined;
  const imageFormat = options.pages === undefined ? imageFormatOf(options.sourceKey) : undefined;
  const ocrMode = options.ocrMode ?? "auto";
  if (imageFormat !== undefined) {
    const pageCount = imagePageCount(bytes, imageFormat);
    if (ocrMode === "never") {
      throw new DocumentInputError(
        DocumentInputCodes.NoTextLayer,
        `the upload is an image (${imageFormat.toUpperCase()}), and OCR is off for it (setting ${EnvNames.ocr}=never, ` +
          "or its upload prefix's OCR mode)",
      );
    }
    const ocrPages = Array.from({ length: pageCount }, (_, i) => i + 1);
    return {
      ocr: { textLayer: { pages: ocrPages.map(() => ""), ocrPages }, format: imageFormat, pageCount },
      ms: Math.round(performance.now() - started),
    };
  }
  if (format !== undefined) {
    const records = chunkRecords(bytes, format, {
      ...settings,
      ...(options.textField === undefined ? {} : { textField: options.textField }),
      ...(options.idField === undefined ? {} : { idField: options.idField }),
      ...(options.maxRecordBytes === undefined ? {} : { maxRecordBytes: options.maxRecordBytes }),
      batchId: options.documentId,
    });
    chunks = records.chunks;
    recordCount = records.recordCount;
    rejectedRecords = records.rejected;
    batchLayout = records.layout;
    pageCount = records.recordCount;
  } else {
    const extract: TextExtractor =
      options.extract ??
      ((data, hint) => extractDocumentText(data, hint, { keepTextlessPages: hint.keepTextlessPages, findImageRegions: hint.findImageRegions }));
    const extracted =
      options.pages === undefined
        ? await extract(bytes, { key: options.sourceKey, keepTextlessPages: ocrMode !== "never", findImageRegions: ocrMode === "auto" })
        : { pages: options.pages, textLayer: undefined, drawings: options.drawings };
    const { pages, textLayer } = extracted;
    drawings = extracted.drawings;
    const imageRegions = "imageRegions" in extracted ? extracted.imageRegions : undefined;
    const ocrPages = textLayer === undefined ? [] : pagesToOcr(textLayer, ocrMode, imageRegions);
    if (ocrPages.length > 0) {
      const kept = extracted.drawings?.every((drawing) => drawing !== undefined) ? (extracted.drawings as PageDrawing[]) : undefined;
      const regions = textLayer === undefined ? [] : regionsToOcr(textLayer, ocrMode, imageRegions);
      return {
        ocr: {
          textLayer: { pages, ocrPages, ...(kept ? { drawings: kept } : {}), ...(regions.length > 0 ? { regions } : {}) },
          format: "pdf",
          pageCount: pages.length,
        },
        ms: Math.round(performance.now() - started),
      };
    }
    if (pages.every((page) => page.trim() === "")) {
      throw new DocumentInputError(DocumentInputCodes.NoTextFound, `none of the ${pages.length} page(s) has any text, OCR included`);
    }
    try {
      chunks = chunkPages(pages, settings);
    } catch (error) {
      if (!(error instanceof ChunkLimitError)) throw error;
      throw new DocumentInputError(
        DocumentInputCodes.TooLarge,
        `the document needs more than ${error.maxChunks} chunks of at most ${options.maxTokens} tokens ` +
          `(${pages.length} page(s); the limit is LLAMBDA_MAX_CHUNKS)`,
        { cause: error },
      );
    }
    pageCount = pages.length;
    pageTexts = pages;
  }
  const ms = Math.round(performance.now() - started);
  const manifest = buildManifest(chunks, {
    documentId: options.documentId,
    bucket: options.bucket,
    ...(options.inlineTextLimitBytes === undefined ? {} : { inlineTextLimitBytes: options.inlineTextLimitBytes }),
  });
  return {
    manifest,
    pageCount,
    ...(recordCount === undefined ? {} : { recordCount }),
    ...(rejectedRecords.length === 0 ? {} : { rejectedRecords }),
    ...(pageTexts === undefined ? {} : { pageTexts, layout: buildDocumentLayout(pageTexts, drawings, manifest.items) }),
    ...(batchLayout === undefined ? {} : { batchLayout }),
    chunkCount: chunks.length,
    tokenCount: chunks.reduce((sum, chunk) => sum + chunk.tokenCount, 0),
    ms,
  };
}
