import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { LimitDefaults, readChunkLimits } from "../../functions/chunk/limits.ts";
import { parseRecords } from "../../functions/chunk/records.ts";
import { createCl100kTokenizer, type TokenCounter, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import { inputErrorOf } from "../helpers/extract-fixtures.ts";
import { chunkRecords } from "../../functions/chunk/chunk-records.ts";
import { forEachCsvRow, CsvRecordSizeError } from "../../functions/chunk/csv.ts";

/**
 * Issue 14 item 2: a record batch's size bounds are checked while reading, before the batch (or the oversized record)
 * is tokenized. The spawned-process measurements (the 100 MB field, a million records) are in test/e2e/chunk-cli.test.ts.
 */
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const inputError = inputErrorOf;

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

/** The tokenizer, recording the length of every text it is asked to count. */
function countingTokenizer(): TokenCounter & { lengths: number[] } {
  const lengths: number[] = [];
  return { lengths, count: (text) => (lengths.push(text.length), tokenizer.count(text)) };
}

describe("the bytes-per-record bound (LLAMBDA_MAX_RECORD_BYTES)", () => {
  const big = "x".repeat(5000);

  it("ends a CSV batch with one oversized field TOO_LARGE, naming the row's line, the limit and the setting, before tokenizing it", () => {
    const csv = utf8(`id,text\n1,first review\n2,"${big}"\n3,last review\n`);
    const counter = countingTokenizer();
    const error = inputError(() => chunkRecords(csv, "csv", { maxTokens: 100, tokenizer: counter, maxRecordBytes: 1000 }));
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    expect(error.message).toMatch(/^TOO_LARGE: line 3: the CSV row is over the limit of 1000 bytes per record \(setting LLAMBDA_MAX_RECORD_BYTES=1000\)$/);
    // The record before it was chunked; the oversized one never reached the tokenizer.
    expect(Math.max(...counter.lengths)).toBeLessThan(1000);
    // Without the bound (or with room for it) the same batch is fine.
    expect(chunkRecords(csv, "csv", { maxTokens: 100, tokenizer }).recordCount).toBe(3);
    expect(chunkRecords(csv, "csv", { maxTokens: 100, tokenizer, maxRecordBytes: 6000 }).recordCount).toBe(3);
  });

  it("stops the CSV parser inside the field: the row is never built (csv-parse's max_record_size)", () => {
    const rows: number[] = [];
    let error: unknown;
    try {
      forEachCsvRow(utf8(`a\n1\n"${big}\n\n${big}"\n2\n`), (row) => rows.push(row.line), 1000);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CsvRecordSizeError);
    expect(error).toMatchObject({ line: 3, maxRecordBytes: 1000 });
    expect(rows).toEqual([1, 2]);
  });

  it("counts bytes, not characters, and bounds a JSON Lines line (the whole record) the same way", () => {
    // 400 three-byte characters: 400 UTF-16 units, 1,200 bytes (plus the JSON around them).
    const wide = "€".repeat(400);
    const batch = utf8([JSON.stringify({ text: "ok" }), JSON.stringify({ text: wide }), "not even JSON"].join("\n"));
    const error = inputError(() => parseRecords(batch, "jsonl", { maxRecordBytes: 1000 }));
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    expect(error.message).toContain("line 2: the JSON Lines record is over the limit of 1000 bytes per record");
    expect(parseRecords(batch.subarray(0, batch.lastIndexOf(0x0a)), "jsonl", { maxRecordBytes: 1300 })).toHaveLength(2);
    const csvError = inputError(() => parseRecords(utf8(`text\n${wide}\n`), "csv", { maxRecordBytes: 1000 }));
    expect(csvError.message).toContain("line 2: the CSV row is over");
  });

  it("is read by the chunk function's rule, 1 MiB by default, and reaches chunkDocument", async () => {
    expect(readChunkLimits({}).maxRecordBytes).toBe(LimitDefaults.maxRecordBytes);
    expect(LimitDefaults.maxRecordBytes).toBe(1024 * 1024);
    expect(readChunkLimits({ [EnvNames.maxRecordBytes]: "2048" }).maxRecordBytes).toBe(2048);
    expect(() => readChunkLimits({ [EnvNames.maxRecordBytes]: "0" })).toThrow(/LLAMBDA_MAX_RECORD_BYTES/);
    const csv = utf8(`text\n"${big}"\n`);
    const options = { documentId: "b", sourceKey: "reviews.csv", bucket: "work", maxTokens: 100, tokenizer };
    await expect(chunkDocument(csv, { ...options, maxRecordBytes: 1000 })).rejects.toMatchObject({ code: "TOO_LARGE" });
    await expect(chunkDocument(csv, options)).resolves.toMatchObject({ recordCount: 1 });
  });
});

describe("the record-count bound (LLAMBDA_MAX_CHUNKS: every record is at least one chunk)", () => {
  const reviews = (n: number) => Array.from({ length: n }, (_, k) => JSON.stringify({ text: `Review ${k}.` })).join("\n");

  it("refuses record maxChunks + 1 as it is read, before it or any later record is tokenized", () => {
    const counter = countingTokenizer();
    const error = inputError(() => chunkRecords(utf8(reviews(1000)), "jsonl", { maxTokens: 50, tokenizer: counter, maxChunks: 10 }));
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    expect(error.message).toBe(
      "TOO_LARGE: the record batch has more than 10 records (line 11 is record 11; each record is at least one chunk, " +
        "so records are bounded by setting LLAMBDA_MAX_CHUNKS=10)",
    );
    // Ten records' texts were counted (the chunker may count a text more than once), none of the 990 after.
    expect(counter.lengths.length).toBeLessThan(100);
    expect(chunkRecords(utf8(reviews(10)), "jsonl", { maxTokens: 50, tokenizer, maxChunks: 10 }).chunks).toHaveLength(10);
  });

  it("bounds CSV rows the same way, and does not count records rejected for their id", () => {
    const csv = utf8(["id,text", ...Array.from({ length: 30 }, (_, k) => `r${k},Review ${k}.`)].join("\n"));
    expect(inputError(() => chunkRecords(csv, "csv", { maxTokens: 50, tokenizer, maxChunks: 29 })).message).toContain(
      "line 31 is record 30",
    );
    const withBadId = utf8(["id,text", "bad\u0001id,Review.", ...Array.from({ length: 3 }, (_, k) => `r${k},Review ${k}.`)].join("\n"));
    const result = chunkRecords(withBadId, "csv", { maxTokens: 50, tokenizer, maxChunks: 3 });
    expect([result.chunks.length, result.rejected.length, result.recordCount]).toEqual([3, 1, 4]);
  });
});
