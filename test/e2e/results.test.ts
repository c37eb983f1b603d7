import { UpdateItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { needsReviewTransitionFilters, readyTransitionFilters } from "../../functions/consumer/stream-filter.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { InferBatchInput } from "../../functions/shared/contracts.ts";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { ModelOutputError } from "../../functions/shared/errors.ts";
import { matchesAnyFilter } from "../../infra/local/event-pattern.ts";
import type { LocalTwin } from "../../infra/local/twin.ts";
import { validateItem } from "../helpers/item-schema.ts";
import { multiPagePdf, startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * What downstream consumers get, end to end on the twin with real llama.cpp: one item per document (or per record),
 * routed to its schema, merged with provenance, versioned on every write, visible on the table's stream; the example
 * consumer's filter lets through exactly the transitions into COMPLETED and PARTIAL.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

const ajv = new Ajv2020.default({ strict: false, allErrors: true });
const validatorFor = (schemaId: string) => ajv.compile(getExtractionSchema(schemaId));

/** Ten paragraphs that the chunker (60 tokens) packs into exactly ten chunks. */
const tenChunkText = Array.from(
  { length: 10 },
  (_, i) =>
    `Paragraph ${i}. The supplier Initech shipped ${i + 3} crates of staplers to Globex on 2024-02-1${i}. ` +
    `The invoice total was ${100 + i}.50 EUR and payment is due in thirty days.`,
).join("\n\n");

const encode = (text: string) => new TextEncoder().encode(text);
const statusOf = (record: DynamoDBRecord) => record.dynamodb?.NewImage?.status?.S;
const versionOf = (record: DynamoDBRecord) => Number(record.dynamodb?.NewImage?.version?.N);
const idOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.documentId?.S;

/** Every provenance entry names chunks of the document and pages inside it; every field with a value has one. */
function expectProvenanceForEachValue(item: DocumentItem): void {
  const total = item.chunks!.total;
  for (const [path, provenance] of Object.entries(item.provenance ?? {})) {
    expect(provenance.chunks.length, path).toBeGreaterThan(0);
    for (const index of provenance.chunks) expect(index < total && index >= 0, `${path}: chunk ${index}`).toBe(true);
    for (const range of provenance.pages) {
      expect(range.start >= 1 && range.end <= (item.source.pages ?? 1) && range.start <= range.end, `${path}: pages`).toBe(true);
    }
  }
  for (const [field, value] of Object.entries(item.result ?? {})) {
    if (Array.isArray(value)) value.forEach((_, i) => expect(item.provenance?.[`${field}[${i}]`], `${field}[${i}]`).toBeDefined());
    else if (value !== null && value !== "" && typeof value !== "object") expect(item.provenance?.[field], field).toBeDefined();
  }
}

describe("results on the twin: items, provenance, stream and the consumer's filter", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;
  const consumerPayloads: DynamoDBRecord[][] = [];

  beforeAll(async () => {
    fixture = await startTestTwin({
      // One chunk per inference invocation: a forced failure then costs exactly one chunk.
      workflow: { maxItemsPerBatch: 1, toleratedFailurePercentage: 10 },
      injectFault: (fn, event) => {
        if (fn === "consumer") consumerPayloads.push((event as { Records: DynamoDBRecord[] }).Records);
        const items = fn === "infer" ? (event as InferBatchInput).Items : [];
        // The seventh chunk (index 6) of documents named "ten-chunks" fails as the model would fail it.
        if (items.some((item) => item.index === 6 && item.documentId === tenChunksId)) {
          return new ModelOutputError("The model's answer is not valid JSON for the schema (forced by the test)");
        }
        return undefined;
      },
    });
    twin = fixture.twin;
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  let tenChunksId = "";
  const finished = new Map<string, DocumentItem>();

  it("ends a multi-chunk document as one COMPLETED item: valid result, provenance for each value, counts that add up", async () => {
    const { documentId, key } = await twin.uploadBytes(await multiPagePdf(3), "uploads/e2e/three pages.pdf");
    const item = (await twin.waitForDocument(documentId))!;
    finished.set(documentId, item);
    expect(item.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item).toMatchObject({ kind: "document", schemaId: "generic", contractVersion: 1, modelId: "tiny" });
    expect(item.source).toMatchObject({ bucket: "llambda-local", key, pages: 3, size: expect.any(Number), etag: expect.any(String) });
    expect(item.source.sequencer).toMatch(/^[0-9A-F]+$/);
    expect(item.chunks!.total).toBeGreaterThan(1);
    expect(item.chunks!.succeeded + item.chunks!.failed).toBe(item.chunks!.total);
    expect(item.chunks!.failed).toBe(0);
    expect(item.failedChunks).toBeUndefined();
    const validate = validatorFor("generic");
    expect(validate(item.result), JSON.stringify(validate.errors)).toBe(true);
    expectProvenanceForEachValue(item);
    expect(Array.isArray(item.conflicts)).toBe(true);
    expect(item.timings).toMatchObject({ startedAt: expect.any(String), completedAt: expect.any(String), chunkingMs: expect.any(Number) });
    // What it cost, from what the functions measured: every function billed, the batches' transitions, the sum.
    const cost = item.cost!;
    const batches = Math.ceil(item.chunks!.total / 4);
    expect(Object.keys(cost.lambda).sort()).toEqual(["chunk", "infer", "merge"]);
    expect(cost.lambda.chunk).toMatchObject({ invocations: 1 });
    expect(cost.lambda.infer!.invocations).toBeGreaterThanOrEqual(batches);
    for (const fn of Object.values(cost.lambda)) expect(fn.gbSeconds).toBeGreaterThan(0);
    // The twin's functions have the stack's memory sizes: 10,240 MB for inference.
    expect(cost.lambda.infer!.gbSeconds / cost.lambda.merge!.gbSeconds).toBeGreaterThan(1);
    const { documentTransitions } = await import("../../statemachine/transitions.ts");
    expect(cost.stepFunctions.transitions).toBeGreaterThanOrEqual(documentTransitions(Array(batches).fill(1)));
    const parts = Object.values(cost.lambda).reduce((sum, fn) => sum + fn.totalUsd, 0) + cost.stepFunctions.usd + cost.requests.totalUsd;
    expect(cost.total).toBeCloseTo(parts, 12);
    expect(cost.total).toBeGreaterThan(0);
    expect(validateItem(item), JSON.stringify(validateItem.errors)).toBe(true);

    await twin.streamSettled();
    const records = (await twin.streamRecords()).filter((record) => idOf(record) === documentId);
    expect(records.map((r) => [r.eventName, statusOf(r)])).toEqual([
      ["INSERT", "PROCESSING"],
      ["MODIFY", "PROCESSING"],
      ["MODIFY", "COMPLETED"],
    ]);
    expect(records.map(versionOf)).toEqual([1, 2, 3]);
    expect(item.version).toBe(3);
    // The second write is the progress update: the chunk count is known while the document is still PROCESSING.
    expect(records[1]!.dynamodb!.NewImage!.chunks!.M!.total!.N).toBe(String(item.chunks!.total));
    expect(records[1]!.dynamodb!.NewImage!.timings!.M!.chunkedAt!.S).toMatch(/^\d{4}-/);
  }, 300_000);

  it("ends a document with 1 failed chunk out of 10 as PARTIAL, naming the chunk and its error", async () => {
    const { documentIdFor } = await import("../../functions/start/execution-name.ts");
    const key = "uploads/e2e/ten-chunks.txt";
    tenChunksId = documentIdFor("llambda-local", key);
    const { documentId } = await twin.uploadBytes(encode(tenChunkText), key);
    const item = (await twin.waitForDocument(documentId))!;
    finished.set(documentId, item);
    expect(item.status, JSON.stringify(item)).toBe("PARTIAL");
    expect(item.chunks).toEqual({ total: 10, succeeded: 9, failed: 1 });
    expect(item.failedChunks).toEqual([
      expect.objectContaining({ index: 6, error: "ModelOutputError", cause: expect.stringContaining("forced by the test") }),
    ]);
    expect(validatorFor("generic")(item.result)).toBe(true);
    // Nothing the merged result says comes from the failed chunk.
    for (const provenance of Object.values(item.provenance ?? {})) expect(provenance.chunks).not.toContain(6);
  }, 300_000);

  it("routes uploads/invoices/ to the invoice schema and a .jsonl under uploads/reviews/ to one item per record", async () => {
    const invoice = await twin.uploadBytes(encode("Invoice INV-7 from Initech, 2024-02-11. Total 120.50 EUR."), "uploads/invoices/inv-7.txt");
    const invoiceItem = (await twin.waitForDocument(invoice.documentId))!;
    finished.set(invoice.documentId, invoiceItem);
    expect(invoiceItem).toMatchObject({ status: "COMPLETED", schemaId: "invoice" });
    const validateInvoice = validatorFor("invoice");
    expect(validateInvoice(invoiceItem.result), JSON.stringify(validateInvoice.errors)).toBe(true);

    const reviews = ["Great staplers, fast delivery.", "Broke after a week. Support never answered.", "Fine for the price."]
      .map((text, i) => JSON.stringify({ id: `r${i + 1}`, text }))
      .join("\n");
    const batch = await twin.uploadBytes(encode(`${reviews}\n`), "uploads/reviews/week-1.jsonl");
    const batchItem = (await twin.waitForDocument(batch.documentId))!;
    finished.set(batch.documentId, batchItem);
    expect(batchItem).toMatchObject({ kind: "batch", status: "COMPLETED", schemaId: "review-sentiment", records: { total: 3, completed: 3, partial: 0, failed: 0 } });
    const validateReview = validatorFor("review-sentiment");
    for (const recordId of ["r1", "r2", "r3"]) {
      const record = (await twin.getDocument(`${batch.documentId}#${recordId}`))!;
      finished.set(record.documentId, record);
      expect(record).toMatchObject({ kind: "record", status: "COMPLETED", batchId: batch.documentId, recordId, schemaId: "review-sentiment", version: 1 });
      expect(validateReview(record.result), JSON.stringify(validateReview.errors)).toBe(true);
      expect(Object.keys(record.provenance ?? {}).length).toBeGreaterThan(0);
    }
  }, 300_000);

  it("never lets an older upload's execution overwrite the newer one's item", async () => {
    const key = "uploads/e2e/twice.txt";
    const first = await twin.uploadBytes(encode("First version: Initech invoice 1, total 10 EUR."), key);
    const second = await twin.uploadBytes(encode("Second version: Initech invoice 2, total 20 EUR."), key);
    expect(second.documentId).toBe(first.documentId);
    const item = (await twin.waitForDocument(first.documentId))!;
    const executions = twin.stepFunctions.executions().filter((e) => e.input.includes(first.documentId));
    expect(executions).toHaveLength(2);
    const newest = executions.reduce((a, b) => (JSON.parse(a.input).sourceOrder > JSON.parse(b.input).sourceOrder ? a : b));
    expect(item.status).toBe("COMPLETED");
    expect(item.executionArn).toBe(newest.executionArn);
    expect(item.source.etag).toBe((JSON.parse(newest.input) as { source: { etag: string } }).source.etag);
    // Both executions end well: the older one as superseded, without writing its result.
    for (const execution of executions) expect((await execution.done).status).toBe("SUCCEEDED");
    await twin.streamSettled();
    const versions = (await twin.streamRecords()).filter((r) => idOf(r) === first.documentId).map(versionOf);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  }, 300_000);

  it("lets exactly the transitions into COMPLETED or PARTIAL through the consumer's filter, on real stream records", async () => {
    const failed = await twin.uploadBytes(encode("not a PDF at all"), "uploads/e2e/fake.pdf");
    expect((await twin.waitForDocument(failed.documentId))?.status).toBe("FAILED");
    // A finished item written again without a state change (COMPLETED → COMPLETED) is not a transition.
    const [completedId] = [...finished].find(([, item]) => item.status === "COMPLETED" && item.kind === "document")!;
    await twin.dynamodb.send(
      new UpdateItemCommand({
        TableName: "llambda-documents",
        Key: { documentId: { S: completedId } },
        UpdateExpression: "SET updatedAt = :now ADD #version :one",
        ExpressionAttributeNames: { "#version": "version" },
        ExpressionAttributeValues: { ":now": { S: new Date().toISOString() }, ":one": { N: "1" } },
      }),
    );
    await twin.streamSettled();
    const records = await twin.streamRecords();
    const passed = records.filter((record) => matchesAnyFilter(record, readyTransitionFilters));
    // The review-queue variant lets through the same transitions, only for items that need review (the tiny random
    // model's values are noise: some always do).
    const forReview = records.filter((record) => matchesAnyFilter(record, needsReviewTransitionFilters));
    expect(forReview).toEqual(passed.filter((record) => record.dynamodb?.NewImage?.needsReview?.BOOL === true));
    expect(forReview.length).toBeGreaterThan(0);
    const statuses = new Set(records.map(statusOf));
    expect(statuses).toEqual(new Set(["PROCESSING", "COMPLETED", "PARTIAL", "FAILED"]));

    // Through: one record per item that finished COMPLETED or PARTIAL (the twice-uploaded key twice: both versions).
    for (const record of passed) expect(["COMPLETED", "PARTIAL"]).toContain(statusOf(record));
    for (const record of passed) expect(record.dynamodb?.OldImage?.status?.S ?? "none").not.toMatch(/^(COMPLETED|PARTIAL)$/);
    const passedIds = passed.map(idOf);
    for (const [documentId] of finished) expect(passedIds.filter((id) => id === documentId).length, documentId).toBeGreaterThanOrEqual(1);
    expect(passedIds).not.toContain(failed.documentId);
    // Not through: every PROCESSING and FAILED record, and the re-write.
    const rewrite = records.filter((r) => idOf(r) === completedId).at(-1)!;
    expect(rewrite.dynamodb?.OldImage?.status?.S).toBe("COMPLETED");
    expect(passed).not.toContain(rewrite);
    for (const record of records.filter((r) => !passed.includes(r))) {
      const into = ["COMPLETED", "PARTIAL"].includes(statusOf(record) ?? "");
      const from = ["COMPLETED", "PARTIAL"].includes(record.dynamodb?.OldImage?.status?.S ?? "");
      expect(!into || from, JSON.stringify(record.dynamodb?.Keys)).toBe(true);
    }

    // The twin's event source mapping invoked the example consumer with exactly those records.
    const delivered = consumerPayloads.flat().map((r) => r.eventID);
    expect(delivered.sort()).toEqual(passed.map((r) => r.eventID).sort());
  }, 300_000);

  it("writes only items that follow the contract's JSON Schema, in every image the stream carried", async () => {
    const images = (await twin.streamRecords()).flatMap((record) => [record.dynamodb?.NewImage, record.dynamodb?.OldImage]).filter((image) => image !== undefined);
    expect(images.length).toBeGreaterThan(20);
    for (const image of images) {
      const item = unmarshall(image as Record<string, AttributeValue>);
      expect(validateItem(item), `${JSON.stringify(validateItem.errors)} in ${JSON.stringify(item).slice(0, 300)}`).toBe(true);
    }
  });
});
