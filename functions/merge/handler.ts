import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { documentClient, s3Client } from "../shared/aws-clients.ts";
import { intEnv, optionalEnv, requireEnv } from "../shared/config.ts";
import type { MergeTaskInput } from "../shared/contracts.ts";
import type { DocumentItem } from "../shared/document-item.ts";
import { EnvNames } from "../shared/env-names.ts";
import { addInvocationContext, logger } from "../shared/logger.ts";
import { defaultSchemaId, getExtractionSchema } from "../schemas/index.ts";
import { buildDocumentItems, collectMapRunResults, type ItemDraft } from "./document.ts";
import { forEachLimited, writeOwnedItem, writeRecordItem } from "./item-store.ts";
import { defaultMaxItemBytes, offloadIfTooLarge, resultKeyFor } from "./result-offload.ts";
import { assertValidResult } from "./result-validation.ts";
import { costOfDocument } from "./document-cost.ts";
import { startInitClock, startInvocation } from "../shared/invocation-usage.ts";
import { addMetric, MetricNames, metrics, publishMetrics } from "../shared/metrics.ts";
import type { Context } from "aws-lambda";

const initClock = startInitClock();
const tableName = requireEnv(EnvNames.table);
const bucketName = requireEnv(EnvNames.bucket);
// The schema of executions whose input names none (started before schema routing existed).
const fallbackSchemaId = optionalEnv(EnvNames.schemaId, defaultSchemaId);
getExtractionSchema(fallbackSchemaId);
const maxItemBytes = intEnv(EnvNames.maxItemBytes, defaultMaxItemBytes, { min: 1_000, max: 390_000 });
// Lambda bills the init phase of a cold start: the first invocation carries it.
let coldStartInitMs: number | undefined = initClock();

async function readObject(bucket: string, key: string): Promise<string> {
  const object = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString("utf-8")) ?? "";
}

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

/** Stores an item's result in S3 when the item would be too large for DynamoDB. */
async function sizedForDynamoDb(draft: ItemDraft): Promise<ItemDraft> {
  const executionName = draft.executionArn.split(":").pop() ?? "execution";
  const { item, offloaded } = offloadIfTooLarge(draft, maxItemBytes, {
    bucket: bucketName,
    key: resultKeyFor(draft.documentId, executionName),
  });
  if (offloaded) {
    await s3Client().send(
      new PutObjectCommand({ Bucket: offloaded.bucket, Key: offloaded.key, Body: offloaded.body, ContentType: "application/json" }),
    );
    logger.info("Result stored in S3: too large for the item", { key: offloaded.key, bytes: item.resultLocation?.bytes });
  }
  return item;
}

/**
 * Distributed Map results in S3 → the document's item (COMPLETED, PARTIAL or FAILED) in DynamoDB; for a record batch,
 * one item per record first, then the batch's item. Superseded when a newer upload of the same key owns the item.
 */
export async function handler(event: MergeTaskInput, context?: Partial<Context>): Promise<MergeTaskOutput> {
  addInvocationContext(context);
  const finishInvocation = startInvocation(context, coldStartInitMs);
  coldStartInitMs = undefined;
  logger.appendKeys({ document: event.documentId, execution: event.execution.id });
  try {
    const schemaId = event.schemaId ?? fallbackSchemaId;
    const schema = getExtractionSchema(schemaId);
    const { Bucket, Key } = event.mapRun.ResultWriterDetails;
    const collected = await collectMapRunResults(Bucket, Key, readObject);
    const { item, records } = buildDocumentItems({ input: event, collected, schema, schemaId, now: new Date() });
    for (const draft of [item, ...records]) if (draft.result) assertValidResult(draft.result, schema, schemaId);

    let superseded = 0;
    const recordBytes: number[] = [];
    await forEachLimited(records, 16, async (record) => {
      const sized = await sizedForDynamoDb(record);
      recordBytes.push(jsonBytes(sized));
      if (!(await writeRecordItem(documentClient(), tableName, sized))) superseded++;
    });
    // Measured up to the item's write, which carries it (the write itself takes milliseconds).
    const costOf = (draft: ItemDraft) =>
      costOfDocument({
        ...(event.chunking.usage ? { chunk: event.chunking.usage } : {}),
        ...(collected.usage?.infer ? { infer: collected.usage.infer } : {}),
        merge: finishInvocation({ s3Puts: [draft, ...records].filter((written) => written.resultLocation).length }),
        childPasses: collected.usage?.childPasses ?? [],
        resultObjects: collected.usage?.resultObjects ?? 0,
        itemBytes: [jsonBytes(draft), ...recordBytes],
        transitions: event.transitions,
      });
    // First an estimate, so that the item's size bound counts the cost's own bytes; then the figure for the item written.
    item.cost = costOf(item);
    const finalItem = await sizedForDynamoDb(item);
    finalItem.cost = costOf(finalItem);
    addMetric(metrics, MetricNames.documentCostUsd, finalItem.cost.total);
    const version = await writeOwnedItem(documentClient(), tableName, finalItem);
    logger.info("Document merged", { status: item.status, chunks: item.chunks, version, records: item.records });
    const output: MergeTaskOutput = { documentId: item.documentId, status: item.status, version, chunks: item.chunks! };
    if (item.error) Object.assign(output, { error: item.error, cause: item.cause });
    if (item.records) output.records = { ...item.records, superseded };
    return output;
  } finally {
    publishMetrics();
    logger.removeKeys(["document", "execution"]);
  }
}

/** An item's size as JSON: close to DynamoDB's item size, which bills one write unit per KB. */
function jsonBytes(draft: ItemDraft): number {
  return Buffer.byteLength(JSON.stringify(draft));
}
