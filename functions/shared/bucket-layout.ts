import { createHash } from "node:crypto";

/**
 * The one bucket's layout: its prefixes and the keys built under them. Functions, the stack (grants, lifecycle rules,
 * the upload rule), the workflow (the Distributed Map's ResultWriter) and the twin all read it from here.
 */
export const BucketLayout = {
  /** Users drop documents here; an object created under it starts the workflow. */
  uploadsPrefix: "uploads/",
  /** The chunker's JSONL manifests and large chunk texts: `chunks/<document id>/`. Expire after a week. */
  chunksPrefix: "chunks/",
  /** Distributed Map result files: `map-results/<map run id>/manifest.json`, `SUCCEEDED_0.json`, ... Expire after a week. */
  mapResultsPrefix: "map-results/",
  /** Results too large for their DynamoDB item; kept, never expired. */
  resultsPrefix: "results/",
  /** Review pages, one per document and execution: `reviews/<document id>/<execution name>.html`. Kept, never expired. */
  reviewsPrefix: "reviews/",
} as const;

/** The ResultWriter's `Prefix`: Step Functions adds the "/" and the map run id itself. */
export const mapResultWriterPrefix = BucketLayout.mapResultsPrefix.replace(/\/$/, "");

/** `chunks/<document id>/`: everything the chunker writes for one document. */
export function chunkPrefix(documentId: string): string {
  if (documentId === "") throw new RangeError("documentId must not be empty");
  return `${BucketLayout.chunksPrefix}${documentId}/`;
}

/** The JSONL manifest the Distributed Map's ItemReader reads. */
export function manifestKey(documentId: string): string {
  return `${chunkPrefix(documentId)}manifest.jsonl`;
}

/** A chunk text too large to travel inline in the manifest. */
export function chunkTextKey(documentId: string, index: number): string {
  return `${chunkPrefix(documentId)}${index}.txt`;
}

/** `chunks/<document id>/ocr/`: a scanned document's OCR plan and its pages' OCR results (text, words, boxes). */
export function ocrPrefix(documentId: string): string {
  return `${chunkPrefix(documentId)}ocr/`;
}

/** The JSONL of page groups the OCR Distributed Map's ItemReader reads (one OCR invocation's pages a line). */
export function ocrPageGroupsKey(documentId: string): string {
  return `${ocrPrefix(documentId)}page-groups.jsonl`;
}

/** The pages' text-layer texts and which pages go to OCR, as the chunk step found them. */
export function ocrTextLayerKey(documentId: string): string {
  return `${ocrPrefix(documentId)}text-layer.json`;
}

/** One page's OCR result (functions/shared/contracts.ts OcrPageRecord). */
export function ocrPageKey(documentId: string, page: number): string {
  if (!Number.isInteger(page) || page < 1) throw new RangeError(`page must be a positive integer, got ${page}`);
  return `${ocrPrefix(documentId)}page-${String(page).padStart(5, "0")}.json`;
}

/** The document text, its pages and where their text is drawn (functions/shared/contracts.ts DocumentLayout): for grounding. */
export function layoutKey(documentId: string): string {
  return `${chunkPrefix(documentId)}layout.json`;
}

/** An execution's name, the last part of its ARN: what the keys an execution writes (results, review pages) carry. */
export function executionNameOf(executionArn: string): string {
  return executionArn.split(":").pop() || "execution";
}

/** A document's review page, written after the merge by the execution named. */
export function reviewPageKey(documentId: string, executionName: string): string {
  if (documentId === "") throw new RangeError("documentId must not be empty");
  return `${BucketLayout.reviewsPrefix}${encodeURIComponent(documentId)}/${encodeURIComponent(executionName)}.html`;
}

/** Longest item-key segment of a results key, bytes: within a file name's 255 bytes (the twin's s3rver) and S3's 1,024 per key. */
const MAX_KEY_SEGMENT_BYTES = 200;

/**
 * The S3 key of an item's offloaded result: `results/<item key, URI-encoded>/<execution name>.json`. Encoding keeps
 * the item key one segment whatever a record id holds (`/`, `..`, `%`, `\`): no other prefix, no path traversal. A
 * record's item key can be 2,048 bytes, three times that encoded: when the segment would be over 200 bytes, it is
 * `<batch id>%23sha256-<64 hex of the item key>` instead (the item's `resultLocation` says where; nothing derives it).
 */
export function resultKeyFor(documentId: string, executionName: string): string {
  let segment = encodeURIComponent(documentId);
  if (Buffer.byteLength(segment, "utf8") > MAX_KEY_SEGMENT_BYTES) {
    const batchId = documentId.split("#", 1)[0]!;
    const prefix = batchId.length < documentId.length && batchId.length <= 64 ? `${encodeURIComponent(batchId)}%23` : "";
    segment = `${prefix}sha256-${createHash("sha256").update(documentId, "utf8").digest("hex")}`;
  }
  return `${BucketLayout.resultsPrefix}${segment}/${encodeURIComponent(executionName)}.json`;
}
