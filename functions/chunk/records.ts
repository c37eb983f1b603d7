import { isUtf8 } from "node:buffer";
import { EnvNames } from "../shared/env-names.ts";
import { DocumentInputCodes, DocumentInputError, ErrorNames } from "../shared/errors.ts";
import { CsvRecordSizeError, CsvSyntaxError, forEachCsvRow } from "./csv.ts";

/**
 * Record batches: a `.jsonl` (or `.ndjson`) or `.csv` upload is a batch of small documents, one per record (a line of
 * JSON Lines, a row of CSV). Each record is chunked on its own (one chunk, or more when its text is over the budget),
 * and its chunks carry its id, so the Distributed Map fans out over records (chunk-records.ts).
 *
 * - Text: the `textField` field (JSONL, a top-level key) or column (CSV, by header name), default `text`. It must be a
 *   string with some non-whitespace. It is chunked exactly as given (no whitespace tidy): chunk offsets are offsets
 *   into this value.
 * - Id: when the batch has the `idField` field/column (default `id`), every record's id is its value (a non-empty
 *   string, or a JSON number written in decimal); else the record number as a decimal string: JSONL: the 1-based
 *   line number in the file (blank lines are skipped but counted); CSV: the 1-based data row number (the header and
 *   blank lines not counted). A JSONL batch has ids when its first record has the id field; then every record needs
 *   one, and without it none may have one. Ids must be unique within the batch.
 * - Ids that cannot be keys (recordIdProblem: `<batch>#<id>` over DynamoDB's 2,048 bytes, a control character, an
 *   unpaired surrogate): the record is kept, marked `rejected`, under a stable stand-in id (standInRecordId); it is
 *   not chunked, and the merge writes it as a FAILED record (BAD_RECORD) while the other records complete. The record
 *   itself is fine, only its id is unusable, so it fails alone; but when every record's id is unusable, or more than
 *   MAX_REJECTED_RECORDS are (most likely the id field is the wrong one), the whole batch is BAD_RECORD.
 * - Errors: any other bad record fails the whole batch with DocumentInputError BAD_RECORD, whose message names the
 *   first few bad lines and how many there are: no record is ever dropped silently. Bytes that are not UTF-8 are NOT_UTF8
 *   (naming the line); a batch without records is EMPTY_FILE; more chunks than `maxChunks` is TOO_LARGE.
 * - Size bounds, checked while reading, before the record is parsed or tokenized: a record (a JSONL line, a CSV row)
 *   over `maxRecordBytes`, or more than `maxRecords` records (rejected ones not counted), is TOO_LARGE for the whole
 *   batch at once, naming the line, the limit and its setting. Not BAD_RECORD for the one record: a record that size
 *   is a wrong or hostile file rather than one bad review, and the batch's other records would still fail on its
 *   chunk count (docs/input-errors.md).
 *
 * A UTF-8 byte order mark at the start is ignored. Memory: the bytes, the decoded text (JSONL only; CSV is parsed from
 * the bytes), the records' chunks, the manifest built from them and the batch's layout (the records' texts, and its
 * JSON when written); the bounds keep a batch within a few hundred MB.
 */

import { recordIdProblem, standInRecordId, type RecordFormat, type RejectedRecord } from "../shared/record-format.ts";
export { recordFormatOf, type RecordFormat, type RejectedRecord } from "../shared/record-format.ts";

export interface RecordFieldOptions {
  /** Field (JSONL) or column (CSV) holding each record's text. Default "text". */
  textField?: string;
  /** Field or column holding each record's id. Default "id"; when the batch has none, the record number is the id. */
  idField?: string;
  /** The batch's documentId: record item keys are `<batchId>#<id>`. Default: 32 characters, as functions/start makes. */
  batchId?: string;
  /** Largest record (a JSONL line without its line break, a CSV row), bytes: TOO_LARGE beyond. Default: no limit. */
  maxRecordBytes?: number;
  /** Most records (not counting those rejected for their id): TOO_LARGE as soon as one more is read. Default: no limit. */
  maxRecords?: number;
}

