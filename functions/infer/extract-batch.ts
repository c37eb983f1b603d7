import { GetObjectCommand } from "@aws-sdk/client-s3";
import { splitChunkItem } from "./split-chunk.ts";
import { s3Client } from "../shared/aws-clients.ts";
import type { ChunkFailure, ChunkItem, ChunkResult, InferBatchInput, InferBatchOutput } from "../shared/contracts.ts";
import { chunkRetryPolicy } from "../shared/chunk-retry-policy.ts";
import { DeadlineExceededError, ErrorNames } from "../shared/errors.ts";
import { logger } from "../shared/logger.ts";
import { recordBatchOutcome, recordChunkExtracted, type MetricSink } from "../shared/metrics.ts";
import type { Deadline } from "./budget.ts";
import type { ExtractionOutcome } from "./engine.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import type { ChunkPromptInput } from "./prompt.ts";

export interface ChunkExtractor {
  extractAll(chunks: ChunkPromptInput[], deadline?: Deadline, schema?: JsonSchemaNode): Promise<ExtractionOutcome[]>;
}

export type ChunkTextReader = (item: ChunkItem) => Promise<string>;

const splittableErrors = new Set(chunkRetryPolicy.split);

/**
 * Checks the shape of a batch event before any work: the workflow always sends one, but a hand-made or mistyped event
 * (`{"Items": 5}`) would otherwise fail deep in the engine with a bare TypeError naming nothing. A TypeError is not
 * retried by the workflow (statemachine/retry-policy.ts), which suits a malformed input.
 */
export function parseInferBatchInput(event: unknown): InferBatchInput {
  const fail = (what: string): never => {
    throw new TypeError(`Infer batch input: ${what}`);
  };
  if (typeof event !== "object" || event === null || Array.isArray(event)) return fail("must be an object with Items");
  const items = (event as { Items?: unknown }).Items;
  if (!Array.isArray(items)) return fail(`Items must be an array of chunk items, got ${items === null ? "null" : typeof items}`);
  items.forEach((item: unknown, i) => {
    if (typeof item !== "object" || item === null) return fail(`Items[${i}] must be an object`);
    const chunk = item as Partial<Record<keyof ChunkItem, unknown>>;
    if (typeof chunk.documentId !== "string" || chunk.documentId === "") fail(`Items[${i}].documentId must be a non-empty string`);
    for (const key of ["index", "pageStart", "pageEnd"] as const) {
      if (!Number.isInteger(chunk[key]) || (chunk[key] as number) < 0) fail(`Items[${i}].${key} must be a non-negative integer`);
    }
    const location = chunk.textLocation as { bucket?: unknown; key?: unknown } | undefined;
    const hasLocation = typeof location?.bucket === "string" && typeof location.key === "string";
    if (typeof chunk.text !== "string" && !hasLocation) fail(`Items[${i}] needs text or textLocation {bucket, key}`);
  });
  return event as InferBatchInput;
}

/**
 * One pass over a batch: every item ends as a result, a failure, or pending work for a fresh invocation (itself when
 * it was not started for lack of time, its two halves when it needs splitting). Earlier passes' results and failures
 * are carried through, so the child execution's final output holds the whole batch.
 */
