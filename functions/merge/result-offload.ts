import { createHash } from "node:crypto";
import type { DocumentItem } from "../shared/document-item.ts";
import type { ItemDraft } from "./document.ts";

/**
 * DynamoDB items are at most 400 KB. A result that would push its item over the bound goes to S3 with its provenance,
 * conflicts and failed-chunk list; the item keeps a pointer (`resultLocation`) and everything else.
 */
export const defaultMaxItemBytes = 350_000;

/** Where such results go: `results/<document id>/<execution name>.json` (resultKeyFor). */
export const resultsPrefix = "results/";

/** Longest item-key segment of a results key, bytes: within a file name's 255 bytes (the twin's s3rver) and S3's 1,024 per key. */
const MAX_KEY_SEGMENT_BYTES = 200;

/**
 * The S3 key of an item's offloaded result: `results/<item key, URI-encoded>/<execution name>.json`. Encoding keeps
 * the item key one segment whatever a record id holds (`/`, `..`, `%`, `\`): no other prefix, no path traversal. A
 * record's item key can be 2,048 bytes, three times that encoded: when the segment would be over 200 bytes, it is
 * `<batch id>%23sha256-<64 hex of the item key>` instead (the item's `resultLocation` says where; nothing derives it).
 */
export function resultKeyFor(documentId: string, executionName: string): string {
  let segment = encodeURIComponent(documentId);
  if (Buffer.byteLength(segment, "utf8") > MAX_KEY_SEGMENT_BYTES) {
    const batchId = documentId.split("#", 1)[0]!;
    const prefix = batchId.length < documentId.length && batchId.length <= 64 ? `${encodeURIComponent(batchId)}%23` : "";
    segment = `${prefix}sha256-${createHash("sha256").update(documentId, "utf8").digest("hex")}`;
  }
  return `${resultsPrefix}${segment}/${encodeURIComponent(executionName)}.json`;
}

/** The large part of an item, as stored in S3. */
export interface OffloadedResult {
  result?: DocumentItem["result"];
  provenance?: DocumentItem["provenance"];
  conflicts?: DocumentItem["conflicts"];
  failedChunks?: DocumentItem["failedChunks"];
}

/**
 * An upper bound of the item's DynamoDB size: its JSON's UTF-8 length. DynamoDB counts attribute names and values
 * without JSON's quotes, braces and separators, and a number as at most 21 bytes, so the JSON is never smaller.
 */
export function itemSizeBound(item: object): number {
  return Buffer.byteLength(JSON.stringify(item), "utf8");
}

/** Splits a draft whose size bound exceeds `maxBytes` into the item (with `resultLocation`) and the S3 body. */
/** Room for the final cost's numbers, which can have a few more digits than the estimate the size was checked with. */
const costDigitsHeadroomBytes = 64;

export function offloadIfTooLarge(
  draft: ItemDraft,
  maxBytes: number,
  location: { bucket: string; key: string },
): { item: ItemDraft; offloaded?: { body: string; bucket: string; key: string } } {
  // The item's cost is computed again after this decision, and its digits may grow a little.
  if (itemSizeBound(draft) + costDigitsHeadroomBytes <= maxBytes) return { item: draft };
  const { result, provenance, conflicts, failedChunks, ...rest } = draft;
  const body = JSON.stringify({ result, provenance, conflicts, failedChunks } satisfies OffloadedResult);
  const item: ItemDraft = { ...rest, resultLocation: { ...location, bytes: Buffer.byteLength(body, "utf8") } };
  return { item, offloaded: { body, ...location } };
}
