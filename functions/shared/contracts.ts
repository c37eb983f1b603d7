import type { WorkflowTransitionCounts } from "./cost.ts";
import type { DocumentSource } from "./document-item.ts";
import type { OcrPageCode } from "./errors.ts";
import type { ImageFormat } from "./image-format.ts";
import type { FunctionUsage } from "./invocation-usage.ts";
import type { RejectedRecord } from "./record-format.ts";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

/**
 * The data that crosses state boundaries in the document workflow. Every handler, the workflow definition and the
 * local twin agree on these shapes; change them here and the type checker finds every use.
 */

/** Execution input, built by functions/start from the S3 "Object Created" event. */
export interface WorkflowInput {
  documentId: string;
  /** The extraction schema, chosen by the upload's key prefix (functions/start/schema-routing.ts). */
  schemaId: string;
  /** The item's kind: `batch` for a record batch upload (.jsonl, .ndjson, .csv), else `document`. */
  kind: "document" | "batch";
  source: DocumentSource;
  /** `sourceOrderOf(source.sequencer)`: orders versions of the key in the item's conditional writes. */
  sourceOrder: string;
  /**
   * `source` as a DynamoDB map attribute value, for the workflow's direct DynamoDB writes: ASL cannot leave out the
   * fields (versionId, sequencer) that some objects lack.
   */
  sourceAttribute: { M: Record<string, AttributeValue> };
  /** Which pages are OCR'd, chosen by the upload's key prefix (functions/start/ocr-routing.ts). */
  ocrMode: OcrMode;
}

/**
 * `auto`: pages without a usable text layer (functions/chunk/text-layer.ts) and image uploads are OCR'd, and the
 * pictures on pages with one (functions/chunk/image-regions.ts); `scans`: the same without the pictures (a document
 * with a usable text layer never takes the OCR detour); `always`: every page of a PDF, whole; `never`: none (a scan
 * ends NO_TEXT_LAYER).
 */
export type OcrMode = "auto" | "scans" | "always" | "never";
export const ocrModes: readonly OcrMode[] = ["auto", "scans", "always", "never"];

/**
 * Input of the Chunk document task: the document and its source, from the execution input. The task runs once for a
 * document with text; for one with pages to OCR it runs twice: first it plans the OCR (output `ocrPlan`), then, after
 * the OCR Distributed Map, it chunks the assembled pages (input `ocr`).
 */
export type ChunkTaskInput = Pick<WorkflowInput, "documentId" | "source"> & {
  /** From the execution input; absent (a direct invocation): `auto`. */
  ocrMode?: OcrMode;
  /** The execution's ARN (`$$.Execution.Id`), when the workflow passes it: the logs' `execution` key. */
  executionId?: string;
  /** The second run: the plan the first run made and the OCR Map Run's results. */
  ocr?: { plan: OcrPlan; mapRun: MapRunOutput; planUsage?: FunctionUsage };
  /** Share of OCR'd pages (percent) that may fail with the document going on (ending PARTIAL); default 0. */
  toleratedFailurePercentage?: number;
};

/** The chunk task's first output for a document with pages to OCR: what the OCR Distributed Map works through. */
export interface OcrPlan {
  /** JSONL of OcrPageGroup, one line per OCR invocation's pages (the OCR Map's ItemReader). */
  pageGroups: S3Location;
  /** OcrTextLayer: every page's text-layer text and the pages to OCR. */
  textLayer: S3Location;
  /** `pdf`, or the image upload's format. */
  format: "pdf" | ImageFormat;
  pageCount: number;
  ocrPageCount: number;
}

/** What the chunk task returns when the document's pages must be OCR'd first. */
export interface OcrPlanOutput {
  ocrPlan: OcrPlan;
  pageCount: number;
  ms: number;
  usage?: FunctionUsage;
}

/** The text layer the first chunk run found, stored for the second. */
export interface OcrTextLayer {
  /** Text of each page (1-based page n at index n-1); "" for a page without text. */
  pages: string[];
  /** 1-based pages to OCR, ascending. */
  ocrPages: number[];
  /** A PDF's pages as drawn (size, text-layer runs), for the document layout of the second run; absent for an image. */
  drawings?: PageDrawing[];
  /**
   * Pages of `ocrPages` whose text layer is usable but that paint images (functions/chunk/image-regions.ts): OCR reads
   * only these regions, and the page keeps its text-layer text with the regions' text after it. Absent: none.
   */
  regions?: OcrPageRegions[];
}

/** A region of a page for OCR to read: [x0, y0, x1, y1] in PDF points from the page's top-left corner, as shown. */
export type OcrRegion = [number, number, number, number];

