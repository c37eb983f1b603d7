import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import type { ChunkTaskInput, ChunkTaskOutput } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { metrics, recordDocumentChunked } from "../shared/metrics.ts";
import { chunkDocument, type TextExtractor } from "./chunk-document.ts";
import type { ChunkConfig } from "./config.ts";
import { extractIsolated, type IsolatedExtraction } from "./isolated-extract.ts";
import { checkByteSize, extractionTimeout, EXTRACTION_TIME_MARGIN_MS } from "./limits.ts";
import { createCl100kTokenizer } from "./tokenizer.ts";
import { readUpload } from "./upload-object.ts";

/** Large chunk texts are uploaded this many at a time. */
const UPLOAD_CONCURRENCY = 8;

export interface ChunkDependencies {
  s3: () => S3Client;
}

/**
 * Chunk document task: reads the uploaded object, extracts its text in a worker thread bounded in time and memory,
 * chunks it and writes the JSONL manifest the Distributed Map reads. DocumentInputError propagates: the workflow
 * catches it by name and fails the document (never retried).
 */
export function createHandler(
  config: ChunkConfig,
  deps: ChunkDependencies = { s3: s3Client },
): LambdaHandler<ChunkTaskInput, ChunkTaskOutput> {
  const initClock = startInitClock();
  const { bucket, maxTokens, overlapTokens, recordFields, limits } = config;
  const tokenizer = createCl100kTokenizer();
  return invocationHandler(
    {
      initMs: initClock(),
      correlate: (event: ChunkTaskInput) => ({ document: event?.documentId, execution: event?.executionId }),
    },
    async (event, { context, usage }) => {
      const { documentId, source } = parseInput(event);
      // The event's size first: an oversized upload is rejected without downloading it.
      if (typeof source.size === "number") checkByteSize(source.size, limits, "size in the upload event");
      const { bytes, password } = await readUpload(deps.s3(), source, limits);
      const byteCount = bytes.byteLength;

      const remainingMs = context?.getRemainingTimeInMillis?.();
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
            deps.s3().send(
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
      await deps.s3().send(
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
        usage: usage({ s3Gets: 1, s3Puts: manifest.largeTexts.length + 1 }),
      };
    },
  );
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
