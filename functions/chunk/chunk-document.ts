import { chunkPages } from "./chunker.ts";
import { buildManifest, type Manifest } from "./manifest.ts";
import { extractDocumentText } from "./pdf-text.ts";
import type { TokenCounter } from "./tokenizer.ts";

export interface ChunkDocumentOptions {
  documentId: string;
  /** The source object's key: decides between plain text (.txt, .md) and PDF. */
  sourceKey: string;
  /** Bucket the manifest and large chunk texts go to. */
  bucket: string;
  maxTokens: number;
  tokenizer: TokenCounter;
  inlineTextLimitBytes?: number;
}

export interface ChunkedDocument {
  manifest: Manifest;
  pageCount: number;
  chunkCount: number;
  tokenCount: number;
  /** Milliseconds spent extracting text and chunking. */
  ms: number;
}

/**
 * The chunk task's domain step, free of I/O: document bytes in, manifest (and the texts to store beside it) out.
 * Throws DocumentInputError when the bytes cannot be turned into text.
 */
export async function chunkDocument(bytes: Uint8Array, options: ChunkDocumentOptions): Promise<ChunkedDocument> {
  const started = performance.now();
  const { pages } = await extractDocumentText(bytes, { key: options.sourceKey });
  const chunks = chunkPages(pages, { maxTokens: options.maxTokens, tokenizer: options.tokenizer });
  const ms = Math.round(performance.now() - started);
  const manifest = buildManifest(chunks, {
    documentId: options.documentId,
    bucket: options.bucket,
    ...(options.inlineTextLimitBytes === undefined ? {} : { inlineTextLimitBytes: options.inlineTextLimitBytes }),
  });
  return {
    manifest,
    pageCount: pages.length,
    chunkCount: chunks.length,
    tokenCount: chunks.reduce((sum, chunk) => sum + chunk.tokenCount, 0),
    ms,
  };
}