/** The regions OCR reads on one page (the rest of the page is read from its text layer). */
export interface OcrPageRegions {
  page: number;
  boxes: OcrRegion[];
}

/** One line of the OCR plan: pages one OCR invocation works on. */
export interface OcrPageGroup {
  pages: number[];
  /** Pages of `pages` OCR reads only inside these regions; a page not listed is read whole. Absent: every page whole. */
  regions?: OcrPageRegions[];
}

/** What one OCR Distributed Map child execution's invocation receives (ItemBatcher of one group). */
export interface OcrBatchInput {
  Items: OcrPageGroup[];
  BatchInput: OcrBatchContext;
  /** The child execution's earlier invocations, as billed. */
  usage?: FunctionUsage;
}

export interface OcrBatchContext {
  documentId: string;
  source: DocumentSource;
  executionId?: string;
}

/** The OCR function's output: pages left for a fresh invocation (as `Items`), and usage so far. */
export interface OcrBatchOutput {
  Items: OcrPageGroup[];
  BatchInput: OcrBatchContext;
  /** Pages this child execution finished (with text, blank, or failed), for the logs and the console. */
  pagesDone: number;
  usage: FunctionUsage;
}

/** A word OCR found: its text, confidence (0–100) and box in the page image's pixels. */
export interface OcrWord {
  text: string;
  confidence: number;
  box: { x0: number; y0: number; x1: number; y1: number };
}

/**
 * One page's OCR result, stored at `ocrPageKey` (functions/shared/bucket-layout.ts): the text, each word with its
 * box and confidence (for grounding extracted values on the page), or the page's error.
 */
export type OcrPageRecord =
  | {
      page: number;
      text: string;
      words: OcrWord[];
      /** Mean confidence of the page's words, 0–100 (0 without words). */
      meanConfidence: number;
      /** The image the boxes refer to: its size in pixels and resolution. */
      width: number;
      height: number;
      dpi: number;
      ms: number;
    }
  | { page: number; error: OcrPageCode; message: string };

/** A page whose OCR failed, as the item lists it. */
export interface OcrFailedPage {
  page: number;
  error: OcrPageCode;
  message: string;
}

/** What OCR did for a document: on the chunk task's output, and on the item. */
export interface OcrSummary {
  /** Pages OCR'd with a result (text, or found blank), ascending. */
  pages: number[];
  /** Pages whose OCR failed (their text layer, if any, is used). */
  failedPages: OcrFailedPage[];
  /** OCR'd pages whose mean word confidence is below LOW_OCR_CONFIDENCE: their text deserves a look. */
  lowConfidencePages: number[];
  /** The OCR function's invocations, as billed (for the document's cost). */
  usage?: FunctionUsage;
}

/** A run of text as drawn on a page: its text and its box [x0, y0, x1, y1] in PDF points from the top-left corner. */
export interface LayoutRun {
  text: string;
  box: [number, number, number, number];
  /** OCR'd words: Tesseract's word confidence, 0-100. */
  confidence?: number;
}

/** A page of the document text, and where its text is drawn. */
export interface LayoutPage {
  /** 1-based. */
  page: number;
  /** The page's span in `DocumentLayout.text` (UTF-16). */
  charStart: number;
  charEnd: number;
  /** Size as shown (rotation applied), PDF points; an image's pixels at the resolution it states (300 dpi when none, as OCR reads it). */
  width: number;
  height: number;
  source: "text-layer" | "ocr";
  /** Text items of the text layer, or OCR'd words; in reading order as found. Empty for a text upload. */
  runs: LayoutRun[];
}

/** A page's size as shown and its runs, before its place in the document text is known (the chunk step's extraction). */
export type PageDrawing = Pick<LayoutPage, "width" | "height" | "source" | "runs">;

/** A chunk's span in the text its offsets refer to (a document's text, or a record's). */
export interface LayoutChunk {
  index: number;
  charStart: number;
  charEnd: number;
}

/**
 * What grounding needs from the chunk step, written beside the chunks (`chunks/<document id>/layout.json`): the source
 * text the chunks' offsets refer to, its pages with their runs, and each chunk's span. A record batch writes a
 * RecordBatchLayout at that key instead.
 */
export interface DocumentLayout {
  version: 1;
  text: string;
  pages: LayoutPage[];
  chunks: LayoutChunk[];
}

/**
 * A record batch's layout, at the key a document's would have (`layoutKey` of the batch id), told apart by `kind`:
 * each record's text as the model saw it (the text field's value, which its chunks' offsets refer to) and its chunks'
 * spans, in record order; records rejected for their id (no chunks) are left out. Never one document: the merge makes
 * one DocumentLayout per record of it (functions/shared/record-batch-layout.ts).
 */
