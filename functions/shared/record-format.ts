import { createHash } from "node:crypto";

/** Record batch formats, by the upload's extension: shared by the chunker (how to read it) and the start function (what kind of item it makes). */
export type RecordFormat = "jsonl" | "csv";

/** Record batch format of an object key (by extension, case-insensitive), undefined for any other document. */
export function recordFormatOf(key: string): RecordFormat | undefined {
  const lower = key.toLowerCase();
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".csv")) return "csv";
  return undefined;
}

/**
 * Record ids are data, so a record's item key `<batch>#<id>` must hold any id that can be a key without changing it.
 * DynamoDB limits a partition key to 2,048 bytes of UTF-8. An id with a control character (Unicode Cc: C0, DEL, C1)
 * could split a log line or a terminal's output and is never a sensible key; a lone UTF-16 surrogate (possible from a
 * JSON `\ud800` escape) has no UTF-8 form, so it would be stored as U+FFFD and two such ids would share one key.
 * Any other character, `/`, `..`, `%`, `\` and `#` included, is data; S3 keys never contain an id unencoded.
 */
export const MAX_RECORD_KEY_BYTES = 2048;

/** Why `recordId` cannot be part of the key `<batchId>#<recordId>`, for people; undefined when it can. */
export function recordIdProblem(batchId: string, recordId: string): string | undefined {
  const control = /[\p{Cc}\p{Cs}]/u.exec(recordId);
  if (control) {
    const code = control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    const kind = /\p{Cs}/u.test(control[0]) ? "an unpaired surrogate" : "a control character";
    return `the id has ${kind} (U+${code}) at character ${control.index + 1}: ${idPreview(recordId)}`;
  }
  const keyBytes = Buffer.byteLength(`${batchId}#${recordId}`, "utf8");
  if (keyBytes > MAX_RECORD_KEY_BYTES) {
    return (
      `the id is ${Buffer.byteLength(recordId, "utf8")} bytes: its item key "<batch>#<id>" would be ${keyBytes} bytes, ` +
      `DynamoDB allows ${MAX_RECORD_KEY_BYTES}: ${idPreview(recordId)}`
    );
  }
  return undefined;
}

/** Characters of an id quoted in a message: enough to find the record, never the whole of a long id. */
const ID_PREVIEW_CHARS = 40;

/** The id's start as a JSON string (control characters and lone surrogates escaped), "…" when cut. */
function idPreview(recordId: string): string {
  const head = [...recordId].slice(0, ID_PREVIEW_CHARS).join("");
  return `starts ${JSON.stringify(head)}${head.length < recordId.length ? "…" : ""}`;
}

/**
 * The stable stand-in id of a record whose id cannot be a key: `bad-id:` and the first 32 hex digits (128 bits) of
 * the SHA-256 of the id as a JSON string (so a lone surrogate hashes as its escape). The same id gives the same
 * stand-in in every upload; its item key is `<batch>#bad-id:<hex>`, well within the limit.
 */
export function standInRecordId(recordId: string): string {
  return `bad-id:${createHash("sha256").update(JSON.stringify(recordId), "utf8").digest("hex").slice(0, 32)}`;
}

/**
 * A record the batch holds but whose id cannot be a key: it is not extracted, and the merge writes it as a FAILED
 * record item under `recordId` (the stand-in) with this error and cause (`BAD_RECORD: line <n>: ...`).
 */
export interface RejectedRecord {
  /** The stand-in id (standInRecordId). */
  recordId: string;
  /** 1-based line of the batch file where the record starts. */
  line: number;
  error: "DocumentInputError";
  cause: string;
}
