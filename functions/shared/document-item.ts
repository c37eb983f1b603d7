import type { DocumentCost } from "./cost.ts";
/**
 * The contract with downstream consumers: the items of the documents table, as its stream delivers them.
 * docs/stream-contract.md explains it; functions/shared/document-item.schema.json is the same contract as JSON Schema
 * (a test keeps the two in step with real items). Changes are additive within a `contractVersion`.
 */

/**
 * The uploaded object a workflow execution processes. Written by the start function into the execution input; the
 * item carries it as `source`. Here rather than in contracts.ts so the consumers' contract does not import the workflow's.
 */
export interface DocumentSource {
  bucket: string;
  key: string;
  /** S3 version id when the bucket is versioned. */
  versionId?: string;
  etag: string;
  size: number;
  /** S3's event sequencer for this object version (hex), when the event has one. */
  sequencer?: string;
}

/** Bumped only for a change that could break a consumer (a field removed, renamed or given another meaning). */
export const documentItemContractVersion = 1;

export type DocumentStatus = "PROCESSING" | "COMPLETED" | "PARTIAL" | "FAILED";

/**
 * document: one uploaded document (PDF, text). batch: a record batch upload (.jsonl, .csv) — its counts per record
 * status; record: one record of a batch, with its own result.
 */
export type DocumentItemKind = "document" | "batch" | "record";

export interface PageRange {
  start: number;
  end: number;
}

/** Where a merged value came from. */
export interface Provenance {
  /** Chunk indexes (0-based, ascending). */
  chunks: number[];
  /** 1-based page ranges those chunks cover (consecutive ranges joined). */
  pages: PageRange[];
}

/** Chunks that disagreed about a field; the merge kept `chosen`. */
export interface MergeConflict {
  path: string;
  strategy: "first" | "last" | "concat" | "union" | "sum" | "max" | "min" | "vote";
  reason: "disagreement" | "key-collision" | "over-limit";
  chosen: unknown;
  candidates: Array<{ value: unknown; chunks: number[] }>;
}

/**
 * How a value was found in the document text it was extracted from (functions/merge/grounding.ts): `exact`;
 * `normalised` (case, spaces, Unicode forms, hyphenation, a number or date in another written form); `fuzzy` (token
 * alignment at or above the documented similarity); `none` (not found: the model may have made it up); `ungroundable`
 * (enums, booleans, free summaries: values that need not appear as written).
 */
export type GroundingMatch = "exact" | "normalised" | "fuzzy" | "none" | "ungroundable";

