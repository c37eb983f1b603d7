import type { ChunkItem, S3Location } from "../shared/contracts.ts";
import type { Chunk } from "./chunker.ts";

/**
 * Largest chunk text carried inline in a manifest line, in bytes of its JSON-encoded UTF-8 form. The ItemBatcher
 * puts several items in one child execution's input, which Step Functions caps at 256 KiB, so 32 KiB leaves room for
 * a batch of several items. Larger texts are stored next to the manifest and referenced by `textLocation`.
 */
export const DEFAULT_INLINE_TEXT_LIMIT_BYTES = 32 * 1024;

export function manifestKey(documentId: string): string {
  return `${chunkPrefix(documentId)}manifest.jsonl`;
}

export function chunkTextKey(documentId: string, index: number): string {
  return `${chunkPrefix(documentId)}${index}.txt`;
}

function chunkPrefix(documentId: string): string {
  if (documentId === "") throw new RangeError("documentId must not be empty");
  return `chunks/${documentId}/`;
}

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

/** Turns chunks into the manifest the Distributed Map reads. Pure: the caller does the uploads. */
export function buildManifest(chunks: readonly Chunk[], options: ManifestOptions): Manifest {
  const { documentId, bucket } = options;
  const limit = options.inlineTextLimitBytes ?? DEFAULT_INLINE_TEXT_LIMIT_BYTES;
  const items: ChunkItem[] = [];
  const largeTexts: LargeChunkText[] = [];
  for (const chunk of chunks) {
    const item: ChunkItem = {
      documentId,
      index: chunk.index,
      pageStart: chunk.pageStart,
      pageEnd: chunk.pageEnd,
      tokenCount: chunk.tokenCount,
    };
    if (inlineBytes(chunk.text) <= limit) {
      item.text = chunk.text;
    } else {
      const location = { bucket, key: chunkTextKey(documentId, chunk.index) };
      item.textLocation = location;
      largeTexts.push({ location, text: chunk.text });
    }
    items.push(item);
  }
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