export const DEFAULT_TEXT_FIELD = "text";
export const DEFAULT_ID_FIELD = "id";

export interface SourceRecord {
  id: string;
  text: string;
  /** 1-based physical line of the file where the record starts. */
  line: number;
  /** Set when the record's id cannot be a key: `id` is then the stand-in id, and this is the record's failure. */
  rejected?: RejectedRecord;
}

/** Most records of one batch that may fail alone for their id; more fail the whole batch (and bound the chunk task's output). */
export const MAX_REJECTED_RECORDS = 100;

/** A batch id of the length functions/start makes (documentIdFor: 32 hex digits), for callers that do not pass one. */
const DEFAULT_BATCH_ID = "0".repeat(32);

/** At most this many bad records are described in a BAD_RECORD message; the rest are counted. */
const DESCRIBED_PROBLEMS = 5;
/** A described problem is cut to this many characters (a JSON parser's message may quote a whole long line). */
const MAX_PROBLEM_CHARS = 200;

/**
 * The records of a batch, in file order. Throws DocumentInputError (BAD_RECORD, NOT_UTF8, EMPTY_FILE) as described
 * above; record problems are collected over the whole file, so the error lists the first few and counts them all.
 */
export function parseRecords(bytes: Uint8Array, format: RecordFormat, options: RecordFieldOptions = {}): SourceRecord[] {
  const records: SourceRecord[] = [];
  forEachRecord(bytes, format, options, (record) => records.push(record));
  return records;
}

/**
 * Calls `visit` for each record in file order, as it is parsed. When a record is bad, `visit` is not called again,
 * but the rest of the file is still read to count the problems; then the BAD_RECORD error is thrown.
 */
export function forEachRecord(
  bytes: Uint8Array,
  format: RecordFormat,
  options: RecordFieldOptions,
  visit: (record: SourceRecord) => void,
): void {
  const textField = options.textField ?? DEFAULT_TEXT_FIELD;
  const idField = options.idField ?? DEFAULT_ID_FIELD;
  if (textField === "" || idField === "") throw new RangeError("textField and idField must not be empty");
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  const maxRecordBytes = options.maxRecordBytes ?? Number.POSITIVE_INFINITY;
  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;

  const batchId = options.batchId ?? DEFAULT_BATCH_ID;
  const problems = new Problems();
  const ids = new Map<string, number>();
  const rejected: RejectedRecord[] = [];
  let count = 0;
  let kept = 0;
  const accept = (parsed: SourceRecord, usesIdField: boolean): void => {
    let record = parsed;
    const idProblem = usesIdField ? recordIdProblem(batchId, record.id) : undefined;
    if (idProblem !== undefined) {
      const recordId = standInRecordId(record.id);
      const failure: RejectedRecord = {
        recordId,
        line: record.line,
        error: ErrorNames.DocumentInput,
        cause: `${DocumentInputCodes.BadRecord}: line ${record.line}: ${idProblem}`,
      };
      record = { ...record, id: recordId, rejected: failure };
    }
    const earlier = ids.get(record.id);
    if (earlier !== undefined) {
      problems.add(record.line, `duplicate ${usesIdField ? `${quote(idField)} ` : ""}id ${quote(record.id)} (also on line ${earlier})`);
      return;
    }
    ids.set(record.id, record.line);
    if (record.text.trim() === "") {
      problems.add(record.line, `the text field ${quote(textField)} is empty`);
      return;
    }
    count += 1;
    if (record.rejected) rejected.push(record.rejected);
    else if (++kept > maxRecords) throw tooManyRecords(maxRecords, record.line);
    if (problems.count === 0) visit(record);
  };

  if (format === "jsonl") readJsonLines(decodeUtf8(bytes), textField, idField, maxRecordBytes, problems, accept);
  else {
    // Checked without decoding: the parser reads the bytes, so a copy of the whole batch as a string is not needed.
    if (!isUtf8(bytes)) decodeUtf8(bytes);
    readCsv(withoutBom(bytes), textField, idField, maxRecordBytes, problems, accept);
  }

  problems.throwIfAny();
  if (count === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, `the ${format.toUpperCase()} batch has no records`);
  if (rejected.length === count || rejected.length > MAX_REJECTED_RECORDS) {
    for (const record of rejected) problems.add(record.line, record.cause.slice(`${DocumentInputCodes.BadRecord}: line ${record.line}: `.length));
    problems.throwIfAny(
      rejected.length === count
        ? "no record has an id that can be a key"
        : `more than ${MAX_REJECTED_RECORDS} records have an id that cannot be a key (is ${quote(idField)} the id field?)`,
    );
  }
}

