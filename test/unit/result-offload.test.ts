import { describe, expect, it } from "vitest";
import type { ItemDraft } from "../../functions/merge/document.ts";
import { itemSizeBound, offloadIfTooLarge, type OffloadedResult } from "../../functions/merge/result-offload.ts";

const draft = (reasons: number): ItemDraft =>
  ({
    documentId: "d",
    kind: "document",
    contractVersion: 1,
    status: "COMPLETED",
    source: { bucket: "b", key: "uploads/a.pdf", etag: "e", size: 1 },
    sourceOrder: "0".repeat(40),
    executionArn: "arn:x",
    schemaId: "generic",
    result: { title: "x".repeat(3000) },
    provenance: { title: { chunks: [0], pages: [{ start: 1, end: 1 }] } },
    conflicts: [],
    grounding: { title: { match: "none" } },
    confidence: { title: 0.3 },
    needsReview: true,
    reviewReasons: Array.from({ length: reasons }, (_, i) => ({ code: "ungrounded" as const, path: `field${i}` })),
    timings: { startedAt: "2024-01-01T00:00:00.000Z" },
    updatedAt: "2024-01-01T00:00:00.000Z",
  }) as ItemDraft;

const location = { bucket: "b", key: "results/d/x.json" };

describe("offloading a result too large for its item", () => {
  it("moves the result, provenance, conflicts, grounding and confidences to S3 and keeps the review flag and reasons", () => {
    const { item, offloaded } = offloadIfTooLarge(draft(3), 2_000, location);
    const stored = JSON.parse(offloaded!.body) as OffloadedResult;
    expect(Object.keys(stored).sort()).toEqual(["confidence", "conflicts", "grounding", "provenance", "result"]);
    expect(item).not.toHaveProperty("result");
    expect(item).not.toHaveProperty("grounding");
    expect(item).toMatchObject({ needsReview: true, resultLocation: { ...location, bytes: Buffer.byteLength(offloaded!.body) } });
    expect(item.reviewReasons).toHaveLength(3);
  });

  it("moves the reasons too when the item would still be too large with them; the flag stays", () => {
    const { item, offloaded } = offloadIfTooLarge(draft(100), 2_000, location);
    const stored = JSON.parse(offloaded!.body) as OffloadedResult;
    expect(item).not.toHaveProperty("reviewReasons");
    expect(item.needsReview).toBe(true);
    expect(stored.reviewReasons).toHaveLength(100);
    expect(itemSizeBound(item)).toBeLessThanOrEqual(2_000);
    expect(item.resultLocation!.bytes).toBe(Buffer.byteLength(offloaded!.body));
  });

  it("leaves an item that fits as it is", () => {
    const small = { ...draft(2), result: { title: "t" } };
    expect(offloadIfTooLarge(small, 350_000, location)).toEqual({ item: small });
  });
});
