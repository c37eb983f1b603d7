/** Reading record batches (functions/chunk/records.ts): formats, CSV (RFC 4180), JSON Lines, record ids that cannot be keys. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { parseRecords, recordFormatOf } from "../../functions/chunk/records.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import { MAX_RECORD_KEY_BYTES, recordIdProblem, standInRecordId } from "../../functions/shared/record-format.ts";
import { inputErrorOf } from "../helpers/extract-fixtures.ts";
import { chunkRecords } from "../../functions/chunk/chunk-records.ts";
import { CsvSyntaxError, parseCsv } from "../../functions/chunk/csv.ts";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const jsonl = (...records: unknown[]): Uint8Array => utf8(records.map((record) => JSON.stringify(record)).join("\n"));

const inputError = inputErrorOf;

/** The CsvSyntaxError parsing `text` throws (fails the test when it throws nothing or something else). */
function csvSyntaxError(text: string): CsvSyntaxError {
  try {
    parseCsv(text);
  } catch (caught) {
    expect(caught).toBeInstanceOf(CsvSyntaxError);
    return caught as CsvSyntaxError;
  }
  throw new Error("no error");
}

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

describe("recordFormatOf", () => {
  it("recognizes record batches by extension, case-insensitively", () => {
    expect(recordFormatOf("uploads/reviews.jsonl")).toBe("jsonl");
    expect(recordFormatOf("uploads/REVIEWS.NDJSON")).toBe("jsonl");
    expect(recordFormatOf("a/b.Csv")).toBe("csv");
    for (const key of ["a.pdf", "a.txt", "a.json", "csv", "a.csv.pdf"]) expect(recordFormatOf(key)).toBeUndefined();
  });
});

describe("parseCsv (RFC 4180)", () => {
  const rows = (text: string) => [...parseCsv(text)].map((row) => [row.line, ...row.fields]);

  it("reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF rows, an optional last break", () => {
    const text = 'id,text\r\n1,"Hello, ""world"""\r\n2,"two\r\nlines"\r\n3,plain\n4,"",\n5,last';
    expect(rows(text)).toEqual([
      [1, "id", "text"],
      [2, "1", 'Hello, "world"'],
      [3, "2", "two\r\nlines"],
      [5, "3", "plain"],
      [6, "4", "", ""],
      [7, "5", "last"],
    ]);
  });

  it("keeps spaces as data, skips empty lines, accepts a lone CR as a line break", () => {
    expect(rows(" a , b \n\n\r\nc,d\re,f\r\n")).toEqual([
      [1, " a ", " b "],
      [4, "c", "d"],
      [5, "e", "f"],
    ]);
    expect(rows("")).toEqual([]);
    expect(rows('"x"')).toEqual([[1, "x"]]);
  });

  it("rejects an unclosed quote, text after a closing quote and a bare quote, naming the line", () => {
    const error = csvSyntaxError;
    expect(error('a,b\n1,"open\nstill open').line).toBe(2);
    expect(error('a,b\n1,"open\nstill open').reason).toMatch(/not closed/);
    expect(error('a\n"x\ny"z\n').line).toBe(3);
    expect(error('a\n"x\ny"z\n').reason).toMatch(/after a closing quote/);
    expect(error('a\nab"c\n').reason).toMatch(/quote inside an unquoted field/);
  });
});