export async function extractBatch(
  event: InferBatchInput,
  options: {
    engine: ChunkExtractor;
    modelId: string;
    deadline: Deadline;
    /** The batch's extraction schema (default: the engine's). */
    schema?: JsonSchemaNode;
    /** The answer budget of a chunk's one retry after OutputTruncated; unset: no retry. */
    retryOutputTokens?: number;
    readText?: ChunkTextReader;
    /** Where per-chunk and per-batch metrics go (functions/shared/metrics.ts); unset: none are recorded. */
    metrics?: MetricSink;
  },
): Promise<InferBatchOutput> {
  const readText = options.readText ?? chunkTextReader();
  const items = event.Items ?? [];
  const texts = await Promise.all(items.map(readText));
  const outcomes = await options.engine.extractAll(
    items.map((item, i) => ({
      text: texts[i] ?? "",
      pageStart: item.pageStart,
      pageEnd: item.pageEnd,
      ...(item.outputTokens ? { maxOutputTokens: item.outputTokens } : {}),
    })),
    options.deadline,
    options.schema,
  );
  const results: ChunkResult[] = [...(event.results ?? [])];
  const failed: ChunkFailure[] = [...(event.failed ?? [])];
  const pending: ChunkItem[] = [];
  const failedBefore = failed.length;
  let succeeded = 0;
  let progressed = false;
  items.forEach((item, i) => {
    const outcome = outcomes[i];
    const ids = chunkIds(item);
    const where = { document: item.documentId, chunk: item.index, ...(item.part ? { part: item.part } : {}) };
    if (!outcome) throw new TypeError(`No outcome for chunk ${item.index}`);
    if (outcome.ok) {
      const { extraction } = outcome;
      logger.info("Chunk extracted", {
        ...where,
        tokensIn: extraction.tokensIn,
        tokensReused: extraction.tokensReused,
        tokensOut: extraction.tokensOut,
        promptMs: extraction.promptMs,
        generationMs: extraction.generationMs,
        // Decodes, forced tokens, drafts proposed and accepted (docs/inference.md).
        ...(extraction.decoding ? { decoding: extraction.decoding } : {}),
      });
      if (options.metrics) recordChunkExtracted(options.metrics, extraction);
      succeeded++;
      results.push({
        ...ids,
        pageStart: item.pageStart,
        pageEnd: item.pageEnd,
        data: extraction.data,
        ...(extraction.confidence ? { confidence: extraction.confidence } : {}),
        modelId: options.modelId,
        tokensIn: extraction.tokensIn,
        tokensOut: extraction.tokensOut,
        ms: extraction.ms,
      });
      progressed = true;
      return;
    }
    const { error } = outcome;
    if (error instanceof DeadlineExceededError && error.reason === "no-time-left") {
      pending.push(item);
      return;
    }
    // An answer cut at the token cap gets one more try with a larger budget, in a fresh invocation.
    if (chunkRetryPolicy.largerAnswerBudget.errors.includes(error.name) && item.outputTokens === undefined && options.retryOutputTokens) {
      logger.warn("Chunk answer truncated: retried with a larger budget", { ...where, outputTokens: options.retryOutputTokens });
      pending.push({ ...item, outputTokens: options.retryOutputTokens });
      progressed = true;
      return;
    }
    if (splittableErrors.has(error.name)) {
      const halves = splitChunkItem(item, texts[i] ?? "");
      if (halves) {
        logger.warn("Chunk split in two", { ...where, ...loggableError(error, where) });
        pending.push(...halves);
        progressed = true;
        return;
      }
    }
    logger.warn("Chunk failed", { ...where, ...loggableError(error, where) });
    failed.push({ ...ids, error: error.name, cause: error.message.slice(0, 1000) });
    progressed = true;
  });
  if (!progressed && pending.length > 0) {
    // Nothing could even start (no time at all): fail the items rather than hand the same work back forever.
    for (const item of pending.splice(0)) {
      failed.push({ ...chunkIds(item), error: ErrorNames.DeadlineExceeded, cause: "No time to start the chunk in a fresh invocation" });
    }
  }
  if (options.metrics) recordBatchOutcome(options.metrics, { succeeded, failed: failed.length - failedBefore });
  return { results, failed, Items: pending, ...(event.BatchInput ? { BatchInput: event.BatchInput } : {}) };
}

/**
 * An error for a WARN line: its name and message, which is also the failure's cause (a ModelOutputError's says what was
 * wrong, never what the answer said). The error's own cause, a parser's message that quotes the model's answer and so
 * the document, goes to DEBUG only.
 */
function loggableError(error: Error, where: Record<string, unknown>): { error: string; errorMessage: string } {
  if (error.cause !== undefined) {
    logger.debug("Chunk error detail (may quote the document)", { ...where, error: error.name, detail: String(error.cause) });
  }
  return { error: error.name, errorMessage: error.message };
}

function chunkIds(item: ChunkItem): Pick<ChunkResult, "documentId" | "index" | "chunkId" | "recordId" | "part"> {
  return {
    documentId: item.documentId,
    index: item.index,
    ...(item.chunkId === undefined ? {} : { chunkId: item.chunkId }),
    ...(item.recordId === undefined ? {} : { recordId: item.recordId }),
    ...(item.part === undefined ? {} : { part: item.part }),
  };
}

/** Reads an item's text: inline, or from S3 (once per object per batch), cut to the item's range when it is a part. */
export function chunkTextReader(): ChunkTextReader {
  const objects = new Map<string, Promise<string>>();
  return async (item) => {
    if (item.text !== undefined) return item.text;
    const location = item.textLocation;
    if (!location) throw new TypeError(`Chunk ${item.index} has neither text nor textLocation`);
    const key = `${location.bucket}/${location.key}`;
    let text = objects.get(key);
    if (!text) {
      text = s3Client()
        .send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }))
        .then(async (object) => (await object.Body?.transformToString("utf-8")) ?? "");
      objects.set(key, text);
    }
    const whole = await text;
    return item.textRange ? whole.slice(item.textRange.start, item.textRange.end) : whole;
  };
}
