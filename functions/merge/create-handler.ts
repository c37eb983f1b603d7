import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { documentClient, s3Client } from "../shared/aws-clients.ts";
import type { DocumentLayout, MergeTaskInput } from "../shared/contracts.ts";
import { readDocumentLayout, readRecordBatchLayout } from "../shared/document-layout-object.ts";
import { recordLayoutsOf } from "../shared/record-batch-layout.ts";
import type { DocumentItem } from "../shared/document-item.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { logger } from "../shared/logger.ts";
import { addMetric, MetricNames, metrics } from "../shared/metrics.ts";
import { executionNameOf, resultKeyFor, reviewPageKey } from "../shared/bucket-layout.ts";
import { getExtractionSchema } from "../schemas/index.ts";
import type { MergeConfig } from "./config.ts";
import { costOfDocument } from "./document-cost.ts";
import { buildDocumentItems, collectMapRunResults, type ItemDraft } from "./document.ts";
import type { Grounder, TextSpan } from "./field-trust.ts";
import { groundValue } from "./grounding.ts";
import { forEachLimited, writeOwnedItem, writeRecordItem } from "./item-store.ts";
import { offloadIfTooLarge } from "./result-offload.ts";
import { assertValidResult } from "./result-validation.ts";

export interface MergeTaskOutput {
  documentId: string;
  status: DocumentItem["status"];
  version: number;
  chunks: NonNullable<DocumentItem["chunks"]>;
  /** FAILED: the error's name and message, for the workflow's Fail state. */
  error?: string;
  cause?: string;
  /** A record batch: records by status, and records skipped because a newer batch version had written them. */
  records?: DocumentItem["records"] & { superseded: number };
}

export interface MergeDependencies {
  s3: () => S3Client;
  documents: () => DynamoDBDocumentClient;
}

/**
 * Distributed Map results in S3 → the document's item (COMPLETED, PARTIAL or FAILED) in DynamoDB; for a record batch,
 * one item per record first, then the batch's item. Superseded when a newer upload of the same key owns the item.
 */
export function createHandler(
  config: MergeConfig,
  deps: MergeDependencies = { s3: s3Client, documents: documentClient },
): LambdaHandler<MergeTaskInput, MergeTaskOutput> {
  const initClock = startInitClock();
  const readObject = async (bucket: string, key: string): Promise<string> => {
    const object = await deps.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await object.Body?.transformToString("utf-8")) ?? "";
  };

  /** Stores an item's result in S3 when the item would be too large for DynamoDB. */
  const sizedForDynamoDb = async (draft: ItemDraft): Promise<ItemDraft> => {
    const executionName = executionNameOf(draft.executionArn);
    const { item, offloaded } = offloadIfTooLarge(draft, config.maxItemBytes, {
      bucket: config.bucket,
      key: resultKeyFor(draft.documentId, executionName),
    });
    if (offloaded) {
      await deps.s3().send(
        new PutObjectCommand({ Bucket: offloaded.bucket, Key: offloaded.key, Body: offloaded.body, ContentType: "application/json" }),
      );
      logger.info("Result stored in S3: too large for the item", { key: offloaded.key, bytes: item.resultLocation?.bytes });
    }
    return item;
  };

  return invocationHandler(
    {
      initMs: initClock(),
      correlate: (event: MergeTaskInput) => ({ document: event?.documentId, execution: event?.execution?.id }),
    },
    async (event, { usage }) => {
      const schemaId = event.schemaId ?? config.fallbackSchemaId;
      const schema = getExtractionSchema(schemaId);
      const { Bucket, Key } = event.mapRun.ResultWriterDetails;
      // The layout is read beside the Map Run's results, not after them: grounding then costs the merge little time.
      const isBatch = event.chunking.recordCount !== undefined;
      const layoutBucket = event.chunking.manifest.bucket;
      const [collected, layout, batchLayout] = await Promise.all([
        collectMapRunResults(Bucket, Key, readObject),
        isBatch ? undefined : readDocumentLayout(deps.s3(), layoutBucket, event.documentId),
        isBatch ? readRecordBatchLayout(deps.s3(), layoutBucket, event.documentId) : undefined,
      ]);
      const groundIn = (searched: DocumentLayout): Grounder => (value, chunks, near?: TextSpan) => groundValue(value, searched, chunks, near);
      const recordLayoutOf = batchLayout ? recordLayoutsOf(batchLayout) : undefined;
      const { item, records } = buildDocumentItems({
        input: event,
        collected,
        schema,
        schemaId,
        now: new Date(),
        ...(layout ? { ground: groundIn(layout) } : {}),
        ...(recordLayoutOf
          ? {
              // A record's layout lives while its record is grounded (recordLayoutsOf builds it per call).
              groundRecord: (recordId: string) => {
                const recordLayout = recordLayoutOf(recordId);
                return recordLayout ? groundIn(recordLayout) : undefined;
              },
            }
          : {}),
      });
      if (item.kind === "document" && (item.status === "COMPLETED" || item.status === "PARTIAL")) {
        // Written by the workflow's next step ("Write review page"); the key is known now, so the item can say where.
        item.reviewPage = { bucket: config.bucket, key: reviewPageKey(item.documentId, executionNameOf(item.executionArn)) };
      }
      for (const draft of [item, ...records]) if (draft.result) assertValidResult(draft.result, schema, schemaId);

      let superseded = 0;
      const recordBytes: number[] = [];
      await forEachLimited(records, 16, async (record) => {
        const sized = await sizedForDynamoDb(record);
        recordBytes.push(jsonBytes(sized));
        if (!(await writeRecordItem(deps.documents(), config.table, sized))) superseded++;
      });
      // Measured up to the item's write, which carries it (the write itself takes milliseconds).
      const costOf = (draft: ItemDraft) =>
        costOfDocument({
          ...(event.chunking.usage ? { chunk: event.chunking.usage } : {}),
          ...(collected.usage?.infer ? { infer: collected.usage.infer } : {}),
          ...(event.chunking.ocr?.usage ? { ocr: event.chunking.ocr.usage } : {}),
          merge: usage({ s3Puts: [draft, ...records].filter((written) => written.resultLocation).length }),
          childPasses: collected.usage?.childPasses ?? [],
          transitions: event.transitions,
          resultObjects: collected.usage?.resultObjects ?? 0,
          itemBytes: [jsonBytes(draft), ...recordBytes],
        });
      // First an estimate, so that the item's size bound counts the cost's own bytes; then the figure for the item written.
      item.cost = costOf(item);
      const finalItem = await sizedForDynamoDb(item);
      finalItem.cost = costOf(finalItem);
      addMetric(metrics, MetricNames.documentCostUsd, finalItem.cost.total);
      const version = await writeOwnedItem(deps.documents(), config.table, finalItem);
      logger.info("Document merged", { status: item.status, chunks: item.chunks, version, records: item.records });
      const output: MergeTaskOutput = { documentId: item.documentId, status: item.status, version, chunks: item.chunks! };
      if (item.error) Object.assign(output, { error: item.error, cause: item.cause });
      if (item.records) output.records = { ...item.records, superseded };
      return output;
    },
  );
}


/** An item's size as JSON: close to DynamoDB's item size, which bills one write unit per KB. */
function jsonBytes(draft: ItemDraft): number {
  return Buffer.byteLength(JSON.stringify(draft));
}
