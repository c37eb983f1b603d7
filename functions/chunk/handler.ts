import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { s3Client } from "../shared/aws-clients.ts";
import { intEnv, optionalEnv, requireEnv } from "../shared/config.ts";
import type { ChunkTaskInput, ChunkTaskOutput, DocumentSource } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { addInvocationContext, logger } from "../shared/logger.ts";
import { metrics, publishMetrics, recordDocumentChunked } from "../shared/metrics.ts";
import { startInitClock, startInvocation } from "../shared/invocation-usage.ts";
import { chunkDocument, type TextExtractor } from "./chunk-document.ts";
import { extractIsolated, type IsolatedExtraction } from "./isolated-extract.ts";
import { checkByteSize, chunkTokensRange, extractionTimeout, EXTRACTION_TIME_MARGIN_MS, readChunkLimits } from "./limits.ts";
import { PDF_PASSWORD_METADATA } from "./pdf-text.ts";
import { createCl100kTokenizer } from "./tokenizer.ts";

const initClock = startInitClock();
const bucket = requireEnv(EnvNames.bucket);
const maxTokens = intEnv(EnvNames.chunkTokens, 1000, chunkTokensRange);
const overlapTokens = intEnv(EnvNames.chunkOverlapTokens, 0, { min: 0, max: Math.floor(maxTokens / 2) });
/** Record batches (.jsonl, .csv): their text and id fields; unset means chunkDocument's defaults. */
const recordTextField = optionalEnv(EnvNames.recordTextField, "");
const recordIdField = optionalEnv(EnvNames.recordIdField, "");
const recordFields = {
  ...(recordTextField === "" ? {} : { textField: recordTextField }),
  ...(recordIdField === "" ? {} : { idField: recordIdField }),
};
const limits = readChunkLimits();
const tokenizer = createCl100kTokenizer();

// Lambda bills the init phase of a cold start: the first invocation carries it.
let coldStartInitMs: number | undefined = initClock();

/** Large chunk texts are uploaded this many at a time. */
const UPLOAD_CONCURRENCY = 8;

/**
 * Chunk document task: reads the uploaded object, extracts its text in a worker thread bounded in time and memory,
 * chunks it and writes the JSONL manifest the Distributed Map reads. DocumentInputError propagates: the workflow
 * catches it by name and fails the document (never retried).
 */
export async function handler(
  event: ChunkTaskInput,
  context?: Pick<Context, "getRemainingTimeInMillis"> & Partial<Pick<Context, "memoryLimitInMB">>,
): Promise<ChunkTaskOutput> {
  addInvocationContext(context);
  const finishInvocation = startInvocation(context, coldStartInitMs);
  coldStartInitMs = undefined;
  const { documentId, source, executionId } = parseInput(event);
  logger.resetKeys();
  const keys = { document: documentId, ...(executionId ? { execution: executionId } : {}) };
  logger.appendKeys(keys);
  for (const [key, value] of Object.entries(keys)) metrics.addMetadata(key, value);
  try {
    // The event's size first: an oversized upload is rejected without downloading it.
    if (typeof source.size === "number") checkByteSize(source.size, limits, "size in the upload event");
    const { bytes, password } = await getObject(source);
    const byteCount = bytes.byteLength;

    const remainingMs = context?.getRemainingTimeInMillis();
    const { timeoutMs, cappedByRemainingTime } = extractionTimeout(limits, remainingMs);
    let extraction: IsolatedExtraction | undefined;
    // chunkDocument turns the bytes into pages with this: extraction in a worker thread, bounded in time and memory.
    const extract: TextExtractor = async (data, hint) => {
      extraction = await extractIsolated(data, {
        key: hint.key,
        ...(password === undefined ? {} : { password }),
        maxPages: limits.maxPages,
        dropRunningHeaders: limits.dropRunningHeaders,
        timeoutMs,
        timeoutSource: cappedByRemainingTime
          ? `the invocation's remaining time minus ${EXTRACTION_TIME_MARGIN_MS / 1000} s; ` +
            `raise the chunk function's timeout`
          : `setting ${EnvNames.extractionTimeoutMs}=${limits.extractionTimeoutMs}`,
        memoryMb: limits.extractionMemoryMb,
      });
      return extraction;
    };
    const result = await chunkDocument(bytes, {
      documentId,
      sourceKey: source.key,
      bucket,
      maxTokens,
      tokenizer,
      overlapTokens,
      maxChunks: limits.maxChunks,
      maxRecordBytes: limits.maxRecordBytes,
      extract,
      ...recordFields,
    });
    const { manifest } = result;

    // Texts first, manifest last: a manifest that exists never points at a missing text.
    for (let next = 0; next < manifest.largeTexts.length; next += UPLOAD_CONCURRENCY) {
      await Promise.all(
        manifest.largeTexts.slice(next, next + UPLOAD_CONCURRENCY).map(({ location, text }) =>
          s3Client().send(
            new PutObjectCommand({
              Bucket: location.bucket,
              Key: location.key,
              Body: text,
              ContentType: "text/plain; charset=utf-8",
            }),
          ),
        ),
      );
    }
    await s3Client().send(
      new PutObjectCommand({
        Bucket: manifest.location.bucket,
        Key: manifest.location.key,
        Body: manifest.body,
        ContentType: "application/x-ndjson",
      }),
    );

    // Recorded once the manifest exists: a task that fails before is retried and would count the document twice.
    recordDocumentChunked(metrics, result);
    // Counts and timings only: never document text, never the password (only whether one was supplied).
    logger.info("Document chunked", {
      bytes: byteCount,
      pageCount: result.pageCount,
      recordCount: result.recordCount,
      chunkCount: result.chunkCount,
      tokenCount: result.tokenCount,
      largeTextCount: manifest.largeTexts.length,
      maxTokens,
      ms: result.ms,
      extraction: {
        isolated: extraction?.inWorker ?? false,
        workerStartMs: extraction?.workerStartMs,
        extractMs: extraction?.extractMs,
        timeoutMs,
        memoryMb: limits.extractionMemoryMb,
        passwordSupplied: password !== undefined,
      },
    });
    return {
      manifest: manifest.location,
      chunkCount: result.chunkCount,
      pageCount: result.pageCount,
      ...(result.recordCount === undefined ? {} : { recordCount: result.recordCount }),
      ...(result.rejectedRecords === undefined ? {} : { rejectedRecords: result.rejectedRecords }),
      tokenCount: result.tokenCount,
      ms: result.ms,
      // The upload read, the large texts and the manifest written.
      usage: finishInvocation({ s3Gets: 1, s3Puts: manifest.largeTexts.length + 1 }),
    };
  } finally {
    publishMetrics();
    logger.resetKeys();
  }
}