export interface RecordBatchLayout {
  version: 1;
  kind: "records";
  records: Array<{ recordId: string; text: string; chunks: LayoutChunk[] }>;
}

/** What `layoutKey` holds: a document's layout, or a record batch's (`kind: "records"`). */
export type StoredLayout = DocumentLayout | RecordBatchLayout;

/** A pointer to an S3 object. */
export interface S3Location {
  bucket: string;
  key: string;
}

/**
 * One unit of inference work: a line of the JSONL chunk manifest that the Distributed Map's ItemReader reads.
 *
 * The text a chunk's offsets refer to ("the source text"):
 * - a document (PDF, .txt, .md): its extracted pages joined with a blank line, `pages.join("\n\n")`
 *   (functions/chunk/document-text.ts `documentText`), pages as the text extractor returns them;
 * - a record of a record batch (`recordId` set): the record's text field value, exactly as parsed (JSON string value,
 *   or CSV field with its quoting undone).
 * Invariant: `sourceText.slice(charStart, charEnd) === text` (the text inline or at `textLocation`).
 */
export interface ChunkItem {
  documentId: string;
  /** 0-based position of the chunk in the manifest (the document, or the whole record batch); results are merged in this order. */
  index: number;
  /**
   * Content id: the first 32 hex digits (128 bits) of the SHA-256 of the UTF-8 bytes of
   * `"llambda-chunk-v1\n" + occurrence + "\n" + text`, where `occurrence` is the number of earlier items of the same
   * manifest with exactly the same text (0 for the first). The same bytes chunked with the same settings give the same
   * ids; ids are unique within a manifest; a chunk with the same text in another document (or record) has the same id
   * when it is that text's first occurrence there (the id names content, not a place: (documentId, chunkId) does).
   */
  chunkId: string;
  /** 1-based, inclusive page range the chunk's text comes from (overlap included); 1-1 for a record's chunks. */
  pageStart: number;
  pageEnd: number;
  /** Start (inclusive) and end (exclusive) of the chunk's text in the source text, in UTF-16 code units. */
  charStart: number;
  charEnd: number;
  /**
   * Set for the chunks of a record batch (a `.jsonl`/`.csv` upload): the record's id, from its id field when the batch
   * has one, else its 1-based record number (JSONL: line number; CSV: data row number, header excluded).
   */
  recordId?: string;
  /** Token count by the chunker's tokenizer (tiktoken); an estimate for the model's own tokenizer. */
  tokenCount: number;
  /** The chunk text inline, or `textLocation` when it is too large to travel in the Map's item payload. */
  text?: string;
  textLocation?: S3Location;
  /**
   * Set on a part of a chunk that was split because it could not be extracted in one piece (DeadlineExceeded or
   * ChunkTooLarge): the path of halves from the original chunk, e.g. "1" and "2", then "1.1", "1.2". `charStart`/`charEnd`
   * and `text` are the part's; `index`, `chunkId` and the page range stay the original chunk's.
   */
  part?: string;
  /** With `textLocation`: the part's range within that object's text (UTF-16 code units), when it is a split part. */
  textRange?: { start: number; end: number };
  /** Set when the chunk is retried after OutputTruncated: the larger answer budget, tokens. Retried once only. */
  outputTokens?: number;
}

/** Output of the Chunk document task. */
export interface ChunkTaskOutput {
  manifest: S3Location;
  chunkCount: number;
  /** Pages of the document; for a record batch, the number of records (each record is one page). */
  pageCount: number;
  /** Set for a record batch: how many records it holds (every record has at least one chunk, but rejected ones). */
  recordCount?: number;
  /**
   * A record batch's records whose id cannot be a key (at most 100; functions/chunk/records.ts): no chunks; the merge
   * writes each as a FAILED record item under its stand-in id.
   */
  rejectedRecords?: RejectedRecord[];
  tokenCount: number;
  /** Milliseconds spent extracting text and chunking. */
  ms: number;
  /** The chunk function's invocation, as billed (for the document's cost); both runs for a document that was OCR'd. */
  usage?: FunctionUsage;
  /** Set for a document with OCR'd pages. */
  ocr?: OcrSummary;
}

/** What one Distributed Map child execution receives from the ItemBatcher. */
export interface InferBatchInput {
  Items: ChunkItem[];
  BatchInput?: BatchInput;
  /** Carried from earlier passes of the same child execution (when parts of chunks were left for a fresh invocation). */
  results?: ChunkResult[];
  failed?: ChunkFailure[];
  /** The child execution's earlier invocations, as billed. */
  usage?: FunctionUsage;
}

