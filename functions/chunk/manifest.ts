import { createHash } from "node:crypto";
import type { ChunkItem, S3Location } from "../shared/contracts.ts";
import type { Chunk } from "./chunker.ts";
import { chunkTextKey, manifestKey } from "../shared/bucket-layout.ts";

/**
 * Largest chunk text carried inline in a manifest line, in bytes of its JSON-encoded UTF-8 form. The ItemBatcher
 * puts several items in one child execution's input, which Step Functions caps at 256 KiB, so 32 KiB leaves room for
 * a batch of several items. Larger texts are stored next to the manifest and referenced by `textLocation`.
 */
export const DEFAULT_INLINE_TEXT_LIMIT_BYTES = 32 * 1024;

/** A chunk text too large to travel inline: upload `text` to `location` (UTF-8, text/plain) before the manifest. */
export interface LargeChunkText {
  location: S3Location;
  text: string;
}

export interface Manifest {
  location: S3Location;
  items: ChunkItem[];
  /** JSON Lines: one ChunkItem per line, each line ending in "\n". */
  body: string;
  largeTexts: LargeChunkText[];
}

export interface ManifestOptions {
  documentId: string;
  /** Bucket the manifest and the large texts are written to. */
  bucket: string;
  inlineTextLimitBytes?: number;
}

/** A chunk of the manifest: a document's chunk, or a record's (with its record id). */
export type ManifestChunk = Chunk & { recordId?: string };

/** Hex digits kept of the SHA-256: 128 bits, collision-free for any realistic number of chunks. */
export const CHUNK_ID_HEX_DIGITS = 32;
const CHUNK_ID_DOMAIN = "llambda-chunk-v1";

/**
 * A chunk's content id (see ChunkItem.chunkId): SHA-256 of `"llambda-chunk-v1\n" + occurrence + "\n" + text` in
 * UTF-8 (a lone surrogate, which UTF-8 cannot hold, as U+FFFD), the first CHUNK_ID_HEX_DIGITS hex digits.
 */
export function chunkIdOf(text: string, occurrence: number): string {
  return createHash("sha256")
    .update(`${CHUNK_ID_DOMAIN}\n${occurrence}\n${text}`, "utf8")
    .digest("hex")
    .slice(0, CHUNK_ID_HEX_DIGITS);
}

/**
 * Turns chunks (in manifest order) into the manifest the Distributed Map reads. Pure: the caller does the uploads.
 * Each item's `index` is its position in `chunks` (a document's chunks already have it; a record batch's chunks are
 * numbered across the batch).
 */
export function buildManifest(chunks: readonly ManifestChunk[], options: ManifestOptions): Manifest {
  const { documentId, bucket } = options;
  const limit = options.inlineTextLimitBytes ?? DEFAULT_INLINE_TEXT_LIMIT_BYTES;
  const items: ChunkItem[] = [];
  const largeTexts: LargeChunkText[] = [];
  // Occurrences of each text so far, keyed by its hash with occurrence 0 (texts themselves would hold the batch twice).
  const seen = new Map<string, number>();
  chunks.forEach((chunk, index) => {
    const firstId = chunkIdOf(chunk.text, 0);
    const occurrence = seen.get(firstId) ?? 0;
    seen.set(firstId, occurrence + 1);
    const item: ChunkItem = {
      documentId,
      index,
      chunkId: occurrence === 0 ? firstId : chunkIdOf(chunk.text, occurrence),
      pageStart: chunk.pageStart,
      pageEnd: chunk.pageEnd,
      charStart: chunk.charStart,
      charEnd: chunk.charEnd,
      ...(chunk.recordId === undefined ? {} : { recordId: chunk.recordId }),
      tokenCount: chunk.tokenCount,
    };
    if (inlineBytes(chunk.text) <= limit) {
      item.text = chunk.text;
    } else {
      const location = { bucket, key: chunkTextKey(documentId, index) };
      item.textLocation = location;
      largeTexts.push({ location, text: chunk.text });
    }
    items.push(item);
  });
  return {
    location: { bucket, key: manifestKey(documentId) },
    items,
    body: toJsonLines(items),
    largeTexts,
  };
}

/** Size the text adds to an item's payload: its JSON string literal (escapes included) in UTF-8. */
export function inlineBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), "utf8");
}

export function toJsonLines(items: readonly ChunkItem[]): string {
  return items.map((item) => `${JSON.stringify(item)}\n`).join("");
}
