import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";
import { chunkRecords } from "./chunk-records.ts";
import { ChunkLimitError, chunkPages } from "./chunker.ts";
import { buildManifest, type Manifest, type ManifestChunk } from "./manifest.ts";
import { extractDocumentText } from "./pdf-text.ts";
import { recordFormatOf, type RejectedRecord } from "./records.ts";
import type { TokenCounter } from "./tokenizer.ts";

/** Turns document bytes into page texts; throws DocumentInputError when it cannot. */
export type TextExtractor = (bytes: Uint8Array, hint: { key: string }) => Promise<{ pages: string[] }>;

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
  /** Milliseconds spent extracting text and chunking. */
  ms: number;
}

/**
 * The chunk task's domain step, free of I/O: document bytes in, manifest (and the texts to store beside it) out.
 * Throws DocumentInputError when the bytes cannot be turned into text, a record of a batch is bad (BAD_RECORD), or
 * the document needs more than `maxChunks` chunks (TOO_LARGE).
 */
export async function chunkDocument(bytes: Uint8Array, options: ChunkDocumentOptions): Promise<ChunkedDocument> {
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
  const format = recordFormatOf(options.sourceKey);
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
    pageCount = records.recordCount;
  } else {
    const extract = options.extract ?? extractDocumentText;
    const { pages } = await extract(bytes, { key: options.sourceKey });
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
    chunkCount: chunks.length,
    tokenCount: chunks.reduce((sum, chunk) => sum + chunk.tokenCount, 0),
    ms,
  };
}
