import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { DocumentInputError } from "../functions/shared/errors.ts";
import { chunkDocument } from "../functions/chunk/chunk-document.ts";
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
  /**
   * The chunk function's bounds, applied where it applies them (bytes before reading, pages before extraction, records
   * while reading, chunks while chunking). Default: none.
   */
  limits?: Pick<ChunkLimits, "maxBytes" | "maxPages" | "maxChunks" | "maxRecordBytes" | "dropRunningHeaders">;
}

export async function chunkFile(file: string, settings: InspectSettings): Promise<ChunkOutcome> {
  const { limits } = settings;
  const started = performance.now();
  let bytes: Buffer | undefined;
  try {
    // As the handler checks the object's size before downloading it.
    if (limits) checkByteSize((await stat(file)).size, limits, "file size");
    bytes = await readFile(file);
    const result = await chunkDocument(new Uint8Array(bytes), {
      documentId: "local",
      sourceKey: basename(file),
      bucket: "local",
      maxTokens: settings.maxTokens,
      tokenizer: settings.tokenizer,
      ...(limits ? { maxChunks: limits.maxChunks, maxRecordBytes: limits.maxRecordBytes } : {}),
      extract: (body, hint) =>
        settings.extractor.extract(body, {
          key: hint.key,
          keepTextlessPages: hint.keepTextlessPages,
          timeoutMs: settings.timeoutMs,
          ...(limits ? { maxPages: limits.maxPages, dropRunningHeaders: limits.dropRunningHeaders } : {}),
        }),
    });
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