/** A rectangle on a page, in PDF points (1/72 inch) from the page's top-left corner, as the page is shown. */
export interface PageBox {
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a value is in the document. */
export interface FieldGrounding {
  match: GroundingMatch;
  /** 1-based page of the quote's start. */
  page?: number;
  /**
   * The quote's span in the document text (UTF-16 code units): the chunks' source text (ChunkItem), kept beside the
   * chunks in S3 (`chunks/<document id>/layout.json`, `text`) as long as they are.
   */
  charStart?: number;
  charEnd?: number;
  /** The quote itself (at most 200 characters), so the item stays readable after the chunks expire. */
  quote?: string;
  /** Where the quote is drawn; empty when the page has no positions for it (a .txt upload). */
  boxes?: PageBox[];
  /** Fuzzy matches: the token similarity (0-1). */
  similarity?: number;
  /**
   * Set when the schema requires grounding (`x-grounding: "required"`) and the value was not found: the result holds
   * `null` instead, and this keeps what the model gave.
   */
  rejected?: { value: unknown; reason: "ungrounded" };
}

/** Why an item needs a person's look. */
export type ReviewReasonCode =
  | "ungrounded"
  | "rejected"
  | "low-confidence"
  | "conflict"
  | "failed-chunks"
  | "failed-pages"
  | "low-confidence-ocr";

export interface ReviewReason {
  code: ReviewReasonCode;
  /** The field path, for field reasons. */
  path?: string;
  /** Pages concerned (OCR reasons). */
  pages?: number[];
  /** Chunk indexes concerned (failed chunks). */
  chunks?: number[];
  /** Low confidence: the field's confidence and the schema's threshold. */
  confidence?: number;
  threshold?: number;
}

export interface FailedChunk {
  index: number;
  /** The record the chunk belongs to, in a record batch. */
  recordId?: string;
  /** The part that failed, when the chunk was split. */
  part?: string;
  /** The error's stable name: DeadlineExceeded, OutputTruncated, ModelOutputError, ChunkTooLarge, States.Timeout, ... */
  error: string;
  cause?: string;
}

export interface DocumentItem {
  /** Partition key. A document's id is stable across versions of its S3 key; a record's is `<batch id>#<record id>`. */
  documentId: string;
  kind: DocumentItemKind;
  contractVersion: number;
  status: DocumentStatus;
  /** +1 on every write of the item: a consumer keeps the highest it has seen and ignores older images. */
  version: number;
  /** The S3 object version: bucket, key, versionId (versioned buckets), etag, size, sequencer (S3's, hex). */
  source: DocumentSource & {
    /** Pages of the document; for a record batch, its records. Known once the document is chunked. */
    pages?: number;
  };
  /**
   * Order of the source version: the S3 sequencer right-padded to a fixed width, so a string comparison orders versions
   * of one key. A write from an execution of an older version never replaces a newer one.
   */
  sourceOrder: string;
  /** The execution that wrote this version of the item; only it may update the item. */
  executionArn: string;
  schemaId: string;
  modelId?: string;
  /** The merged JSON, valid against the schema. Absent when it is in S3 (`resultLocation`) and until the merge. */
  result?: Record<string, unknown>;
  /** Set instead of `result`, `provenance`, `conflicts`, `failedChunks`, `grounding` and `confidence` when they would not fit in a DynamoDB item (400 KB). */
  resultLocation?: { bucket: string; key: string; bytes: number };
  /** Per field path with a value: which chunks and pages it came from. */
  provenance?: Record<string, Provenance>;
  conflicts?: MergeConflict[];
  /** Per field path with a value (as `provenance`): where the value is in the document (functions/merge/grounding.ts). */
  grounding?: Record<string, FieldGrounding>;
  /** Per field path with a value: how far to trust it, 0-1 (docs/stream-contract.md#confidence gives the formula). */
  confidence?: Record<string, number>;
  /** A finished document's or record's item: whether a person should check it, and why (`reviewReasons`). */
  needsReview?: boolean;
  reviewReasons?: ReviewReason[];
  /** The document's review page (HTML: its pages with a box over each grounded value), written after the merge. */
  reviewPage?: { bucket: string; key: string };
  /** Chunk counts, from when chunking ends: succeeded + failed = total once the item is COMPLETED/PARTIAL/FAILED by the merge. */
  chunks?: { total: number; succeeded: number; failed: number };
  failedChunks?: FailedChunk[];
  /**
   * A document with OCR'd pages (a scan, an image upload, pages without a usable text layer): the pages OCR read,
   * those whose OCR failed (OCR_FAILED, OCR_TIMEOUT; they count against the tolerance, and make the item PARTIAL), and
   * those read with a mean word confidence under 60 (worth a look). Each page's words, boxes and confidences are kept
   * beside the chunks in S3 (`chunks/<document id>/ocr/`).
   */
  ocr?: {
    pages: number[];
    failedPages: Array<{ page: number; error: "OCR_FAILED" | "OCR_TIMEOUT"; message: string }>;
    lowConfidencePages: number[];
  };
  /** A batch's records by status. */
  records?: { total: number; completed: number; partial: number; failed: number };
  /** A record item: its batch's item id and its record id. */
  batchId?: string;
  recordId?: string;
  /** FAILED: the error's stable name and its message. */
  error?: string;
  cause?: string;
  timings: {
    startedAt: string;
    /** When the chunk count was recorded: in PROCESSING items (the final write replaces timings). */
    chunkedAt?: string;
    completedAt?: string;
    totalMs?: number;
    chunkingMs?: number;
    /** Sum of the chunks' inference times (they run in parallel: not wall time). */
    inferenceMs?: number;
  };
  tokens?: number;
  /**
   * A document's or batch's item, when finished: what it cost, from the functions' billed durations, the workflow's
   * state transitions and its requests, at the dated prices of functions/shared/cost.ts (docs/cost.md).
   */
  cost?: DocumentCost;
  updatedAt: string;
}

/**
 * What a finished execution writes and a new one must not inherit: removed when an execution takes the item over
 * (the workflow's "Mark document processing") and when the merge writes an item without them.
 */
export const resultAttributes = [
  "modelId",
  "result",
  "resultLocation",
  "provenance",
  "conflicts",
  "grounding",
  "confidence",
  "needsReview",
  "reviewReasons",
  "reviewPage",
  "chunks",
  "failedChunks",
  "ocr",
  "records",
  "error",
  "cause",
  "tokens",
  "cost",
] as const satisfies ReadonlyArray<keyof DocumentItem>;

/** The id of a record's item. */
export function recordItemId(batchId: string, recordId: string): string {
  return `${batchId}#${recordId}`;
}

/** Width `sourceOrder` pads sequencers to (S3 sequencers are far shorter). */
export const sourceOrderWidth = 40;

/**
 * A comparable form of an S3 sequencer: upper-case hex, right-padded with zeros to a fixed width (AWS: "right pad the
 * shorter value with zeros, then compare lexicographically"). No sequencer → all zeros: older than any.
 */
export function sourceOrderOf(sequencer: string | undefined): string {
  const hex = (sequencer ?? "").toUpperCase();
  if (!/^[0-9A-F]*$/.test(hex) || hex.length > sourceOrderWidth) {
    throw new TypeError(`S3 sequencer ${JSON.stringify(sequencer)} is not a hex string of at most ${sourceOrderWidth} digits`);
  }
  return hex.padEnd(sourceOrderWidth, "0");
}
