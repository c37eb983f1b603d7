import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { ocrPageKey } from "../shared/bucket-layout.ts";
import type { OcrBatchInput, OcrBatchOutput, OcrPageGroup, OcrPageRecord, OcrRegion } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { ConfigurationError } from "../shared/errors.ts";
import { imageFormatOf } from "../shared/image-format.ts";
import { addUsage } from "../shared/invocation-usage.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { metrics, recordPagesOcrd } from "../shared/metrics.ts";
import { readUpload } from "../shared/upload-object.ts";
import type { OcrConfig } from "./config.ts";
import { ocrPages, type OcrInput, type OcrPageOutcome } from "./ocr-pages.ts";
import { regionsByPage } from "./regions.ts";

/** Time kept back from the invocation's remaining time to store the results and return. */
export const OCR_DEADLINE_MARGIN_MS = 10_000;

/** Results are written this many at a time. */
const WRITE_CONCURRENCY = 8;

export interface OcrDependencies {
  s3: () => S3Client;
}

/**
 * OCR task (one child execution of the OCR Distributed Map): reads the upload, OCRs the pages of its group to a
 * deadline (its remaining time minus a margin), stores each page's result (text, words with boxes and confidence,
 * or the page's typed error) and returns the pages it did not start, which the workflow hands to a fresh invocation.
 * A page's own failure is a result, not an error of the invocation.
 */
export function createHandler(config: OcrConfig, deps: OcrDependencies = { s3: s3Client }): LambdaHandler<OcrBatchInput, OcrBatchOutput> {
  const initClock = startInitClock();
  return invocationHandler(
    {
      initMs: initClock(),
      correlate: (event: OcrBatchInput) => ({
        document: event?.BatchInput?.documentId,
        execution: event?.BatchInput?.executionId,
      }),
    },
    async (event, { context, usage }) => {
      const { Items, BatchInput } = parseInput(event);
      const pages = Items.flatMap((group) => group.pages);
      // A hybrid page is read only inside its images (its text layer is read by the chunk step).
      const regions = regionsByPage(Items.flatMap((group) => group.regions ?? []));
      const started = Date.now();
      const remainingMs = context?.getRemainingTimeInMillis?.() ?? 900_000;
      const deadline = started + remainingMs - OCR_DEADLINE_MARGIN_MS;
      // The upload was checked against the byte limit by the chunk step; its password comes with it (never logged).
      const { bytes, password } = await readUpload(deps.s3(), BatchInput.source);
      const format = imageFormatOf(BatchInput.source.key);
      const input: OcrInput =
        format === undefined ? { kind: "pdf", bytes, ...(password === undefined ? {} : { password }) } : { kind: "image", format, bytes };
      const { outcomes, notStarted } = await ocrPages(input, pages, {
        dpi: config.dpi,
        maxPixels: config.maxPixels,
        language: config.language,
        pageTimeoutMs: config.pageTimeoutMs,
        deadline,
        concurrency: config.concurrency,
      }, regions);
      if (outcomes.length === 0 && notStarted.length > 0) {
        // Nothing can ever start: a fresh invocation would have no more time than this one.
        throw new ConfigurationError(
          `no page could start: ${EnvNames.ocrPageTimeoutMs}=${config.pageTimeoutMs} is longer than the invocation's ` +
            `${Math.round(remainingMs / 1000)} s less a ${OCR_DEADLINE_MARGIN_MS / 1000} s margin; lower it or raise the OCR function's timeout`,
        );
      }
      const records = outcomes.map(pageRecord);
      for (let next = 0; next < records.length; next += WRITE_CONCURRENCY) {
        await Promise.all(
          records.slice(next, next + WRITE_CONCURRENCY).map((record) =>
            deps.s3().send(
              new PutObjectCommand({
                Bucket: config.bucket,
                Key: ocrPageKey(BatchInput.documentId, record.page),
                Body: JSON.stringify(record),
                ContentType: "application/json",
              }),
            ),
          ),
        );
      }
      const read = records.flatMap((record) => ("error" in record ? [] : [record.ms]));
      const failed = records.filter((record) => "error" in record);
      recordPagesOcrd(metrics, { pageMs: read, failed: failed.length });
      // Counts, codes and timings only: never the text.
      logger.info("Pages OCR'd", {
        pages: pages.length,
        read: read.length,
        failed: failed.map((record) => ({ page: record.page, error: "error" in record ? record.error : undefined })),
        notStarted: notStarted.length,
        ms: Date.now() - started,
        language: config.language,
        dpi: config.dpi,
        concurrency: config.concurrency,
      });
      return {
        Items: notStarted.length === 0 ? [] : [leftOver(notStarted, regions)],
        BatchInput,
        pagesDone: records.length,
        usage: addUsage(event.usage, usage({ s3Gets: 1, s3Puts: records.length })),
      };
    },
  );
}

/** The pages not started, for a fresh invocation, with the regions of those that are read only inside them. */
function leftOver(pages: number[], regions: ReadonlyMap<number, OcrRegion[]>): OcrPageGroup {
  const kept = pages.flatMap((page) => {
    const boxes = regions.get(page);
    return boxes === undefined ? [] : [{ page, boxes }];
  });
  return { pages, ...(kept.length > 0 ? { regions: kept } : {}) };
}

/** A page's outcome as stored: what grounding needs (text, words, boxes, the image size and dpi), nothing more. */
function pageRecord(outcome: OcrPageOutcome): OcrPageRecord {
  if ("error" in outcome) return { page: outcome.page, error: outcome.error, message: outcome.message };
  return {
    page: outcome.page,
    text: outcome.text,
    words: outcome.words,
    meanConfidence: outcome.meanConfidence,
    width: outcome.width,
    height: outcome.height,
    dpi: outcome.dpi,
    ms: outcome.renderMs + outcome.recognizeMs,
  };
}

/** The input is built by our own workflow; a malformed one is a wiring fault, not a bad document. */
function parseInput(event: OcrBatchInput): OcrBatchInput {
  const context = event?.BatchInput;
  if (
    !Array.isArray(event?.Items) ||
    !event.Items.every(
      (group) =>
        Array.isArray(group?.pages) &&
        group.pages.every((page) => Number.isInteger(page) && page >= 1) &&
        (group.regions === undefined || (Array.isArray(group.regions) && group.regions.every(isPageRegions))),
    ) ||
    typeof context?.documentId !== "string" ||
    typeof context.source?.bucket !== "string" ||
    typeof context.source.key !== "string"
  ) {
    throw new TypeError(
      "OCR task input must have Items of {pages: [positive integers], regions?: [{page, boxes: [[x0, y0, x1, y1]]}]} " +
        "and BatchInput.documentId, .source",
    );
  }
  return event;
}

function isPageRegions(value: unknown): boolean {
  const { page, boxes } = (value ?? {}) as { page?: unknown; boxes?: unknown };
  return (
    Number.isInteger(page) &&
    Array.isArray(boxes) &&
    boxes.every((box) => Array.isArray(box) && box.length === 4 && box.every((n) => typeof n === "number" && Number.isFinite(n)))
  );
}
