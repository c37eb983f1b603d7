import type { DocumentItem } from "../shared/document-item.ts";
import type { ItemDraft } from "./document.ts";

/**
 * DynamoDB items are at most 400 KB. A result that would push its item over the bound goes to S3 with its provenance,
 * conflicts, failed-chunk list, grounding and confidences; the item keeps a pointer (`resultLocation`) and everything
 * else: needsReview always, and its reasons unless the item would still be too large with them.
 */
export const defaultMaxItemBytes = 350_000;

/** The large part of an item, as stored in S3. */
export interface OffloadedResult {
  result?: DocumentItem["result"];
  provenance?: DocumentItem["provenance"];
  conflicts?: DocumentItem["conflicts"];
  failedChunks?: DocumentItem["failedChunks"];
  grounding?: DocumentItem["grounding"];
  confidence?: DocumentItem["confidence"];
  /** Only when the item would still be too large with them (the item keeps `needsReview`). */
  reviewReasons?: DocumentItem["reviewReasons"];
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
  const { result, provenance, conflicts, failedChunks, grounding, confidence, ...rest } = draft;
  const stored: OffloadedResult = { result, provenance, conflicts, failedChunks, grounding, confidence };
  const pointer = { ...location, bytes: 0 };
  let item: ItemDraft = { ...rest, resultLocation: pointer };
  // Up to 100 review reasons stay in the item for consumers that route on them, unless the item is still too large.
  if (item.reviewReasons && itemSizeBound(item) + costDigitsHeadroomBytes > maxBytes) {
    const { reviewReasons, ...withoutReasons } = item;
    stored.reviewReasons = reviewReasons;
    item = withoutReasons;
  }
  const body = JSON.stringify(stored);
  pointer.bytes = Buffer.byteLength(body, "utf8");
  return { item, offloaded: { body, ...location } };
}
