import type { ChunkResult, DocumentItem, InferBatchInput, InferBatchOutput, MergeTaskInput } from "../shared/contracts.ts";
import { ResultFormatError, TooManyFailedChunksError } from "../shared/errors.ts";
import type { JsonSchemaNode } from "../infer/prompt.ts";
import { parseRecordJson, parseResultFile, parseResultWriterManifest } from "./map-results.ts";
import { compareChunkOrder, mergeChunkResults, mergeRecordResults } from "./merge.ts";

export interface FailedChunk {
  index: number;
  /** The chunk's record, in a record batch. */
  recordId?: string;
  /** The part that failed, when the chunk was split. */
  part?: string;
  error: string;
  cause?: string;
}

export interface MapRunResults {
  results: ChunkResult[];
  failedChunks: FailedChunk[];
}

/** Reads a Map Run's manifest and result files: chunk results of succeeded batches, chunk indexes of failed ones. */
export async function collectMapRunResults(
  bucket: string,
  manifestKey: string,
  readObject: (bucket: string, key: string) => Promise<string>,
): Promise<MapRunResults> {
  const manifest = parseResultWriterManifest(await readObject(bucket, manifestKey));
  const resultBucket = manifest.DestinationBucket || bucket;
  const results: ChunkResult[] = [];
  const failedChunks: FailedChunk[] = [];
  for (const file of manifest.ResultFiles.SUCCEEDED ?? []) {
    for (const record of parseResultFile(await readObject(resultBucket, file.Key), file.Key)) {
      const output = parseRecordJson<InferBatchOutput>(record, "Output");
      if (!Array.isArray(output.results)) {
        throw new ResultFormatError(`Child execution ${record.ExecutionArn} output has no results array`);
      }
      results.push(...output.results);
      // Chunks the inference function gave up on; the rest of their batch succeeded.
      for (const failure of output.failed ?? []) {
        const failed: FailedChunk = { index: failure.index, error: failure.error, cause: failure.cause };
        if (failure.recordId !== undefined) failed.recordId = failure.recordId;
        if (failure.part !== undefined) failed.part = failure.part;
        failedChunks.push(failed);
      }
    }
  }
  // Batches that failed, or never finished, lose all their chunks; their input says which.
  for (const file of [...(manifest.ResultFiles.FAILED ?? []), ...(manifest.ResultFiles.PENDING ?? [])]) {
    for (const record of parseResultFile(await readObject(resultBucket, file.Key), file.Key)) {
      const input = parseRecordJson<InferBatchInput>(record, "Input");
      for (const item of input.Items ?? []) {
        const failed: FailedChunk = { index: item.index, error: record.Error ?? record.Status };
        if (item.recordId !== undefined) failed.recordId = item.recordId;
        if (record.Cause) failed.cause = record.Cause.slice(0, 1000);
        failedChunks.push(failed);
      }
    }
  }
  failedChunks.sort(compareChunkOrder);
  return { results, failedChunks };
}

/**
 * The document item: COMPLETED when every chunk has a result, PARTIAL when some are missing. For a record batch
 * (results with recordId) the result is `{records: [{recordId, data}]}`, one entry per record with any result.
 */
export function buildDocumentItem(args: {
  input: MergeTaskInput;
  collected: MapRunResults;
  schema: JsonSchemaNode;
  schemaId: string;
  now: Date;
}): DocumentItem {
  const { input, collected, now } = args;
  const total = input.chunking.chunkCount;
  const pieces = new Set(collected.results.map((result) => `${result.index}/${result.part ?? ""}`));
  if (pieces.size !== collected.results.length) {
    throw new ResultFormatError("Map Run results contain the same chunk more than once");
  }
  // A split chunk counts as succeeded only when none of its parts failed; its good parts are still merged.
  const failedIndexes = new Set(collected.failedChunks.map((failure) => failure.index));
  const succeeded = new Set(collected.results.map((result) => result.index).filter((index) => !failedIndexes.has(index))).size;
  const failedCount = total - succeeded;
  const tolerated = input.toleratedFailurePercentage ?? 0;
  if (succeeded === 0 || failedCount * 100 > total * tolerated) {
    const first = collected.failedChunks[0];
    throw new TooManyFailedChunksError(
      `${failedCount} of the document's ${total} chunks failed, more than the tolerated ${tolerated}%` +
        (first ? `; first: chunk ${first.index}${first.part ? ` part ${first.part}` : ""}: ${first.error}: ${first.cause ?? ""}` : ""),
    );
  }
  const startedAt = input.execution.startTime;
  const item: DocumentItem = {
    documentId: input.documentId,
    status: succeeded === total ? "COMPLETED" : "PARTIAL",
    source: input.source,
    executionArn: input.execution.id,
    schemaId: args.schemaId,
    modelId: collected.results[0]?.modelId,
    // A record batch's chunks belong to separate records: merged per record, never across records.
    result: collected.results.some((result) => result.recordId !== undefined)
      ? { records: mergeRecordResults(collected.results, args.schema) }
      : mergeChunkResults(collected.results, args.schema),
    chunks: { total, succeeded, failed: total - succeeded },
    pages: input.chunking.pageCount,
    tokens: input.chunking.tokenCount,
    timings: {
      startedAt,
      completedAt: now.toISOString(),
      totalMs: Math.max(0, now.getTime() - Date.parse(startedAt)),
      chunkingMs: input.chunking.ms,
      inferenceMs: collected.results.reduce((sum, result) => sum + result.ms, 0),
    },
    updatedAt: now.toISOString(),
  };
  if (collected.failedChunks.length > 0) item.failedChunks = collected.failedChunks;
  return item;
}