class Problems {
  count = 0;
  private readonly described: string[] = [];

  add(line: number, message: string): void {
    this.count += 1;
    if (this.described.length < DESCRIBED_PROBLEMS) {
      const short = message.length > MAX_PROBLEM_CHARS ? `${message.slice(0, MAX_PROBLEM_CHARS)}…` : message;
      this.described.push(`line ${line}: ${short}`);
    }
  }

  throwIfAny(fatal?: string): void {
    if (this.count === 0 && fatal === undefined) return;
    const parts = [...this.described];
    if (this.count > this.described.length) parts.push(`and ${this.count - this.described.length} more bad record(s)`);
    if (fatal !== undefined) parts.push(fatal);
    const total = this.count === 0 ? "" : `${this.count} bad record(s); `;
    throw new DocumentInputError(DocumentInputCodes.BadRecord, `${total}${parts.join("; ")}`);
  }
}

function quote(name: string): string {
  return JSON.stringify(name);
}

function recordTooLarge(line: number, maxRecordBytes: number, format: RecordFormat): DocumentInputError {
  return new DocumentInputError(
    DocumentInputCodes.TooLarge,
    `line ${line}: the ${format === "csv" ? "CSV row" : "JSON Lines record"} is over the limit of ` +
      `${maxRecordBytes} bytes per record (setting ${EnvNames.maxRecordBytes}=${maxRecordBytes})`,
  );
}

function tooManyRecords(maxRecords: number, line: number): DocumentInputError {
  return new DocumentInputError(
    DocumentInputCodes.TooLarge,
    `the record batch has more than ${maxRecords} records (line ${line} is record ${maxRecords + 1}; each record is at ` +
      `least one chunk, so records are bounded by setting ${EnvNames.maxChunks}=${maxRecords})`,
  );
}