/**
 * The object's bytes (TOO_LARGE when the stored object is over the byte limit: checked on the response's
 * Content-Length before the body is read, and on the bytes) and the PDF password from its `pdf-password` metadata.
 */
async function getObject(source: DocumentSource): Promise<{ bytes: Uint8Array; password?: string }> {
  const response = await s3Client().send(
    new GetObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      ...(source.versionId === undefined ? {} : { VersionId: source.versionId }),
    }),
  );
  if (response.Body === undefined) throw new Error(`GetObject s3://${source.bucket}/${source.key} returned no body`);
  if (typeof response.ContentLength === "number" && response.ContentLength > limits.maxBytes) {
    (response.Body as { destroy?: () => void }).destroy?.();
    checkByteSize(response.ContentLength, limits, "stored object");
  }
  const bytes = await response.Body.transformToByteArray();
  checkByteSize(bytes.byteLength, limits, "downloaded bytes");
  const password = metadataPassword(response.Metadata);
  return password === undefined ? { bytes } : { bytes, password };
}

/**
 * The password in the object's `pdf-password` user metadata (S3 returns user metadata keys in lower case). S3 keeps
 * metadata values in US-ASCII; a non-ASCII value arrives RFC 2047-encoded (`=?UTF-8?B?...?=`) and is decoded.
 */
export function metadataPassword(metadata: Record<string, string> | undefined): string | undefined {
  const raw = metadata?.[PDF_PASSWORD_METADATA];
  if (raw === undefined || raw === "") return undefined;
  const encoded = /^=\?utf-8\?([bq])\?(.*)\?=$/i.exec(raw);
  if (!encoded) return raw;
  const [, encoding = "", text = ""] = encoded;
  if (encoding.toLowerCase() === "b") return Buffer.from(text, "base64").toString("utf8");
  const bytes = text
    .replace(/_/g, " ")
    .replace(/=([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** The execution input is built by our own start function; a malformed one is a wiring fault, not a bad document. */
function parseInput(event: ChunkTaskInput): ChunkTaskInput {
  const source = (event as Partial<ChunkTaskInput> | undefined)?.source;
  if (
    typeof event?.documentId !== "string" ||
    event.documentId === "" ||
    typeof source?.bucket !== "string" ||
    typeof source.key !== "string"
  ) {
    throw new TypeError("Chunk task input must have documentId, source.bucket and source.key");
  }
  return event;
}