describe("parseCsv: quoted line breaks, embedded quotes, ragged rows (csv-parse)", () => {
  const rows = (text: string) => [...parseCsv(text)].map((row) => [row.line, ...row.fields]);
  const syntaxError = csvSyntaxError;

  it("keeps LF, CRLF and CR line breaks inside quotes as data, and numbers the following rows by physical line", () => {
    const text = 'id,text\n1,"a\nb"\r\n2,"c\r\nd\r\ne","f\rg"\r\n3,"é\n€\n𝄞"\n4,end';
    expect(rows(text)).toEqual([
      [1, "id", "text"],
      [2, "1", "a\nb"],
      [4, "2", "c\r\nd\r\ne", "f\rg"],
      [8, "3", "é\n€\n𝄞"],
      [11, "4", "end"],
    ]);
  });

  it("undoes doubled quotes anywhere in a quoted field, keeps commas in it, and reads a quoted empty field", () => {
    expect(rows('a,b,c\n"He said ""hi""","""","x,""y"",z"\n"",""""""," "\n')).toEqual([
      [1, "a", "b", "c"],
      [2, 'He said "hi"', '"', 'x,"y",z'],
      [3, "", '""', " "],
    ]);
  });

  it("returns ragged rows as they are (the header check is the caller's)", () => {
    expect(rows("a,b\n1\n1,2,3\n,\n")).toEqual([
      [1, "a", "b"],
      [2, "1"],
      [3, "1", "2", "3"],
      [4, "", ""],
    ]);
  });

  it("names the physical line of a syntax error after multi-line fields, multi-byte text and empty lines", () => {
    // csv-parse's own line count would say 6 here: it counts each CRLF inside quotes twice.
    expect(syntaxError('a\r\n"x\r\ny\r\nw"z\r\nmore\r\n').line).toBe(4);
    expect(syntaxError('a,b\r\n"é\r\n€",ok\r\n\r\n\n1,ab"c\r\n').line).toBe(6);
    expect(syntaxError('a,b\r\n"é\r\n€",ok\r\n\r\n\n1,ab"c\r\n').reason).toMatch(/quote inside an unquoted field/);
    // An unclosed quote: the line its row starts on.
    expect(syntaxError('a,b\n1,2\n\n\r3,"never\nclosed\n').line).toBe(5);
  });
});

