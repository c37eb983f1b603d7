/** A record batch through chunking and the merge: record ids, chunkRecords and chunkDocument, the item of each record. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { DocumentInputCodes, DocumentInputError } from "../../functions/shared/errors.ts";
import { MAX_RECORD_KEY_BYTES, standInRecordId } from "../../functions/shared/record-format.ts";
import { buildDocumentItems } from "../../functions/merge/document.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { ChunkResult, MergeTaskInput } from "../../functions/shared/contracts.ts";
import { validateItem } from "../helpers/item-schema.ts";
import { inputErrorOf } from "../helpers/extract-fixtures.ts";
import { chunkResult, genericData, mergeTaskInput } from "../helpers/chunk-items.ts";
import { chunkRecords } from "../../functions/chunk/chunk-records.ts";
import { resultKeyFor } from "../../functions/shared/bucket-layout.ts";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const jsonl = (...records: unknown[]): Uint8Array => utf8(records.map((record) => JSON.stringify(record)).join("\n"));

const inputError = inputErrorOf;

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

describe("the merge and record ids", () => {
  const batchId = "0123456789abcdef0123456789abcdef";
  const schema = getExtractionSchema("generic");
  const result = (index: number, recordId: string): ChunkResult =>
    chunkResult({ documentId: batchId, index, recordId, pageStart: 1, pageEnd: 1, data: genericData() });
  const input = (chunkCount: number, recordCount: number, extra: Partial<MergeTaskInput["chunking"]> = {}): MergeTaskInput =>
    mergeTaskInput({
      documentId: batchId,
      source: { bucket: "bucket", key: "uploads/r.jsonl", etag: "e", size: 5 },
      chunking: { chunkCount, pageCount: recordCount, recordCount, tokenCount: 9, ms: 1, ...extra },
    });

  it("writes a rejected record as a FAILED record under its stand-in id; the batch is PARTIAL and counts it", () => {
    const standIn = standInRecordId("x".repeat(3_000));
    const cause = 'BAD_RECORD: line 2: the id is 3000 bytes: …';
    const { item, records } = buildDocumentItems({
      input: input(2, 3, { rejectedRecords: [{ recordId: standIn, line: 2, error: "DocumentInputError", cause }] }),
      collected: { results: [result(0, "good-1"), result(1, "good-2")], failedChunks: [] },
      schema,
      schemaId: "generic",
      now: new Date("2024-05-01T10:01:00.000Z"),
    });
    expect(item).toMatchObject({ kind: "batch", status: "PARTIAL", chunks: { total: 2, succeeded: 2, failed: 0 }, records: { total: 3, completed: 2, partial: 0, failed: 1 } });
    expect(records.map((record) => [record.documentId, record.status])).toEqual([
      [`${batchId}#good-1`, "COMPLETED"],
      [`${batchId}#good-2`, "COMPLETED"],
      [`${batchId}#${standIn}`, "FAILED"],
    ]);
    expect(records[2]).toMatchObject({ kind: "record", batchId, recordId: standIn, error: "DocumentInputError", cause });
    expect(records[2]!.result).toBeUndefined();
    // Items consumers can rely on: each valid against the item contract's JSON Schema.
    for (const draft of [item, ...records]) expect(validateItem({ ...draft, version: 1 }), JSON.stringify(validateItem.errors)).toBe(true);
  });

  it("never writes a key DynamoDB refuses, even from a manifest chunked before ids were checked (a redrive)", () => {
    const longId = "y".repeat(3_000);
    const { item, records } = buildDocumentItems({
      input: input(3, 3),
      collected: { results: [result(0, "good-1"), result(1, longId), result(2, "good-2")], failedChunks: [] },
      schema,
      schemaId: "generic",
      now: new Date(),
    });
    expect(item).toMatchObject({ status: "PARTIAL", records: { total: 3, completed: 2, failed: 1 } });
    for (const record of records) expect(Buffer.byteLength(record.documentId)).toBeLessThanOrEqual(MAX_RECORD_KEY_BYTES);
    const failed = records.find((record) => record.status === "FAILED")!;
    expect(failed).toMatchObject({ recordId: standInRecordId(longId), error: "DocumentInputError" });
    expect(failed.cause).toMatch(/^BAD_RECORD: the id is 3000 bytes/);
  });

  it("builds offloaded result keys of one segment under results/, whatever the id; long ones hashed", () => {
    const execution = "paths-jsonl-433e4a8b7f723399";
    expect(resultKeyFor(batchId, execution)).toBe(`results/${batchId}/${execution}.json`);
    expect(resultKeyFor(`${batchId}#../../etc/passwd`, execution)).toBe(`results/${batchId}%23..%2F..%2Fetc%2Fpasswd/${execution}.json`);
    expect(resultKeyFor(`${batchId}#a/b%2F..\\c`, execution)).toBe(`results/${batchId}%23a%2Fb%252F..%5Cc/${execution}.json`);
    for (const id of ["é".repeat(1_000), "/".repeat(2_000), "x".repeat(60)]) {
      const key = resultKeyFor(`${batchId}#${id}`, execution);
      const segments = key.split("/");
      expect(segments).toHaveLength(3);
      expect(segments[0]).toBe("results");
      expect(Buffer.byteLength(segments[1]!)).toBeLessThanOrEqual(200);
      expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1_024);
    }
    expect(resultKeyFor(`${batchId}#${"é".repeat(1_000)}`, execution)).toMatch(new RegExp(`^results/${batchId}%23sha256-[0-9a-f]{64}/`));
    expect(resultKeyFor(`${batchId}#${"é".repeat(1_000)}`, execution)).not.toBe(resultKeyFor(`${batchId}#${"é".repeat(999)}`, execution));
  });
});

describe("chunkRecords and chunkDocument on record batches", () => {
  it("makes one chunk per short record, several for a long one, all with the record's id and offsets into its text", () => {
    const long = Array.from({ length: 80 }, (_, k) => `Sentence ${k} of a long review.`).join(" ");
    const bytes = jsonl({ id: "short", text: "  Short review.  " }, { id: "long", text: long }, { id: "last", text: "Bye." });
    const { chunks, recordCount } = chunkRecords(bytes, "jsonl", { maxTokens: 50, tokenizer });
    expect(recordCount).toBe(3);
    const longChunks = chunks.filter((chunk) => chunk.recordId === "long");
    expect(longChunks.length).toBeGreaterThan(2);
    expect(chunks.map((chunk) => chunk.index)).toEqual(chunks.map((_, k) => k));
    expect(chunks[0]).toMatchObject({ recordId: "short", text: "Short review.", charStart: 2, charEnd: 15, pageStart: 1, pageEnd: 1 });
    for (const chunk of longChunks) {
      expect(long.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
      expect(chunk.tokenCount).toBeLessThanOrEqual(50);
      expect([chunk.pageStart, chunk.pageEnd]).toEqual([1, 1]);
    }
    expect(chunks.at(-1)).toMatchObject({ recordId: "last", text: "Bye." });
  });

  it("counts maxChunks over the whole batch: TOO_LARGE as soon as it is passed", () => {
    const bytes = jsonl(...Array.from({ length: 50 }, (_, k) => ({ text: `Review ${k}.` })));
    expect(chunkRecords(bytes, "jsonl", { maxTokens: 50, tokenizer, maxChunks: 50 }).chunks).toHaveLength(50);
    const error = inputError(() => chunkRecords(bytes, "jsonl", { maxTokens: 50, tokenizer, maxChunks: 49 }));
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    // Every record is at least one chunk: the 50th record is refused as it is read (test/unit/record-limits.test.ts).
    expect(error.message).toMatch(/more than 49 records .*LLAMBDA_MAX_CHUNKS=49/);
    const long = jsonl({ text: "word ".repeat(500) });
    const chunkError = inputError(() => chunkRecords(long, "jsonl", { maxTokens: 50, tokenizer, maxChunks: 3 }));
    expect(chunkError.code).toBe("TOO_LARGE");
    expect(chunkError.message).toMatch(/more than 3 chunks/);
  });

  it("chunkDocument reads .jsonl and .csv keys as record batches (never the extractor) into a manifest with record ids", async () => {
    const csv = utf8('review_id,body\r\nr1,"Fast delivery, good price."\r\nr2,"Broke after\r\ntwo days."\r\nr3,"Fast delivery, good price."\r\n');
    const result = await chunkDocument(csv, {
      documentId: "batch-1",
      sourceKey: "uploads/reviews.CSV",
      bucket: "work",
      maxTokens: 100,
      tokenizer,
      textField: "body",
      idField: "review_id",
      extract: async () => {
        throw new Error("the extractor is not for record batches");
      },
    });
    expect(result.recordCount).toBe(3);
    expect(result.pageCount).toBe(3);
    expect(result.chunkCount).toBe(3);
    const items = result.manifest.body
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(items.map((item) => [item.index, item.recordId, item.text])).toEqual([
      [0, "r1", "Fast delivery, good price."],
      [1, "r2", "Broke after\r\ntwo days."],
      [2, "r3", "Fast delivery, good price."],
    ]);
    // Identical texts in two records: different ids (the second occurrence), same content hash otherwise.
    expect(items[0]?.chunkId).not.toBe(items[2]?.chunkId);
    expect(items.every((item) => item.documentId === "batch-1" && item.pageStart === 1 && item.pageEnd === 1)).toBe(true);
    // Same bytes, same ids.
    const again = await chunkDocument(csv, { documentId: "other", sourceKey: "b.csv", bucket: "w", maxTokens: 100, tokenizer, textField: "body", idField: "review_id" });
    expect(again.manifest.items.map((item) => item.chunkId)).toEqual(items.map((item) => item.chunkId));
  });

  it("chunks 10,000 generated JSONL records quickly (100,000 measured in docs/chunking.md)", async () => {
    const count = 10_000;
    const lines = Array.from({ length: count }, (_, k) =>
      JSON.stringify({ id: `r${k}`, text: `Review ${k}: arrived on time, works as described; ${k % 5} stars.` }),
    );
    const started = performance.now();
    const result = await chunkDocument(utf8(lines.join("\n")), { documentId: "d", sourceKey: "r.jsonl", bucket: "b", maxTokens: 1000, tokenizer });
    const ms = performance.now() - started;
    expect(result.recordCount).toBe(count);
    expect(result.chunkCount).toBe(count);
    expect(result.manifest.items[count - 1]).toMatchObject({ index: count - 1, recordId: `r${count - 1}` });
    expect(new Set(result.manifest.items.map((item) => item.chunkId)).size).toBe(count);
    expect(ms).toBeLessThan(10_000);
  });
});

describe("DocumentInputError", () => {
  it("has the BAD_RECORD code", () => {
    expect(new DocumentInputError(DocumentInputCodes.BadRecord, "x").message).toBe("BAD_RECORD: x");
  });
});
