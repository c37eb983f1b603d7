import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient, s3Client } from "../shared/aws-clients.ts";
import { executionNameOf, reviewPageKey } from "../shared/bucket-layout.ts";
import { readDocumentLayout } from "../shared/document-layout-object.ts";
import type { ReviewSkipReason, ReviewTaskInput, ReviewTaskOutput } from "../shared/contracts.ts";
import type { DocumentItem } from "../shared/document-item.ts";
import { hasPdfHeader, imageFormatOf } from "../shared/image-format.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { readUpload } from "../shared/upload-object.ts";
import type { ReviewConfig } from "./config.ts";
import { renderPageImages } from "./page-images.ts";
import { pagesToShow } from "./pages-to-show.ts";
import { buildReviewPage, reviewFieldsOf, type ReviewPageImage } from "./review-page.ts";

export interface ReviewDependencies {
  s3: () => S3Client;
  documents: () => DynamoDBDocumentClient;
}

/** The review page's media type: one self-contained HTML file. */
export const REVIEW_PAGE_CONTENT_TYPE = "text/html; charset=utf-8";

/** What the review page shows of an item: its result (from S3 when offloaded), grounding and confidence. */
type ReviewedValues = Pick<DocumentItem, "result" | "grounding" | "confidence" | "reviewReasons">;

/**
 * Write review page task, after the merge: the item the execution wrote → one HTML file at the item's `reviewPage`
 * (`reviews/<document id>/<execution name>.html`) with the pages that hold grounded values drawn from the upload and a
 * box over each value. Writes nothing when the item is gone, belongs to another execution (a newer upload) or points to
 * no review page. Never changes the item: the merge already pointed it here.
 */
export function createHandler(
  config: ReviewConfig,
  deps: ReviewDependencies = { s3: s3Client, documents: documentClient },
): LambdaHandler<ReviewTaskInput, ReviewTaskOutput> {
  const initClock = startInitClock();

  const readObjectText = async (bucket: string, key: string): Promise<string> => {
    const object = await deps.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await object.Body?.transformToString("utf-8")) ?? "";
  };

  /** The values to show: on the item, or beside its result in S3 when the result was too large for it. */
  const reviewedValues = async (item: DocumentItem): Promise<ReviewedValues> => {
    if (!item.resultLocation) {
      return { result: item.result, grounding: item.grounding, confidence: item.confidence, reviewReasons: item.reviewReasons };
    }
    const stored = JSON.parse(await readObjectText(item.resultLocation.bucket, item.resultLocation.key)) as Partial<ReviewedValues>;
    return {
      result: stored.result ?? item.result,
      grounding: stored.grounding ?? item.grounding,
      confidence: stored.confidence ?? item.confidence,
      reviewReasons: item.reviewReasons ?? stored.reviewReasons,
    };
  };

  return invocationHandler(
    {
      initMs: initClock(),
      correlate: (event: ReviewTaskInput) => ({ document: event?.documentId, execution: event?.execution?.id }),
    },
    async (event) => {
      const { documentId, execution } = parseInput(event);
      const started = Date.now();
      const skip = (reason: ReviewSkipReason): ReviewTaskOutput => {
        logger.info("No review page written", { reason });
        return { written: false, reason };
      };
      const { Item } = await deps.documents().send(new GetCommand({ TableName: config.table, Key: { documentId }, ConsistentRead: true }));
      const item = Item as DocumentItem | undefined;
      if (!item) return skip("no-item");
      if (item.executionArn !== execution.id) return skip("not-owner");
      if (item.kind !== "document" || (item.status !== "COMPLETED" && item.status !== "PARTIAL")) return skip("not-finished");
      if (!item.reviewPage) return skip("no-review-page");
      const target = item.reviewPage;
      const expectedKey = reviewPageKey(documentId, executionNameOf(execution.id));
      if (target.bucket !== config.bucket || target.key !== expectedKey) {
        // The merge and this function derive the key by the same rule: anything else is a wiring fault, not a document's.
        throw new TypeError(`The item points its review page to s3://${target.bucket}/${target.key}, not s3://${config.bucket}/${expectedKey}`);
      }

      const values = await reviewedValues(item);
      const layout = await readDocumentLayout(deps.s3(), config.bucket, documentId);
      const pageCount = layout?.pages.length ?? item.source.pages ?? 1;
      const pages = pagesToShow({ grounding: values.grounding, pageCount, maxPages: config.maxPages });

      const { images, renderError } = await drawPages(deps.s3(), item.source, pages);
      const html = buildReviewPage({
        documentId,
        sourceKey: item.source.key,
        status: item.status,
        schemaId: item.schemaId,
        needsReview: item.needsReview ?? false,
        reviewReasons: values.reviewReasons ?? [],
        fields: reviewFieldsOf(values),
        pages: images,
      });
      await deps.s3().send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: html, ContentType: REVIEW_PAGE_CONTENT_TYPE }));
      const bytes = Buffer.byteLength(html, "utf8");
      const shown = images.map((image) => image.page);
      // Sizes, pages and timings only: the page itself quotes the document.
      logger.info("Review page written", {
        key: target.key,
        bytes,
        pages: shown,
        layout: layout !== undefined,
        ms: Date.now() - started,
        ...(renderError ? { renderError } : {}),
      });
      return { written: true, bucket: target.bucket, key: target.key, bytes, pages: shown, ...(renderError ? { renderError } : {}) };
    },
  );
}

/**
 * The pages' images, drawn from the upload (a PDF or an image). A text upload has none; nor does a document whose
 * pages cannot be drawn (an encrypted PDF): its review page still lists the fields, and the output says why.
 */
async function drawPages(
  s3: S3Client,
  source: DocumentItem["source"],
  pages: number[],
): Promise<{ images: ReviewPageImage[]; renderError?: string }> {
  if (pages.length === 0) return { images: [] };
  const { bytes } = await readUpload(s3, source);
  if (imageFormatOf(source.key) === undefined && !hasPdfHeader(bytes)) return { images: [] };
  try {
    return { images: await renderPageImages({ bytes, key: source.key, pages }) };
  } catch (error) {
    const renderError = `${(error as Error).name}: ${(error as Error).message}`;
    logger.warn("Pages could not be drawn; the review page lists the fields only", { renderError });
    return { images: [], renderError };
  }
}

/** The input is built by our own workflow; a malformed one is a wiring fault, not a bad document. */
function parseInput(event: ReviewTaskInput): ReviewTaskInput {
  if (typeof event?.documentId !== "string" || event.documentId === "" || typeof event.execution?.id !== "string") {
    throw new TypeError("Review task input must have documentId and execution.id");
  }
  return event;
}