describe("parseRecords", () => {
  it("JSONL: ids from the id field (strings or numbers), text from the text field, the BOM ignored", () => {
    const bytes = utf8(
      `\uFEFF${JSON.stringify({ id: "a-1", text: "First review." })}\r\n${JSON.stringify({ id: 7, text: "Second\nreview.", stars: 4 })}\n`,
    );
    expect(parseRecords(bytes, "jsonl")).toEqual([
      { id: "a-1", text: "First review.", line: 1 },
      { id: "7", text: "Second\nreview.", line: 2 },
    ]);
  });

  it("JSONL: without id fields the id is the 1-based line number; blank lines are skipped but counted", () => {
    const bytes = utf8(`${JSON.stringify({ text: "one" })}\n\n   \n${JSON.stringify({ text: "four" })}\n`);
    expect(parseRecords(bytes, "jsonl").map((record) => [record.id, record.text])).toEqual([
      ["1", "one"],
      ["4", "four"],
    ]);
  });

  it("uses configured text and id fields", () => {
    const bytes = jsonl({ review_id: "x", body: "Nice.", text: "ignored" }, { review_id: "y", body: "Bad." });
    expect(parseRecords(bytes, "jsonl", { textField: "body", idField: "review_id" }).map((r) => [r.id, r.text])).toEqual([
      ["x", "Nice."],
      ["y", "Bad."],
    ]);
    const csv = utf8("ref;,body,text\nr1,Nice.,x\nr2,Bad.,y\n");
    expect(parseRecords(csv, "csv", { textField: "body", idField: "ref;" }).map((r) => [r.id, r.text])).toEqual([
      ["r1", "Nice."],
      ["r2", "Bad."],
    ]);
  });

  it("CSV: a header row; ids from the id column, else the data row number; quoted multi-line text, BOM", () => {
    const withIds = utf8('\uFEFFid,text,stars\r\nr-9,"Great, really.\r\nSecond line ""quoted""",5\r\nr-3,Meh,2\r\n');
    expect(parseRecords(withIds, "csv")).toEqual([
      { id: "r-9", text: 'Great, really.\r\nSecond line "quoted"', line: 2 },
      { id: "r-3", text: "Meh", line: 4 },
    ]);
    const withoutIds = utf8('stars,text\n5,"multi\nline"\n\n2,short\n');
    expect(parseRecords(withoutIds, "csv").map((r) => [r.id, r.text, r.line])).toEqual([
      ["1", "multi\nline", 2],
      ["2", "short", 5],
    ]);
  });

  it("fails the whole batch with BAD_RECORD naming each bad line, and counts them all", () => {
    const bytes = utf8(
      [
        JSON.stringify({ text: "fine" }),
        '{"text": private words here}',
        JSON.stringify(["an", "array"]),
        JSON.stringify({ body: "no text field" }),
        JSON.stringify({ text: 42 }),
        JSON.stringify({ text: "   " }),
        JSON.stringify({ text: "has an id", id: "x" }),
        "null",
        JSON.stringify({ text: "fine again" }),
      ].join("\n"),
    );
    const error = inputError(() => parseRecords(bytes, "jsonl"));
    expect(error.code).toBe(DocumentInputCodes.BadRecord);
    expect(error.message).toMatch(/^BAD_RECORD: 7 bad record\(s\); line 2: not valid JSON/);
    // The message becomes the item's cause: the parser's quote of the line stays out of it.
    expect(error.message).not.toContain("private");
    expect(error.message).toContain("line 3: not a JSON object (an array)");
    expect(error.message).toContain('line 4: no text field "text"');
    expect(error.message).toContain('line 5: the text field "text" is not a string');
    expect(error.message).toContain('line 6: the text field "text" is empty');
    expect(error.message).toContain("and 2 more bad record(s)");
  });

  it("requires ids on every record or none, and unique ids", () => {
    const missing = inputError(() => parseRecords(jsonl({ id: "a", text: "x" }, { text: "y" }), "jsonl"));
    expect(missing.message).toMatch(/line 2: no id field "id" \(earlier records have one/);
    const late = inputError(() => parseRecords(jsonl({ text: "x" }, { id: "b", text: "y" }), "jsonl"));
    expect(late.message).toMatch(/line 2: has an id field "id" but the first record has none/);
    const duplicate = inputError(() => parseRecords(jsonl({ id: "a", text: "x" }, { id: "b", text: "y" }, { id: "a", text: "z" }), "jsonl"));
    expect(duplicate.message).toMatch(/line 3: duplicate "id" id "a" \(also on line 1\)/);
    const badId = inputError(() => parseRecords(jsonl({ id: "a", text: "x" }, { id: null, text: "y" }), "jsonl"));
    expect(badId.message).toMatch(/line 2: the id field "id" is not a non-empty string or a number/);
    const emptyCsvId = inputError(() => parseRecords(utf8("id,text\n,x\n"), "csv"));
    expect(emptyCsvId.message).toMatch(/line 2: the id column "id" is empty/);
  });

  it("CSV: BAD_RECORD for a missing or doubled text column, a wrong field count, a syntax error", () => {
    expect(inputError(() => parseRecords(utf8("id,body\n1,x\n"), "csv")).message).toBe(
      'BAD_RECORD: line 1: the CSV header has no text column "text" (columns: "id", "body")',
    );
    expect(inputError(() => parseRecords(utf8("text,text\nx,y\n"), "csv")).message).toMatch(/text column "text" twice/);
    expect(inputError(() => parseRecords(utf8("id,text\n1,x,extra\n2,y\n"), "csv")).message).toBe(
      "BAD_RECORD: 1 bad record(s); line 2: 3 field(s), the header has 2",
    );
    const ragged = inputError(() => parseRecords(utf8('id,text\n1\n2,"two\nlines",x\n3,fine\n4,"a ""b""",5,6\n'), "csv"));
    expect(ragged.message).toBe(
      "BAD_RECORD: 3 bad record(s); line 2: 1 field(s), the header has 2; line 3: 3 field(s), the header has 2; line 6: 4 field(s), the header has 2",
    );
    const syntax = inputError(() => parseRecords(utf8('id,text\n1,x,y\n2,"open\n3,z\n'), "csv"));
    expect(syntax.code).toBe("BAD_RECORD");
    expect(syntax.message).toBe(
      "BAD_RECORD: 1 bad record(s); line 2: 3 field(s), the header has 2; CSV syntax error on line 3: a quoted field is not closed before the end of the file",
    );
  });

  it("EMPTY_FILE for no bytes or no records, NOT_UTF8 naming the line", () => {
    expect(inputError(() => parseRecords(new Uint8Array(), "jsonl")).code).toBe("EMPTY_FILE");
    expect(inputError(() => parseRecords(utf8("\n \n"), "jsonl")).code).toBe("EMPTY_FILE");
    expect(inputError(() => parseRecords(utf8("id,text\n"), "csv")).code).toBe("EMPTY_FILE");
    const latin1 = Uint8Array.from([...utf8('{"text":"ok"}\n{"text":"caf'), 0xe9, ...utf8('"}\n')]);
    const error = inputError(() => parseRecords(latin1, "jsonl"));
    expect(error.code).toBe("NOT_UTF8");
    expect(error.message).toContain("line 2");
  });
});

describe("record ids that cannot be keys", () => {
  const batchId = "0123456789abcdef0123456789abcdef"; // as functions/start makes them: 32 hex digits
  const room = MAX_RECORD_KEY_BYTES - batchId.length - 1;

  it("a 3,000-character id is that record's BAD_RECORD under a stable stand-in id; the other records are kept", () => {
    const longId = "x".repeat(3_000);
    const records = parseRecords(jsonl({ id: "good-1", text: "a" }, { id: longId, text: "b" }, { id: "good-2", text: "c" }), "jsonl", { batchId });
    expect(records.map((record) => [record.id, record.line, record.rejected === undefined])).toEqual([
      ["good-1", 1, true],
      [standInRecordId(longId), 2, false],
      ["good-2", 3, true],
    ]);
    expect(records[1]!.rejected).toEqual({
      recordId: standInRecordId(longId),
      line: 2,
      error: "DocumentInputError",
      cause: expect.stringMatching(/^BAD_RECORD: line 2: the id is 3000 bytes: its item key "<batch>#<id>" would be 3033 bytes, DynamoDB allows 2048: starts "x{40}"…$/),
    });
    expect(standInRecordId(longId)).toMatch(/^bad-id:[0-9a-f]{32}$/);
    expect(standInRecordId(longId)).toBe(standInRecordId("x".repeat(3_000)));
    expect(standInRecordId(longId)).not.toBe(standInRecordId("x".repeat(2_999)));
  });

  it("counts the key in UTF-8 bytes with the batch prefix: up to 2,048 fits, one byte more does not", () => {
    expect(recordIdProblem(batchId, "a".repeat(room))).toBeUndefined();
    expect(recordIdProblem(batchId, "a".repeat(room + 1))).toMatch(/would be 2049 bytes/);
    expect(room).toBe(2015);
    expect(recordIdProblem(batchId, "é".repeat(1007) + "a")).toBeUndefined(); // 2,015 bytes
    expect(recordIdProblem(batchId, "é".repeat(1008))).toMatch(/the id is 2016 bytes: .* would be 2049 bytes/);
    expect(recordIdProblem("a-longer-batch-id-than-usual-" + batchId, "a".repeat(room))).toMatch(/would be 2077 bytes/);
  });

  it("rejects control characters and unpaired surrogates; paths, percent escapes, '#', emoji are plain ids", () => {
    for (const [id, code] of [["tab\there", "0009"], ["nul\u0000", "0000"], ["del\u007f", "007F"], ["c1\u0085", "0085"], ["a\nb", "000A"]]) {
      expect(recordIdProblem(batchId, id!), id).toContain(`a control character (U+${code})`);
    }
    expect(recordIdProblem(batchId, "x\ud800y")).toMatch(/an unpaired surrogate \(U\+D800\) at character 2: starts "x\\ud800y"$/);
    expect(recordIdProblem(batchId, "\udc00")).toMatch(/unpaired surrogate \(U\+DC00\)/);
    for (const id of ["../../etc/passwd", "a/b%2F..\\c", "#1#", "uploads/other.pdf", "%00", "  spaced  ", "𝄞👩‍👩‍👧", "\u202eevil"]) {
      expect(recordIdProblem(batchId, id), id).toBeUndefined();
    }
    // A JSON escape is how a lone surrogate gets into an id; two of them must not end up sharing a key.
    const records = parseRecords(utf8('{"id":"\\ud800","text":"a"}\n{"id":"\\ud801","text":"b"}\n{"id":"ok","text":"c"}\n'), "jsonl", { batchId });
    expect(records.map((record) => record.rejected?.cause)).toEqual([
      'BAD_RECORD: line 1: the id has an unpaired surrogate (U+D800) at character 1: starts "\\ud800"',
      'BAD_RECORD: line 2: the id has an unpaired surrogate (U+D801) at character 1: starts "\\ud801"',
      undefined,
    ]);
    expect(new Set(records.map((record) => record.id)).size).toBe(3);
    // CSV: an id with a line break (quoted) is rejected the same way.
    const csv = parseRecords(utf8('id,text\r\n"two\r\nlines",x\r\nok,y\r\n'), "csv", { batchId });
    expect(csv[0]!.rejected?.cause).toMatch(/^BAD_RECORD: line 2: the id has a control character \(U\+000D\) at character 4: starts "two\\r\\nlines"$/);
    expect(csv[1]).toEqual({ id: "ok", text: "y", line: 4 });
  });

  it("fails the whole batch when the same bad id repeats, when every id is bad, or past 100 bad ids", () => {
    const longId = "y".repeat(2_100);
    const twice = inputError(() => parseRecords(jsonl({ id: longId, text: "a" }, { id: "ok", text: "b" }, { id: longId, text: "c" }), "jsonl", { batchId }));
    expect(twice.message).toMatch(/^BAD_RECORD: 1 bad record\(s\); line 3: duplicate "id" id "bad-id:[0-9a-f]{32}" \(also on line 1\)/);
    const allBad = inputError(() => parseRecords(jsonl({ id: "a\tb", text: "a" }, { id: longId, text: "b" }), "jsonl", { batchId }));
    expect(allBad.message).toMatch(/^BAD_RECORD: 2 bad record\(s\); line 1: the id has a control character .*; line 2: the id is 2100 bytes.*; no record has an id that can be a key/);
    const many = jsonl(...Array.from({ length: 101 }, (_, k) => ({ id: `${k}\u0007`, text: "t" })), { id: "ok", text: "t" });
    const tooMany = inputError(() => parseRecords(many, "jsonl", { batchId }));
    expect(tooMany.message).toMatch(/^BAD_RECORD: 101 bad record\(s\); line 1: .*and 96 more bad record\(s\); more than 100 records have an id that cannot be a key/);
    const hundred = jsonl(...Array.from({ length: 100 }, (_, k) => ({ id: `${k}\u0007`, text: "t" })), { id: "ok", text: "t" });
    expect(parseRecords(hundred, "jsonl", { batchId }).filter((record) => record.rejected)).toHaveLength(100);
  });

  it("chunkRecords and chunkDocument leave rejected records out of the chunks and report them; the record count has them", async () => {
    const longId = "z".repeat(3_000);
    const bytes = jsonl({ id: "a", text: "First." }, { id: longId, text: "Second." }, { id: "c", text: "Third." });
    const chunked = chunkRecords(bytes, "jsonl", { maxTokens: 50, tokenizer, batchId });
    expect(chunked.recordCount).toBe(3);
    expect(chunked.chunks.map((chunk) => [chunk.index, chunk.recordId])).toEqual([
      [0, "a"],
      [1, "c"],
    ]);
    expect(chunked.rejected).toEqual([expect.objectContaining({ recordId: standInRecordId(longId), line: 2 })]);
    const document = await chunkDocument(bytes, { documentId: batchId, sourceKey: "uploads/r.jsonl", bucket: "b", maxTokens: 50, tokenizer });
    expect(document).toMatchObject({ recordCount: 3, pageCount: 3, chunkCount: 2 });
    expect(document.rejectedRecords).toEqual(chunked.rejected);
    expect(document.manifest.body).not.toContain(longId.slice(0, 100));
    // The key length counts this batch's id: the same record fits under a shorter one.
    const shortBatch = chunkRecords(jsonl({ id: "w".repeat(2_040), text: "x" }), "jsonl", { maxTokens: 50, tokenizer, batchId: "b" });
    expect(shortBatch.rejected).toEqual([]);
  });
});
