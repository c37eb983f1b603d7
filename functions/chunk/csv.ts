import { CsvError, parse } from "csv-parse/sync";

/** The CSV reader of record batches (records.ts): RFC 4180 rows with their line numbers, by csv-parse. */

/** A CSV syntax error: where it is and what is wrong. */
export class CsvSyntaxError extends Error {
  override readonly name = "CsvSyntaxError";
  constructor(
    readonly line: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`line ${line}: ${reason}`, options);
  }
}

/** A CSV row over the byte bound given to forEachCsvRow; `line` is where the row starts. */
export class CsvRecordSizeError extends Error {
  override readonly name = "CsvRecordSizeError";
  constructor(
    readonly line: number,
    readonly maxRecordBytes: number,
    options?: { cause?: unknown },
  ) {
    super(`line ${line}: the row is over ${maxRecordBytes} bytes`, options);
  }
}

export interface CsvRow {
  fields: string[];
  /** 1-based physical line where the row starts. */
  line: number;
}

/**
 * RFC 4180 CSV, read by csv-parse, leniently where the RFC is silent: fields separated by commas; rows ended by CRLF,
 * LF or a lone CR (mixed in one file too); the last row's line break optional; a field in double quotes may hold
 * commas, line breaks and `""` for one quote; whitespace around fields is data; rows may have different field counts
 * (the caller checks them against the header). Completely empty lines are skipped (no row). Strict where ambiguity
 * would corrupt data: a quote inside an unquoted field, text after a closing quote, or a quote left open at the end of
 * the input throws CsvSyntaxError naming the line (for an unclosed quote, the line where its row starts). A leading BOM
 * must be removed by the caller (TextDecoder does).
 */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  forEachCsvRow(Buffer.from(text, "utf8"), (row) => rows.push(row));
  return rows;
}

/**
 * Calls `visit` for each row of UTF-8 CSV `bytes` (no BOM) as it is parsed (csv-parse's sync API with `on_record`, so
 * the rows are not kept); on a syntax error throws CsvSyntaxError after the rows before it have been visited.
 * `maxRecordBytes` (0: none): a row over it throws CsvRecordSizeError as soon as the parser has buffered that much
 * (csv-parse's `max_record_size`, counted on the row's field bytes), before the row exists as strings.
 */
export function forEachCsvRow(bytes: Uint8Array, visit: (row: CsvRow) => void, maxRecordBytes = 0): void {
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // csv-parse's own line count double-counts a CRLF inside quotes when a lone CR also ends rows, so lines are counted
  // here, on the byte offsets csv-parse reports (`bytes`: where a row, its line break included, ends).
  const lines = new LineCounter(input);
  let rowEnd = 0;
  try {
    parse(input, {
      ...CSV_OPTIONS,
      max_record_size: maxRecordBytes,
      on_record: (record, context) => {
        const line = lines.lineAt(lines.skipLineBreaks(rowEnd));
        rowEnd = context.bytes;
        visit({ fields: record, line });
        return null;
      },
    });
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // The row that failed starts after the last good one (and any empty lines).
    const rowStart = lines.skipLineBreaks(rowEnd);
    if (error.code === "CSV_MAX_RECORD_SIZE") throw new CsvRecordSizeError(lines.lineAt(rowStart), maxRecordBytes, { cause: error });
    const raw = failingRowText(input.subarray(rowStart));
    const at = Math.max(rowStart, rowStart + Buffer.byteLength(raw, "utf8") - 1);
    switch (error.code) {
      case "CSV_QUOTE_NOT_CLOSED":
        throw new CsvSyntaxError(lines.lineAt(rowStart), "a quoted field is not closed before the end of the file", { cause: error });
      case "CSV_INVALID_CLOSING_QUOTE":
        throw new CsvSyntaxError(lines.lineAt(at), "text after a closing quote (a quote inside a field must be doubled)", { cause: error });
      case "INVALID_OPENING_QUOTE":
        throw new CsvSyntaxError(lines.lineAt(at), "a quote inside an unquoted field (quote the field and double the quote)", { cause: error });
      default:
        throw new CsvSyntaxError(lines.lineAt(rowStart), error.message, { cause: error });
    }
  }
}

const CSV_OPTIONS = { record_delimiter: ["\r\n", "\n", "\r"], skip_empty_lines: true, relax_column_count: true };

/**
 * The text of the first row of `rest` up to its syntax error: csv-parse's `raw` of the error. Asked for only after an
 * error (`raw: true` on the whole file made parsing about half again slower), by parsing again from the failing row.
 */
function failingRowText(rest: Buffer): string {
  try {
    parse(rest, { ...CSV_OPTIONS, raw: true, to: 1 });
  } catch (error) {
    if (error instanceof CsvError && typeof error.raw === "string") return error.raw;
  }
  return "";
}

const LF = 0x0a;
const CR = 0x0d;

/** 1-based line numbers of byte offsets, asked for in increasing order (one pass over the bytes in all). */
class LineCounter {
  private offset = 0;
  private line = 1;
  constructor(private readonly bytes: Uint8Array) {}

  /** The line `offset` is on; a line break (CRLF, LF or a lone CR) ends its line. */
  lineAt(offset: number): number {
    const { bytes } = this;
    for (; this.offset < offset && this.offset < bytes.length; this.offset++) {
      const byte = bytes[this.offset];
      if (byte === LF || (byte === CR && bytes[this.offset + 1] !== LF)) this.line += 1;
    }
    return this.line;
  }

  /** The first offset at or after `offset` that is not a line break byte. */
  skipLineBreaks(offset: number): number {
    let next = offset;
    while (next < this.bytes.length && (this.bytes[next] === LF || this.bytes[next] === CR)) next++;
    return next;
  }
}
