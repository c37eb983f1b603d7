import { DescribeTableCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { objectCreatedEvent } from "../../infra/local/eventbridge.ts";
import { documentIdFor } from "../../functions/start/execution-name.ts";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { layoutKey } from "../../functions/shared/bucket-layout.ts";
import type { DocumentLayout, RecordBatchLayout } from "../../functions/shared/contracts.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { TwinNames, type LocalTwin } from "../../infra/local/twin.ts";
import { PDFDocument } from "pdf-lib";
import { encryptedPdf } from "../helpers/extract-fixtures.ts";
import { multiPagePdf, startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * End to end on the local twin: a PDF dropped into the local bucket runs through the workflow definition the stack
 * deploys, with real pdf.js (in its worker thread), tiktoken and llama.cpp (the project's tiny random-weight model), into DynamoDB Local.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";

describe("the local twin, end to end through llama.cpp", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;

  beforeAll(async () => {
    // A page limit the other documents here stay within, so one test can exceed it.
    fixture = await startTestTwin({ maxPages: 3 });
    twin = fixture.twin;
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("turns a multi-page PDF upload into a COMPLETED item whose result validates against the schema", async () => {
    const { documentId, key } = await twin.uploadBytes(await multiPagePdf(3), "uploads/e2e/three pages.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(item?.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item!.source).toMatchObject({ bucket: "llambda-local", key });
    expect(item!.source.pages).toBe(3);
    expect(item!.chunks!.total).toBeGreaterThan(1);
    expect(item!.chunks).toEqual({ total: item!.chunks!.total, succeeded: item!.chunks!.total, failed: 0 });
    expect(item!.modelId).toBe("tiny");
    expect(item!.timings!.inferenceMs).toBeGreaterThan(0);
    const validate = new Ajv2020.default({ strict: false }).compile(getExtractionSchema("generic"));
    expect(validate(item!.result), JSON.stringify(validate.errors)).toBe(true);
  }, 300_000);

  it("grounds an invoice's values in its pages: values not found are reasons for review, required ones become null", async () => {
    const { documentId } = await twin.uploadBytes(readFileSync(join(repoRoot, "samples", "acme-invoice.pdf")), "uploads/invoices/e2e/acme.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(item?.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item!.schemaId).toBe("invoice");
    const layoutObject = await twin.s3.send(new GetObjectCommand({ Bucket: TwinNames.bucket, Key: layoutKey(documentId) }));
    const layout = JSON.parse(await layoutObject.Body!.transformToString("utf-8")) as DocumentLayout;
    const grounding = Object.entries(item!.grounding ?? {});
    expect(grounding.length).toBeGreaterThan(0);
    const reasons = item!.reviewReasons ?? [];
    const result = item!.result!;
    for (const [path, found] of grounding) {
      expect(item!.confidence?.[path], path).toBeGreaterThanOrEqual(0);
      expect(item!.confidence?.[path], path).toBeLessThanOrEqual(1);
      if (found.rejected) {
        // The tiny model's values are noise: a required one not in the document is null in the result, kept here.
        expect(path.split(/[.[\]]+/).filter(Boolean).reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], result), path).toBeNull();
        expect(reasons).toContainEqual({ code: "rejected", path });
      } else if (found.match === "none") {
        expect(reasons).toContainEqual({ code: "ungrounded", path });
      } else if (found.match !== "ungroundable") {
        expect(layout.text.slice(found.charStart, found.charEnd).slice(0, 200), path).toBe(found.quote);
        const page = layout.pages.find((p) => p.page === found.page)!;
        for (const box of found.boxes ?? []) expect(box.x + box.width, path).toBeLessThanOrEqual(page.width + 0.5);
      }
    }
    // Never false for an ungrounded required value; here the random weights always leave some value unfound.
    expect(item!.needsReview).toBe(true);
    expect(item!.reviewPage?.key).toMatch(new RegExp(`^reviews/${documentId}/.+\\.html$`));
  }, 300_000);

  it("ends a file that is not a PDF as FAILED with the typed error and its cause", async () => {
    const { documentId } = await twin.uploadBytes(new TextEncoder().encode("just some text, not a PDF"), "uploads/e2e/fake.pdf");
    const item = await twin.waitForDocument(documentId);
    expect(item?.status).toBe("FAILED");
    expect(item!.error).toBe("DocumentInputError");
    expect(item!.cause).toContain("NOT_A_PDF");
  }, 120_000);

  it("starts one execution per object version and writes one item history when the upload event arrives 3 times", async () => {
    const { documentId, key } = await twin.uploadBytes(await multiPagePdf(1), "uploads/e2e/once.pdf");
    await twin.waitForDocument(documentId);
    const execution = twin.stepFunctions.executions().find((e) => e.input.includes(documentId))!;
    const source = JSON.parse(execution.input).source as { bucket: string; key: string; etag: string; size: number; sequencer: string };
    // The same event again, twice (EventBridge delivers at least once): same object version, same sequencer.
    const redelivered = {
      ...objectCreatedEvent({
        eventName: "ObjectCreated:Put",
        eventTime: new Date().toISOString(),
        s3: { bucket: { name: source.bucket }, object: { key, size: source.size, eTag: source.etag } },
      })!,
    };
    redelivered.detail.object.sequencer = source.sequencer;
    for (let delivery = 2; delivery <= 3; delivery++) {
      const result = (await twin.lambda.invoke(TwinNames.functionArn("start"), redelivered)) as { started: boolean; executionName: string };
      expect(result.started).toBe(false);
      expect(execution.executionArn.endsWith(`:${result.executionName}`)).toBe(true);
    }
    expect(twin.stepFunctions.executions().filter((e) => e.input.includes(documentId))).toHaveLength(1);
    await twin.streamSettled();
    const versions = (await twin.streamRecords())
      .filter((record) => record.dynamodb?.Keys?.documentId?.S === documentId)
      .map((record) => [record.dynamodb?.NewImage?.status?.S, Number(record.dynamodb?.NewImage?.version?.N)]);
    expect(versions).toEqual([["PROCESSING", 1], ["PROCESSING", 2], ["COMPLETED", 3]]);
  }, 300_000);

  it("handles object keys with spaces, '+', unicode and percent signs exactly as uploaded", async () => {
    for (const key of ["uploads/e2e/Q1 report + notes.txt", "uploads/e2e/Überweisung für März – 50%.txt", "uploads/e2e/a%2Bb.txt"]) {
      const { documentId } = await twin.uploadBytes(new TextEncoder().encode(`Text of ${key}: Initech paid 5 EUR.`), key);
      expect(documentId).toBe(documentIdFor("llambda-local", key));
      const item = await twin.waitForDocument(documentId);
      expect(item?.status, key).toBe("COMPLETED");
      expect(item?.source.key).toBe(key);
      const execution = twin.stepFunctions.executions().find((e) => e.input.includes(documentId))!;
      expect(execution.executionArn).toMatch(/:[A-Za-z0-9_-]+-[0-9a-f]{16}$/);
    }
  }, 300_000);

  it("ends every kind of bad input as a FAILED item with its code and message, and keeps running", async () => {
    const shapesOnly = await PDFDocument.create();
    shapesOnly.addPage().drawRectangle({ x: 50, y: 50, width: 200, height: 100 });
    const pdf = await multiPagePdf(1);
    const cases: Array<[string, Uint8Array, string]> = [
      ["empty.pdf", new Uint8Array(), "EMPTY_FILE"],
      ["not-a-pdf.pdf", new TextEncoder().encode("just some text, not a PDF"), "NOT_A_PDF"],
      ["truncated.pdf", pdf.slice(0, 400), "CORRUPT"],
      // No text layer, so OCR reads it: a drawing with no words.
      ["drawing.pdf", await shapesOnly.save(), "NO_TEXT_FOUND"],
      ["photo.png", new TextEncoder().encode("not a PNG"), "NOT_AN_IMAGE"],
      ["locked.pdf", encryptedPdf("secret", "pw"), "ENCRYPTED"],
      ["latin1.txt", new Uint8Array([0x66, 0xfc, 0x72, 0x20, 0xe9]), "NOT_UTF8"],
      ["records.jsonl", new TextEncoder().encode('{"id": "1", "text": "ok"}\nnot json\n'), "BAD_RECORD"],
      ["four-pages.pdf", await multiPagePdf(4), "TOO_LARGE"],
    ];
    const uploads = await Promise.all(cases.map(([name, body]) => twin.uploadBytes(body, `uploads/e2e/bad/${name}`)));
    for (const [i, [name, , code]] of cases.entries()) {
      const item = await twin.waitForDocument(uploads[i]!.documentId);
      expect(item, name).toMatchObject({ status: "FAILED", error: "DocumentInputError" });
      expect(item!.cause, name).toContain(`${code}: `);
    }
    // The runner survives them: a good document afterwards still completes.
    const good = await twin.uploadBytes(new TextEncoder().encode("Initech paid 5 EUR."), "uploads/e2e/bad/after.txt");
    expect((await twin.waitForDocument(good.documentId))?.status).toBe("COMPLETED");
  }, 300_000);

  // Before ids were checked where the batch is read, all three were extracted and the merge failed the whole batch
  // with DynamoDB's "ValidationException: Hash primary key values must be under 2048 bytes".
  it("a record whose 3,000-character id cannot be a key fails alone with BAD_RECORD; the two good records complete", async () => {
    const longId = "x".repeat(3_000);
    const lines = [
      { id: "good-1", text: "Great staplers, fast delivery." },
      { id: longId, text: "The id of this review is far too long for a key." },
      { id: "good-2", text: "Broke after a week." },
    ].map((record) => JSON.stringify(record));
    const batch = await twin.uploadBytes(new TextEncoder().encode(`${lines.join("\n")}\n`), "uploads/e2e/bad/long-id.jsonl");
    const batchItem = await twin.waitForDocument(batch.documentId);
    expect(batchItem, JSON.stringify(batchItem)).toMatchObject({
      kind: "batch",
      status: "PARTIAL",
      records: { total: 3, completed: 2, partial: 0, failed: 1 },
    });
    const records = await recordItemsOf(twin, batch.documentId);
    expect(records.size).toBe(3);
    // Each record's values are grounded in its own text, which the batch's layout keeps (offsets into it, page 1).
    const layoutObject = await twin.s3.send(new GetObjectCommand({ Bucket: TwinNames.bucket, Key: layoutKey(batch.documentId) }));
    const layout = JSON.parse(await layoutObject.Body!.transformToString("utf-8")) as RecordBatchLayout;
    expect(layout.kind).toBe("records");
    for (const id of ["good-1", "good-2"]) {
      const record = records.get(id)!;
      expect(record, id).toMatchObject({ documentId: `${batch.documentId}#${id}`, kind: "record", status: "COMPLETED" });
      const text = layout.records.find((entry) => entry.recordId === id)!.text;
      const grounding = Object.entries(record.grounding ?? {});
      expect(grounding.length, id).toBeGreaterThan(0);
      expect(typeof record.needsReview, id).toBe("boolean");
      for (const [path, found] of grounding) {
        expect(record.confidence?.[path], `${id} ${path}`).toBeGreaterThanOrEqual(0);
        if (found.match === "none") expect(record.reviewReasons, `${id} ${path}`).toContainEqual({ code: found.rejected ? "rejected" : "ungrounded", path });
        else if (found.match !== "ungroundable") {
          expect(found.page, `${id} ${path}`).toBe(1);
          expect(text.slice(found.charStart, found.charEnd).slice(0, 200), `${id} ${path}`).toBe(found.quote);
        }
      }
    }
    const [rejectedId, rejected] = [...records].find(([id]) => id !== "good-1" && id !== "good-2")!;
    expect(rejected).toMatchObject({ kind: "record", status: "FAILED", error: "DocumentInputError", batchId: batch.documentId });
    expect(rejected.documentId).toBe(`${batch.documentId}#${rejectedId}`);
    expect(rejected.cause).toMatch(/^BAD_RECORD: line 2: the id is 3000 bytes/);
    expect(Buffer.byteLength(rejected.documentId)).toBeLessThanOrEqual(2048);
    // The cause quotes the id's start only; the item, a key, never carries the whole id.
    expect(JSON.stringify(rejected)).not.toContain(longId.slice(0, 300));
  }, 300_000);

  it("creates the table from the stack's spec, with a NEW_AND_OLD_IMAGES stream", async () => {
    const { Table } = await twin.dynamodb.send(new DescribeTableCommand({ TableName: "llambda-documents" }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" });
    expect(Table?.KeySchema).toEqual([{ AttributeName: "documentId", KeyType: "HASH" }]);
  });
});

/** Every record item of a batch, by record id. */
async function recordItemsOf(twin: LocalTwin, batchId: string): Promise<Map<string, DocumentItem>> {
  const { Items = [] } = await twin.dynamodb.send(
    new ScanCommand({
      TableName: TwinNames.table,
      FilterExpression: "batchId = :batch",
      ExpressionAttributeValues: { ":batch": { S: batchId } },
      ConsistentRead: true,
    }),
  );
  return new Map(Items.map((raw) => unmarshall(raw) as DocumentItem).map((item) => [item.recordId!, item]));
}
