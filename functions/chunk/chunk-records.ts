import type { RecordBatchLayout } from "../shared/contracts.ts";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";
import type { RecordFormat, RejectedRecord } from "../shared/record-format.ts";
import { ChunkLimitError, chunkPages } from "./chunker.ts";
import type { ManifestChunk } from "./manifest.ts";
import { forEachRecord, type RecordFieldOptions } from "./records.ts";
import type { TokenCounter } from "./tokenizer.ts";

/** Chunks of a record batch: each record (records.ts) chunked on its own, its chunks carrying its id. */

export interface ChunkRecordsOptions extends RecordFieldOptions {
  maxTokens: number;
  tokenizer: TokenCounter;
  overlapTokens?: number;
  /** Most chunks the whole batch may produce: TOO_LARGE as soon as one more would be made. */
  maxChunks?: number;
}

export interface ChunkedRecords {
  /** In record order, each record's chunks in order; `index` numbers them across the batch. */
  chunks: ManifestChunk[];
  /** Every record of the batch, rejected ones included. */
  recordCount: number;
  /** Records whose id cannot be a key: no chunks, each to be written as a FAILED record (in file order). */
  rejected: RejectedRecord[];
  /** Each chunked record's text and its chunks' spans, written beside the manifest for grounding. */
  layout: RecordBatchLayout;
}

/**
 * Chunks every record of a batch on its own (pages: the record's text as one page, so pageStart = pageEnd = 1; offsets
 * into the record's text). Throws DocumentInputError as parseRecords does, and TOO_LARGE past `maxChunks`.
 */
export function chunkRecords(bytes: Uint8Array, format: RecordFormat, options: ChunkRecordsOptions): ChunkedRecords {
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  // Every record is at least one chunk: more records than chunks allowed is TOO_LARGE while reading.
  const maxRecords = Math.min(options.maxRecords ?? Number.POSITIVE_INFINITY, maxChunks);
  const chunks: ManifestChunk[] = [];
  const rejected: RejectedRecord[] = [];
  const layout: RecordBatchLayout = { version: 1, kind: "records", records: [] };
  let recordCount = 0;
  forEachRecord(bytes, format, { ...options, ...(Number.isFinite(maxRecords) ? { maxRecords } : {}) }, (record) => {
    if (record.rejected) {
      recordCount += 1;
      rejected.push(record.rejected);
      return;
    }
    const remaining = maxChunks - chunks.length;
    if (remaining <= 0) throw tooLarge(maxChunks, options.maxTokens, recordCount);
    let recordChunks;
    try {
      recordChunks = chunkPages([record.text], {
        maxTokens: options.maxTokens,
        tokenizer: options.tokenizer,
        ...(options.overlapTokens === undefined ? {} : { overlapTokens: options.overlapTokens }),
        ...(Number.isFinite(remaining) ? { maxChunks: remaining } : {}),
      });
    } catch (error) {
      if (error instanceof ChunkLimitError) throw tooLarge(maxChunks, options.maxTokens, recordCount, { cause: error });
      throw error;
    }
    recordCount += 1;
    const spans: RecordBatchLayout["records"][number]["chunks"] = [];
    for (const chunk of recordChunks) {
      spans.push({ index: chunks.length, charStart: chunk.charStart, charEnd: chunk.charEnd });
      chunks.push({ ...chunk, index: chunks.length, recordId: record.id });
    }
    // The text as given (chunkPages' text of one page is the page itself): the chunks' offsets are into it.
    layout.records.push({ recordId: record.id, text: record.text, chunks: spans });
  });
  return { chunks, recordCount, rejected, layout };
}

function tooLarge(maxChunks: number, maxTokens: number, records: number, options?: { cause?: unknown }): DocumentInputError {
  return new DocumentInputError(
    DocumentInputCodes.TooLarge,
    `the record batch needs more than ${maxChunks} chunks of at most ${maxTokens} tokens (limit reached after ${records} record(s))`,
    options,
  );
}