/** A chunk (or part of one) that ended with an error the workflow does not retry. */
export interface ChunkFailure {
  documentId: string;
  index: number;
  chunkId?: string;
  recordId?: string;
  part?: string;
  /** The error's stable name (e.g. OutputTruncated, ModelOutputError, DeadlineExceeded) and its message. */
  error: string;
  cause: string;
}

/** Extraction result for one chunk, returned by functions/infer. */
export interface ChunkResult {
  documentId: string;
  index: number;
  /** Copied from the ChunkItem (absent in results of older workers). */
  chunkId?: string;
  /** Copied from the ChunkItem: set for the chunks of a record batch. */
  recordId?: string;
  /** Copied from the ChunkItem: set when the result is for a split part of the chunk. */
  part?: string;
  pageStart: number;
  pageEnd: number;
  /** JSON conforming to the extraction schema. */
  data: Record<string, unknown>;
  /**
   * The model's own probability for each value of `data`, 0–1, per scalar leaf path (`invoice_number`, `lines[0].name`):
   * the geometric mean of the probabilities of the tokens that wrote the value, read while generating
   * (functions/infer/value-confidence.ts; docs/inference.md says what it means). Absent with
   * LLAMBDA_TOKEN_CONFIDENCE=false, and in results of older workers.
   */
  confidence?: Record<string, number>;
  modelId: string;
  /** Prompt tokens evaluated and tokens generated, by the model's tokenizer. */
  tokensIn: number;
  tokensOut: number;
  ms: number;
}

/** Output of one Distributed Map child execution (the infer task's output). */
export interface InferBatchOutput {
  results: ChunkResult[];
  failed: ChunkFailure[];
  /** Chunks, or parts of chunks, still to extract: the workflow invokes the function again with these as `Items`. */
  Items: ChunkItem[];
  BatchInput?: BatchInput;
  /** Every invocation of this child execution so far, as billed (for the document's cost). */
  usage?: FunctionUsage;
}

/** What the Distributed Map's ItemBatcher adds to every batch: the document and its schema. */
export interface BatchInput {
  documentId?: string;
  /** Absent in batches of executions started before schema routing: the function's default schema applies. */
  schemaId?: string;
  /** The execution's ARN (`$$.Execution.Id`), when the workflow passes it: the logs' `execution` key. */
  executionId?: string;
}

/** What the Distributed Map state outputs when it has a ResultWriter (AWS's shape). */
export interface MapRunOutput {
  MapRunArn: string;
  ResultWriterDetails: S3Location & { Bucket?: string; Key?: string };
}

/** Input of the Merge chunk results task. */
export interface MergeTaskInput {
  documentId: string;
  schemaId?: string;
  source: DocumentSource;
  sourceOrder?: string;
  chunking: ChunkTaskOutput;
  mapRun: { ResultWriterDetails: { Bucket: string; Key: string } };
  execution: { id: string; startTime: string };
  /** Share of chunks (percent) that may fail with the document still PARTIAL rather than FAILED; default 0. */
  toleratedFailurePercentage?: number;
  /**
   * The workflow's transition counts, for the document's cost: computed once where the definition is built. Absent in
   * executions started before the workflow passed them (a redrive); the merge then uses the counts of that workflow.
   */
  transitions?: WorkflowTransitionCounts;
}

/**
 * Input of the Write review page task: run after the merge for a document (not a record batch) that ended COMPLETED or
 * PARTIAL. The function reads everything else from the item the execution wrote.
 */
export interface ReviewTaskInput {
  documentId: string;
  /** `$$.Execution.Id`: only the execution that owns the item writes its review page. */
  execution: { id: string };
}

/** Why the review task wrote nothing: no item, another execution owns it, or it points to no review page. */
export type ReviewSkipReason = "no-item" | "not-owner" | "no-review-page" | "not-finished";

/** Output of the Write review page task. */
export type ReviewTaskOutput =
  | {
      written: true;
      bucket: string;
      key: string;
      /** The HTML's size, bytes (page images embedded). */
      bytes: number;
      /** The pages shown, 1-based, ascending. */
      pages: number[];
      /** Set when the pages could not be drawn (the page then lists the fields alone): the error's name and message. */
      renderError?: string;
    }
  | { written: false; reason: ReviewSkipReason };

// The item and its source are the consumers' contract (document-item.ts, a package export); re-exported for the stages.
export type { DocumentItem, DocumentSource, DocumentStatus } from "./document-item.ts";
