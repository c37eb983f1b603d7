import type { ChunkResult, InferBatchInput, InferBatchOutput, MergeTaskInput } from "../shared/contracts.ts";
import {
  documentItemContractVersion,
  recordItemId,
  sourceOrderOf,
  type DocumentItem,
  type FailedChunk,
} from "../shared/document-item.ts";
import { DocumentInputCodes, ErrorNames, ResultFormatError } from "../shared/errors.ts";
import { recordIdProblem, standInRecordId, type RejectedRecord } from "../shared/record-format.ts";
import { addUsage, type FunctionUsage } from "../shared/invocation-usage.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import { parseRecordJson, parseResultFile, parseResultWriterManifest } from "../shared/map-results.ts";
import { assessFieldTrust, type Grounder } from "./field-trust.ts";
import { compareChunkOrder, mergeChunkResults, mergeRecordResults, type MergedResult } from "./merge.ts";

export type { FailedChunk };

export interface MapRunResults {
  results: ChunkResult[];
  failedChunks: FailedChunk[];
  /** For the document's cost: the inference invocations of succeeded batches, each batch's passes, objects read. */
  usage?: { infer?: FunctionUsage; childPasses: number[]; resultObjects: number };
}

/**
 * Reads a Map Run's manifest and result files: chunk results of succeeded batches, chunk indexes of failed ones.
 * A redriven Map Run reruns its unsuccessful child executions under the same ARNs, so a child may be listed more than
 * once: each child counts once, and its success wins over its failed attempts.
 */
export async function collectMapRunResults(
  bucket: string,
  manifestKey: string,
  readObject: (bucket: string, key: string) => Promise<string>,
): Promise<MapRunResults> {
  const manifest = parseResultWriterManifest(await readObject(bucket, manifestKey));
  const resultBucket = manifest.DestinationBucket || bucket;
  const results: ChunkResult[] = [];
  const failedChunks: FailedChunk[] = [];
  const seenChildren = new Set<string>();
  let infer: FunctionUsage | undefined;
  const childPasses: number[] = [];
  const resultObjects =
    1 + (["SUCCEEDED", "FAILED", "PENDING"] as const).reduce((sum, status) => sum + (manifest.ResultFiles[status]?.length ?? 0), 0);
  for (const file of manifest.ResultFiles.SUCCEEDED ?? []) {
    for (const record of parseResultFile(await readObject(resultBucket, file.Key), file.Key)) {
      if (seenChildren.has(record.ExecutionArn)) continue;
      seenChildren.add(record.ExecutionArn);
      const output = parseRecordJson<InferBatchOutput>(record, "Output");
      if (!Array.isArray(output.results)) {
        throw new ResultFormatError(`Child execution ${record.ExecutionArn} output has no results array`);
      }
      results.push(...output.results);
      if (output.usage) infer = addUsage(infer, output.usage);
      childPasses.push(output.usage?.invocations ?? 1);
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
      if (seenChildren.has(record.ExecutionArn)) continue;
      seenChildren.add(record.ExecutionArn);
      const input = parseRecordJson<InferBatchInput>(record, "Input");
      childPasses.push(1);
      for (const item of input.Items ?? []) {
        const failed: FailedChunk = { index: item.index, error: record.Error ?? record.Status };
        if (item.recordId !== undefined) failed.recordId = item.recordId;
        if (record.Cause) failed.cause = record.Cause.slice(0, 1000);
        failedChunks.push(failed);
      }
    }
  }
  failedChunks.sort(compareChunkOrder);
  return { results, failedChunks, usage: { ...(infer ? { infer } : {}), childPasses, resultObjects } };
}

/** An item as the merge builds it; the write adds `version`. */
export type ItemDraft = Omit<DocumentItem, "version">;

export interface MergedItems {
  /** The document's item, or for a record batch the batch's item (counts per record status). */
  item: ItemDraft;
  /** A record batch's items, one per record seen in the results or failures. */
  records: ItemDraft[];
}

/**
 * The items of a merged document. A document is COMPLETED when every chunk has a result (a split chunk: every part),
 * PARTIAL when some failed within the tolerance, FAILED (error TooManyFailedChunks) beyond it or when none succeeded.
 * A record batch gets one item per record (COMPLETED / PARTIAL / FAILED by its own chunks) and a batch item with
 * counts per record status, whose status follows the same rule over all chunks.
 */
