import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { layoutKey, ocrPageGroupsKey, ocrPageKey, ocrTextLayerKey } from "../shared/bucket-layout.ts";
import type {
  ChunkTaskInput,
  ChunkTaskOutput,
  OcrPageRecord,
  OcrPlan,
  OcrPlanOutput,
  OcrTextLayer,
  S3Location,
} from "../shared/contracts.ts";
import { addUsage, type FunctionUsage } from "../shared/invocation-usage.ts";
import { EnvNames } from "../shared/env-names.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { metrics, recordDocumentChunked } from "../shared/metrics.ts";
import { chunkDocument, chunkOrPlanDocument, type ChunkedDocument, type OcrNeeded, type TextExtractor } from "./chunk-document.ts";
import type { ChunkConfig } from "./config.ts";
import { extractIsolated, type IsolatedExtraction } from "./isolated-extract.ts";
import { checkByteSize, extractionTimeout, EXTRACTION_TIME_MARGIN_MS } from "./limits.ts";
import { collectOcrMapRun } from "./ocr-map-run.ts";
import { assembleOcrPages, checkFailedPages, hybridPagesOf, missingPage, OCR_PAGES_PER_GROUP, pageGroups } from "./ocr-plan.ts";
import { createCl100kTokenizer } from "./tokenizer.ts";
import { readUpload } from "../shared/upload-object.ts";