/** The bytes after a leading UTF-8 byte order mark, if any (TextDecoder drops it from the decoded text). */
function withoutBom(bytes: Uint8Array): Uint8Array {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

/** Decodes strict UTF-8 (a leading BOM dropped); on failure names the first line that is not UTF-8. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    let line = 1;
    let start = 0;
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for (let k = 0; k <= bytes.length; k++) {
      if (k < bytes.length && bytes[k] !== 0x0a) continue;
      try {
        decoder.decode(bytes.subarray(start, k));
      } catch {
        break;
      }
      line += 1;
      start = k + 1;
    }
    throw new DocumentInputError(DocumentInputCodes.NotUtf8, `the record batch is not valid UTF-8 (line ${line})`, {
      cause: error,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON Lines

function readJsonLines(
  text: string,
  textField: string,
  idField: string,
  maxRecordBytes: number,
  problems: Problems,
  accept: (record: SourceRecord, usesIdField: boolean) => void,
): void {
  let usesIdField: boolean | undefined;
  let line = 0;
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline;
    line += 1;
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: the exact count is only needed between those bounds (and never slices a
    // huge line first).
    const units = end - start;
    if (units * 3 > maxRecordBytes && (units > maxRecordBytes || Buffer.byteLength(text.slice(start, end), "utf8") > maxRecordBytes)) {
      throw recordTooLarge(line, maxRecordBytes, "jsonl");
    }
    const raw = text.slice(start, end);
    start = end + 1;
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      // JSON.parse's message can quote the line (`Unexpected token …, "{"text": …" is not valid JSON`), and the message
      // becomes the item's cause: only where the parser stopped.
      const position = /position (\d+)/.exec((error as Error).message)?.[1];
      problems.add(line, `not valid JSON${position === undefined ? "" : ` (stops at character ${Number(position) + 1})`}`);
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.add(line, `not a JSON object (${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value})`);
      continue;
    }
    const object = value as Record<string, unknown>;
    const recordText = object[textField];
    if (typeof recordText !== "string") {
      problems.add(
        line,
        recordText === undefined ? `no text field ${quote(textField)}` : `the text field ${quote(textField)} is not a string`,
      );
      continue;
    }
    const rawId = object[idField];
    usesIdField ??= rawId !== undefined;
    let id: string;
    if (usesIdField) {
      const parsed = idValue(rawId);
      if (parsed === undefined) {
        problems.add(
          line,
          rawId === undefined
            ? `no id field ${quote(idField)} (earlier records have one: give every record an id, or none)`
            : `the id field ${quote(idField)} is not a non-empty string or a number`,
        );
        continue;
      }
      id = parsed;
    } else {
      if (rawId !== undefined) {
        problems.add(line, `has an id field ${quote(idField)} but the first record has none: give every record an id, or none`);
        continue;
      }
      id = String(line);
    }
    accept({ id, text: recordText, line }, usesIdField);
  }
}

function idValue(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// CSV (the rows: csv.ts)

function readCsv(
  bytes: Uint8Array,
  textField: string,
  idField: string,
  maxRecordBytes: number,
  problems: Problems,
  accept: (record: SourceRecord, usesIdField: boolean) => void,
): void {
  let header: string[] | undefined;
  let textColumn = -1;
  let idColumn = -1;
  let rowNumber = 0;
  try {
    forEachCsvRow(bytes, (row) => {
      if (header === undefined) {
        header = row.fields;
        textColumn = uniqueColumn(header, textField, "text", row.line);
        idColumn = header.includes(idField) ? uniqueColumn(header, idField, "id", row.line) : -1;
        return;
      }
      rowNumber += 1;
      if (row.fields.length !== header.length) {
        problems.add(row.line, `${row.fields.length} field(s), the header has ${header.length}`);
        return;
      }
      let id = String(rowNumber);
      if (idColumn >= 0) {
        id = row.fields[idColumn] as string;
        if (id === "") {
          problems.add(row.line, `the id column ${quote(idField)} is empty`);
          return;
        }
      }
      accept({ id, text: row.fields[textColumn] as string, line: row.line }, idColumn >= 0);
    }, Number.isFinite(maxRecordBytes) ? maxRecordBytes : 0);
  } catch (error) {
    if (error instanceof CsvRecordSizeError) throw recordTooLarge(error.line, maxRecordBytes, "csv");
    if (!(error instanceof CsvSyntaxError)) throw error;
    // A syntax error leaves the rest of the file unreadable: report it with what was found before.
    problems.throwIfAny(`CSV syntax error on line ${error.line}: ${error.reason}`);
  }
}

function uniqueColumn(header: readonly string[], name: string, role: string, line: number): number {
  const index = header.indexOf(name);
  if (index === -1) {
    throw new DocumentInputError(
      DocumentInputCodes.BadRecord,
      `line ${line}: the CSV header has no ${role} column ${quote(name)} (columns: ${header.map(quote).join(", ")})`,
    );
  }
  if (header.indexOf(name, index + 1) !== -1) {
    throw new DocumentInputError(DocumentInputCodes.BadRecord, `line ${line}: the CSV header has the ${role} column ${quote(name)} twice`);
  }
  return index;
}