export function buildDocumentItems(args: {
  input: MergeTaskInput;
  collected: MapRunResults;
  schema: JsonSchemaNode;
  schemaId: string;
  now: Date;
  /** Grounds the document's values in its text (absent: no layout to ground against; values are not grounded). */
  ground?: Grounder;
  /**
   * A record batch: grounds a record's values in the record's text (absent, or undefined for a record: no layout to
   * ground against, as for a batch chunked before batches had one; its values are not grounded).
   */
  groundRecord?: (recordId: string) => Grounder | undefined;
}): MergedItems {
  const { input, collected, now } = args;
  const total = input.chunking.chunkCount;
  const pieces = new Set(collected.results.map((result) => `${result.index}/${result.part ?? ""}`));
  if (pieces.size !== collected.results.length) {
    throw new ResultFormatError("Map Run results contain the same chunk more than once");
  }
  const failedIndexes = new Set(collected.failedChunks.map((failure) => failure.index));
  const succeededIndexes = new Set(collected.results.map((result) => result.index).filter((index) => !failedIndexes.has(index)));
  const succeeded = succeededIndexes.size;
  const failedCount = total - succeeded;
  const tolerated = input.toleratedFailurePercentage ?? 0;
  const tooMany = succeeded === 0 || failedCount * 100 > total * tolerated;
  const first = collected.failedChunks[0];
  const startedAt = input.execution.startTime;
  const base = {
    contractVersion: documentItemContractVersion,
    source: { ...input.source, pages: input.chunking.pageCount },
    sourceOrder: input.sourceOrder ?? sourceOrderOf(input.source.sequencer),
    executionArn: input.execution.id,
    schemaId: args.schemaId,
    ...(collected.results[0] ? { modelId: collected.results[0].modelId } : {}),
    updatedAt: now.toISOString(),
  };
  const timings = (results: ChunkResult[]): DocumentItem["timings"] => ({
    startedAt,
    completedAt: now.toISOString(),
    totalMs: Math.max(0, now.getTime() - Date.parse(startedAt)),
    chunkingMs: input.chunking.ms,
    inferenceMs: results.reduce((sum, result) => sum + result.ms, 0),
  });
  const item: ItemDraft = {
    ...base,
    documentId: input.documentId,
    kind: "document",
    status: tooMany ? "FAILED" : succeeded === total ? "COMPLETED" : "PARTIAL",
    chunks: { total, succeeded, failed: failedCount },
    tokens: input.chunking.tokenCount,
    timings: timings(collected.results),
  };
  if (collected.failedChunks.length > 0) item.failedChunks = collected.failedChunks;
  const { ocr } = input.chunking;
  if (ocr !== undefined) {
    item.ocr = { pages: ocr.pages, failedPages: ocr.failedPages, lowConfidencePages: ocr.lowConfidencePages };
    // Pages lost to OCR failures (within the tolerance, or the chunk step would have failed the document).
    if (item.status === "COMPLETED" && ocr.failedPages.length > 0) item.status = "PARTIAL";
  }
  if (tooMany) {
    item.error = ErrorNames.TooManyFailedChunks;
    item.cause =
      `${failedCount} of the document's ${total} chunks failed, more than the tolerated ${tolerated}%` +
      (first ? `; first: chunk ${first.index}${first.part ? ` part ${first.part}` : ""}: ${first.error}: ${first.cause ?? ""}` : "");
  }
  const isBatch = input.chunking.recordCount !== undefined || collected.results.some((result) => result.recordId !== undefined);
  if (!isBatch) {
    if (!tooMany) {
      Object.assign(
        item,
        trustedFields(mergeChunkResults(collected.results, args.schema), {
          schema: args.schema,
          chunkResults: collected.results,
          failedChunks: item.failedChunks,
          ocr: item.ocr,
          ground: args.ground,
        }),
      );
    }
    return { item, records: [] };
  }

  // A record batch: each record merged on its own, never across records.
  item.kind = "batch";
  // Records whose id cannot be a key: rejected where the batch was read (no chunks), or, from a manifest written before
  // ids were checked there (a redrive), found here; either way a FAILED record under the stand-in id, never a key
  // DynamoDB refuses, which would fail every record of the batch.
  const rejected = new Map<string, RejectedRecord>((input.chunking.rejectedRecords ?? []).map((record) => [record.recordId, record]));
  const unusable = new Set<string>();
  for (const recordId of new Set([...collected.results, ...collected.failedChunks].map((chunk) => chunk.recordId))) {
    if (recordId === undefined) continue;
    const problem = recordIdProblem(input.documentId, recordId);
    if (problem === undefined) continue;
    unusable.add(recordId);
    const standIn = standInRecordId(recordId);
    rejected.set(standIn, { recordId: standIn, line: 0, error: ErrorNames.DocumentInput, cause: `${DocumentInputCodes.BadRecord}: ${problem}` });
  }
  const usable = <T extends { recordId?: string }>(chunks: T[]) => chunks.filter((chunk) => !unusable.has(chunk.recordId!));
  const merged = new Map(mergeRecordResults(usable(collected.results), args.schema).map((record) => [record.recordId, record]));
  const chunksOf = new Map<string, { indexes: Set<number>; failed: FailedChunk[]; results: ChunkResult[] }>();
  const entry = (recordId: string) => {
    let known = chunksOf.get(recordId);
    if (!known) chunksOf.set(recordId, (known = { indexes: new Set(), failed: [], results: [] }));
    return known;
  };
  for (const result of usable(collected.results)) {
    const known = entry(result.recordId!);
    known.indexes.add(result.index);
    known.results.push(result);
  }
  for (const failure of usable(collected.failedChunks)) {
    if (failure.recordId === undefined) continue;
    const known = entry(failure.recordId);
    known.indexes.add(failure.index);
    known.failed.push(failure);
  }
  const records: ItemDraft[] = [];
  const counts = { total: input.chunking.recordCount ?? chunksOf.size, completed: 0, partial: 0, failed: 0 };
  // Records in the order of their first chunk.
  const firstChunk = (known: { indexes: Set<number> }) => Math.min(...known.indexes);
  for (const [recordId, known] of [...chunksOf].sort(([, a], [, b]) => firstChunk(a) - firstChunk(b))) {
    const failedHere = new Set(known.failed.map((failure) => failure.index));
    const good = [...known.indexes].filter((index) => !failedHere.has(index) && known.results.some((r) => r.index === index)).length;
    const status = good === 0 ? "FAILED" : good === known.indexes.size ? "COMPLETED" : "PARTIAL";
    counts[status === "FAILED" ? "failed" : status === "PARTIAL" ? "partial" : "completed"]++;
    const record: ItemDraft = {
      ...base,
      source: { ...input.source },
      documentId: recordItemId(input.documentId, recordId),
      kind: "record",
      batchId: input.documentId,
      recordId,
      status,
      chunks: { total: known.indexes.size, succeeded: good, failed: known.indexes.size - good },
      timings: timings(known.results),
    };
    const mergedRecord = merged.get(recordId);
    if (known.failed.length > 0) record.failedChunks = known.failed;
    if (mergedRecord && status !== "FAILED") {
      Object.assign(
        record,
        trustedFields(mergedRecord, {
          schema: args.schema,
          chunkResults: known.results,
          failedChunks: record.failedChunks,
          ground: args.groundRecord?.(recordId),
        }),
      );
    }
    if (status === "FAILED") {
      record.error = known.failed[0]?.error ?? "ChunkFailed";
      record.cause = known.failed[0]?.cause ?? "No chunk of this record has a result";
    }
    records.push(record);
  }
  for (const failure of rejected.values()) {
    counts.failed++;
    records.push({
      ...base,
      source: { ...input.source },
      documentId: recordItemId(input.documentId, failure.recordId),
      kind: "record",
      batchId: input.documentId,
      recordId: failure.recordId,
      status: "FAILED",
      error: failure.error,
      cause: failure.cause,
      timings: timings([]),
    });
  }
  // Records the results never mention (their chunks were lost with a failed Map) count as failed.
  counts.failed += Math.max(0, counts.total - chunksOf.size - rejected.size);
  // A batch with a failed record is not COMPLETED, even when every chunk it extracted succeeded.
  if (item.status === "COMPLETED" && rejected.size > 0) item.status = "PARTIAL";
  item.records = counts;
  return { item, records };
}

type TrustedFields = Pick<
  DocumentItem,
  "result" | "provenance" | "conflicts" | "grounding" | "confidence" | "needsReview" | "reviewReasons"
>;

/** A merged result with its grounding, confidences and review flag (functions/merge/field-trust.ts). */
function trustedFields(
  merged: MergedResult,
  context: Omit<Parameters<typeof assessFieldTrust>[0], "result" | "provenance" | "conflicts" | "ground"> & { ground?: Grounder | undefined },
): TrustedFields {
  const { ground, ...rest } = context;
  const trust = assessFieldTrust({
    ...rest,
    ...(ground ? { ground } : {}),
    result: merged.value,
    provenance: merged.provenance,
    conflicts: merged.conflicts,
  });
  return {
    result: trust.result,
    provenance: merged.provenance,
    conflicts: merged.conflicts,
    ...(trust.grounding ? { grounding: trust.grounding } : {}),
    confidence: trust.confidence,
    needsReview: trust.needsReview,
    reviewReasons: trust.reviewReasons,
  };
}
