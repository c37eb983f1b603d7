/**
 * The one builder of the pipeline's items for tests: a chunk item as the chunk function writes it to the manifest, a
 * chunk's result as the inference function returns it, a generic-schema answer and the merge task's input. Each test
 * names the fields it is about and leaves the rest to these defaults.
 */
import type { ChunkItem, ChunkResult, MergeTaskInput } from "../../functions/shared/contracts.ts";

/** A manifest item: chunk `index` of "doc-1", one page, its text from character 0, 10 tokens. */
export function chunkItem(fields: Partial<ChunkItem> & { text: string }): ChunkItem {
  const index = fields.index ?? 0;
  const charStart = fields.charStart ?? 0;
  // A test may leave `text` out (an item whose text is held in S3): then charEnd is the test's own.
  const charEnd = fields.charEnd ?? charStart + (fields.text?.length ?? 0);
  return {
    documentId: "doc-1",
    index,
    chunkId: `c${index}`,
    pageStart: 1,
    pageEnd: 1,
    charStart,
    charEnd,
    tokenCount: 10,
    ...fields,
  };
}

/** The manifest the chunk function writes: one JSON line per item. */
export function manifestJsonl(items: readonly ChunkItem[]): string {
  return items.map((item) => JSON.stringify(item)).join("\n") + "\n";
}

/** A chunk's result: chunk `index` of document "d" on page index + 1, answered by model "m" (10 tokens in, 5 out, 100 ms). */
export function chunkResult(fields: Partial<ChunkResult> & { index: number; data: Record<string, unknown> }): ChunkResult {
  return {
    documentId: "d",
    pageStart: fields.index + 1,
    pageEnd: fields.index + 1,
    modelId: "m",
    tokensIn: 10,
    tokensOut: 5,
    ms: 100,
    ...fields,
  };
}

/** An answer under the generic schema with every field empty, but those given. */
export function genericData(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: null, documentType: "other", summary: "", language: "en", entities: [], dates: [], amounts: [], ...fields };
}

/** The merge task's input for document "d" (uploads/a.pdf, 3 pages) of `chunkCount` chunks, with no failure tolerated. */
export function mergeTaskInput(
  fields: Partial<Omit<MergeTaskInput, "chunking">> & { chunking: Partial<MergeTaskInput["chunking"]> & { chunkCount: number } },
): MergeTaskInput {
  const documentId = fields.documentId ?? "d";
  return {
    toleratedFailurePercentage: 0,
    documentId,
    source: { bucket: "bucket", key: "uploads/a.pdf", etag: "e", size: 5 },
    mapRun: { ResultWriterDetails: { Bucket: "bucket", Key: "unused" } },
    execution: { id: "arn:aws:states:us-east-1:123456789012:execution:wf:x", startTime: "2024-05-01T10:00:00.000Z" },
    ...fields,
    chunking: { manifest: { bucket: "bucket", key: `chunks/${documentId}/manifest.jsonl` }, pageCount: 3, tokenCount: 900, ms: 40, ...fields.chunking },
  };
}