/** Large chunk texts are uploaded, and OCR results read, this many at a time. */
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
): LambdaHandler<ChunkTaskInput, ChunkTaskOutput | OcrPlanOutput> {
  const initClock = startInitClock();
  const { bucket, maxTokens, overlapTokens, recordFields, limits } = config;
  const tokenizer = createCl100kTokenizer();
  return invocationHandler(
    {
      initMs: initClock(),
      correlate: (event: ChunkTaskInput) => ({ document: event?.documentId, execution: event?.executionId }),
    },
    async (event, { context, usage }) => {
      const input = parseInput(event);
      if (input.ocr !== undefined) return chunkAfterOcr(input, input.ocr, usage);
      const { documentId, source } = input;
      // The event's size first: an oversized upload is rejected without downloading it.
      if (typeof source.size === "number") checkByteSize(source.size, limits, "size in the upload event");
      const { bytes, password } = await readUpload(deps.s3(), source, {
        maxBytes: limits.maxBytes,
        check: (count, what) => checkByteSize(count, limits, what),
      });
      const byteCount = bytes.byteLength;

      const remainingMs = context?.getRemainingTimeInMillis?.();
      const { timeoutMs, cappedByRemainingTime } = extractionTimeout(limits, remainingMs);
      let extraction: IsolatedExtraction | undefined;
      // chunkDocument turns the bytes into pages with this: extraction in a worker thread, bounded in time and memory.
      const extract: TextExtractor = async (data, hint) => {
        extraction = await extractIsolated(data, {
          key: hint.key,
          keepTextlessPages: hint.keepTextlessPages,
          findImageRegions: hint.findImageRegions,
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
      const result = await chunkOrPlanDocument(bytes, {
        ...chunkSettings(documentId, source.key),
        ...(input.ocrMode === undefined ? {} : { ocrMode: input.ocrMode }),
        extract,
      });
      const extractionLog = {
        isolated: extraction?.inWorker ?? false,
        workerStartMs: extraction?.workerStartMs,
        extractMs: extraction?.extractMs,
        timeoutMs,
        memoryMb: limits.extractionMemoryMb,
        passwordSupplied: password !== undefined,
      };
      if ("ocr" in result) {
        const plan = await writeOcrPlan(documentId, result);
        // Counts only: never document text, never the password (only whether one was supplied).
        logger.info("Document planned for OCR", {
          bytes: byteCount,
          format: plan.format,
          pageCount: plan.pageCount,
          ocrPageCount: plan.ocrPageCount,
          // Of those, pages with a usable text layer OCR reads only inside their images.
          imageRegionPages: result.ocr.textLayer.regions?.length ?? 0,
          imageRegions: (result.ocr.textLayer.regions ?? []).reduce((sum, { boxes }) => sum + boxes.length, 0),
          ms: result.ms,
          extraction: extractionLog,
        });
        return {
          ocrPlan: plan,
          pageCount: plan.pageCount,
          ms: result.ms,
          // The upload read, the text layer and the page groups written.
          usage: usage({ s3Gets: 1, s3Puts: 2 }),
        } satisfies OcrPlanOutput;
      }
      await writeChunks(documentId, result);
      // Recorded once the manifest exists: a task that fails before is retried and would count the document twice.
      recordDocumentChunked(metrics, result);
      // Counts and timings only: never document text, never the password (only whether one was supplied).
      logger.info("Document chunked", { bytes: byteCount, ...chunkedLog(result), extraction: extractionLog });
      return {
        ...chunkTaskOutput(result),
        // The upload read, the large texts, the layout (a document's or a batch's) and the manifest written.
        usage: usage({ s3Gets: 1, s3Puts: result.manifest.largeTexts.length + ((result.layout ?? result.batchLayout) ? 2 : 1) }),
      };
    },
  );

  function chunkSettings(documentId: string, sourceKey: string) {
    return {
      documentId,
      sourceKey,
      bucket,
      maxTokens,
      tokenizer,
      overlapTokens,
      maxChunks: limits.maxChunks,
      maxRecordBytes: limits.maxRecordBytes,
      ...recordFields,
    };
  }

  /** The text layer and the page groups, for the OCR Map and the second run. */
  async function writeOcrPlan(documentId: string, needed: OcrNeeded): Promise<OcrPlan> {
    const textLayer: S3Location = { bucket, key: ocrTextLayerKey(documentId) };
    const groups: S3Location = { bucket, key: ocrPageGroupsKey(documentId) };
    const { ocr } = needed;
    await putText(textLayer, JSON.stringify(ocr.textLayer satisfies OcrTextLayer), "application/json");
    // The groups last: the OCR Map only starts once both exist.
    const lines = pageGroups(ocr.textLayer.ocrPages, OCR_PAGES_PER_GROUP, ocr.textLayer.regions).map((group) => JSON.stringify(group));
    await putText(groups, lines.join("\n") + "\n", "application/x-ndjson");
    return { pageGroups: groups, textLayer, format: ocr.format, pageCount: ocr.pageCount, ocrPageCount: ocr.textLayer.ocrPages.length };
  }

  /**
   * The second run for a document with OCR'd pages: the stored text layer and OCR results become the document's
   * pages, which are chunked as a text PDF's are. Failed pages beyond the tolerance fail the document
   * (TooManyFailedPages); a document left without any text ends NO_TEXT_FOUND.
   */
  async function chunkAfterOcr(
    input: ChunkTaskInput,
    ocr: NonNullable<ChunkTaskInput["ocr"]>,
    usage: (requests?: { s3Gets?: number; s3Puts?: number }) => FunctionUsage,
  ): Promise<ChunkTaskOutput> {
    const started = performance.now();
    const { documentId } = input;
    const textLayer = JSON.parse(await getText(ocr.plan.textLayer)) as OcrTextLayer;
    const { Bucket, Key } = ocr.mapRun.ResultWriterDetails;
    const mapRun = await collectOcrMapRun(Bucket ?? ocr.mapRun.ResultWriterDetails.bucket, Key ?? ocr.mapRun.ResultWriterDetails.key, (b, k) =>
      getText({ bucket: b, key: k }),
    );
    const records = await readOcrPages(documentId, textLayer.ocrPages);
    const assembled = assembleOcrPages(textLayer, records, (page) => missingPage(page, mapRun.failedPages.get(page)));
    checkFailedPages(assembled.summary, textLayer.ocrPages.length, input.toleratedFailurePercentage ?? 0, hybridPagesOf(textLayer));
    const result = await chunkDocument(new Uint8Array(0), {
      ...chunkSettings(documentId, input.source.key),
      pages: assembled.pages,
      drawings: assembled.drawings,
    });
    await writeChunks(documentId, result);
    recordDocumentChunked(metrics, result);
    logger.info("Document chunked after OCR", {
      ...chunkedLog(result),
      ocrPages: assembled.summary.pages.length,
      failedPages: assembled.summary.failedPages.length,
      lowConfidencePages: assembled.summary.lowConfidencePages.length,
      ms: Math.round(performance.now() - started),
    });
    return {
      ...chunkTaskOutput(result),
      ocr: { ...assembled.summary, ...(mapRun.usage ? { usage: mapRun.usage } : {}) },
      // Both runs of the chunk function for this document.
      usage: addUsage(ocr.planUsage, usage({ s3Gets: 2 + textLayer.ocrPages.length, s3Puts: result.manifest.largeTexts.length + 2 })),
    };
  }

  /** Each OCR'd page's stored result; a page without one is left out (its invocation failed). */
  async function readOcrPages(documentId: string, pages: readonly number[]): Promise<Map<number, OcrPageRecord>> {
    const records = new Map<number, OcrPageRecord>();
    for (let next = 0; next < pages.length; next += UPLOAD_CONCURRENCY) {
      await Promise.all(
        pages.slice(next, next + UPLOAD_CONCURRENCY).map(async (page) => {
          try {
            records.set(page, JSON.parse(await getText({ bucket, key: ocrPageKey(documentId, page) })) as OcrPageRecord);
          } catch (error) {
            if ((error as { name?: string }).name !== "NoSuchKey") throw error;
          }
        }),
      );
    }
    return records;
  }

  async function getText(location: S3Location): Promise<string> {
    const response = await deps.s3().send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    if (response.Body === undefined) throw new Error(`GetObject s3://${location.bucket}/${location.key} returned no body`);
    return response.Body.transformToString("utf-8");
  }

  async function putText(location: S3Location, body: string, contentType: string): Promise<void> {
    await deps.s3().send(new PutObjectCommand({ Bucket: location.bucket, Key: location.key, Body: body, ContentType: contentType }));
  }

  /**
   * Texts and the layout first, manifest last: a manifest that exists never points at a missing text, and the merge
   * finds the layout of every document it merges.
   */
  async function writeChunks(documentId: string, { manifest, layout, batchLayout }: ChunkedDocument): Promise<void> {
    for (let next = 0; next < manifest.largeTexts.length; next += UPLOAD_CONCURRENCY) {
      await Promise.all(
        manifest.largeTexts
          .slice(next, next + UPLOAD_CONCURRENCY)
          .map(({ location, text }) => putText(location, text, "text/plain; charset=utf-8")),
      );
    }
    const stored = layout ?? batchLayout;
    if (stored) await putText({ bucket, key: layoutKey(documentId) }, JSON.stringify(stored), "application/json");
    await putText(manifest.location, manifest.body, "application/x-ndjson");
  }

  function chunkedLog(result: ChunkedDocument) {
    return {
      pageCount: result.pageCount,
      recordCount: result.recordCount,
      chunkCount: result.chunkCount,
      tokenCount: result.tokenCount,
      largeTextCount: result.manifest.largeTexts.length,
      maxTokens,
      ms: result.ms,
    };
  }
}

function chunkTaskOutput(result: ChunkedDocument): Omit<ChunkTaskOutput, "usage"> {
  return {
    manifest: result.manifest.location,
    chunkCount: result.chunkCount,
    pageCount: result.pageCount,
    ...(result.recordCount === undefined ? {} : { recordCount: result.recordCount }),
    ...(result.rejectedRecords === undefined ? {} : { rejectedRecords: result.rejectedRecords }),
    tokenCount: result.tokenCount,
    ms: result.ms,
  };
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
