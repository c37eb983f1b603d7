/**
 * The merge at its size bound: a 100,000-record batch (tens of seconds on 2 cores, so not in the unit layer; the merge's
 * rules are in test/unit/merge.test.ts).
 */
import { describe, expect, it } from "vitest";
import { buildDocumentItems } from "../../functions/merge/document.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { ChunkResult } from "../../functions/shared/contracts.ts";
import { chunkResult, genericData, mergeTaskInput } from "../helpers/chunk-items.ts";

const schema = getExtractionSchema("generic");

describe("reading a Map Run's results and building the document item", () => {
  it("handles a 100,000-record batch: one item per record, counts that add up", () => {
    const total = 100_000;
    const results: ChunkResult[] = [];
    const failedChunks: Array<{ index: number; recordId: string; error: string }> = [];
    for (let i = 0; i < total; i++) {
      if (i % 1000 === 7) failedChunks.push({ index: i, recordId: `r${i}`, error: "OutputTruncated" });
      else results.push(chunkResult({ index: i, data: genericData({ title: `R${i}` }), recordId: `r${i}`, pageStart: 1, pageEnd: 1 }));
    }
    const input = mergeTaskInput({ chunking: { chunkCount: total, recordCount: total, pageCount: total }, toleratedFailurePercentage: 10 });
    const { item, records } = buildDocumentItems({ input, collected: { results, failedChunks }, schema, schemaId: "generic", now: new Date() });
    expect(records).toHaveLength(total);
    expect(item).toMatchObject({ kind: "batch", status: "PARTIAL", records: { total, completed: total - 100, partial: 0, failed: 100 } });
    expect(new Set(records.map((r) => r.documentId)).size).toBe(total);
    expect(records[8]).toMatchObject({ recordId: "r8", status: "COMPLETED", result: { title: "R8" } });
  });
});
