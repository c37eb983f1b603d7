import { describe, expect, it } from "vitest";
import { buildDocumentItems, type MapRunResults } from "../../functions/merge/document.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { ChunkResult, MergeTaskInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf, type DocumentItem } from "../../functions/shared/document-item.ts";
import { itemSchema, validateItem } from "../helpers/item-schema.ts";
import { chunkResult, genericData, mergeTaskInput } from "../helpers/chunk-items.ts";

/** The item contract has two spellings, a TypeScript type and a JSON Schema; these tests keep them the same. */

// Written out so the compiler checks it against DocumentItem in both directions (a key missing here or extra fails).
const itemKeys: Record<keyof DocumentItem, true> = {
  documentId: true, kind: true, contractVersion: true, status: true, version: true, source: true, sourceOrder: true,
  executionArn: true, schemaId: true, modelId: true, result: true, resultLocation: true, provenance: true, conflicts: true,
  chunks: true, failedChunks: true, ocr: true, records: true, batchId: true, recordId: true, error: true, cause: true, timings: true,
  tokens: true, cost: true, updatedAt: true, grounding: true, confidence: true, needsReview: true, reviewReasons: true,
  reviewPage: true,
};

const generic = getExtractionSchema("generic");
const chunk = (index: number, extra: Partial<ChunkResult> = {}): ChunkResult =>
  chunkResult({
    index,
    tokensIn: 1,
    tokensOut: 1,
    ms: 5,
    data: genericData({ title: `T${index}`, documentType: "report", summary: "s", entities: [{ name: "Initech", kind: "organization" }] }),
    ...extra,
  });
const input: MergeTaskInput = mergeTaskInput({
  schemaId: "generic",
  source: { bucket: "b", key: "uploads/a.pdf", etag: "e", size: 9, sequencer: "0A1B" },
  sourceOrder: sourceOrderOf("0A1B"),
  chunking: { manifest: { bucket: "b", key: "chunks/d/manifest.jsonl" }, chunkCount: 3, tokenCount: 90, ms: 4 },
  mapRun: { ResultWriterDetails: { Bucket: "b", Key: "k" } },
  execution: { id: "arn:aws:states:us-east-1:1:execution:wf:x", startTime: "2024-05-01T10:00:00.000Z" },
  toleratedFailurePercentage: 50,
});

describe("the document item contract", () => {
  it("names the same fields in the TypeScript type and the JSON Schema", () => {
    expect(Object.keys(itemSchema.properties).sort()).toEqual(Object.keys(itemKeys).sort());
  });

  it("accepts the items the merge builds: COMPLETED, PARTIAL, FAILED, batch and record items", () => {
    const collected = (results: ChunkResult[], failed: MapRunResults["failedChunks"] = []): MapRunResults => ({ results, failedChunks: failed });
    const now = new Date("2024-05-01T10:01:00.000Z");
    const drafts = [
      buildDocumentItems({ input, collected: collected([chunk(0), chunk(1), chunk(2)]), schema: generic, schemaId: "generic", now }).item,
      buildDocumentItems({ input, collected: collected([chunk(0), chunk(1)], [{ index: 2, error: "OutputTruncated", cause: "cap" }]), schema: generic, schemaId: "generic", now }).item,
      buildDocumentItems({ input, collected: collected([chunk(0)], [{ index: 1, error: "E" }, { index: 2, error: "E" }]), schema: generic, schemaId: "generic", now }).item,
    ];
    const batch = buildDocumentItems({
      input: { ...input, chunking: { ...input.chunking, recordCount: 2 } },
      collected: collected([chunk(0, { recordId: "a" }), chunk(1, { recordId: "a" })], [{ index: 2, recordId: "b", error: "E", cause: "c" }]),
      schema: generic,
      schemaId: "generic",
      now,
    });
    drafts.push(batch.item, ...batch.records);
    expect(drafts.map((d) => `${d.kind}:${d.status}`)).toEqual([
      "document:COMPLETED", "document:PARTIAL", "document:FAILED", "batch:PARTIAL", "record:COMPLETED", "record:FAILED",
    ]);
    for (const draft of drafts) {
      const item: DocumentItem = { ...draft, version: 4 };
      expect(validateItem(JSON.parse(JSON.stringify(item))), JSON.stringify(validateItem.errors)).toBe(true);
    }
  });

  it("carries what OCR did: a failed page within the tolerance makes a COMPLETED document PARTIAL", () => {
    const now = new Date("2024-05-01T10:01:00.000Z");
    const ocr = {
      pages: [1, 3],
      failedPages: [{ page: 2, error: "OCR_TIMEOUT" as const, message: "page 2 did not finish within 120 s" }],
      lowConfidencePages: [3],
    };
    const collected = { results: [chunk(0), chunk(1), chunk(2)], failedChunks: [] };
    const scanned = buildDocumentItems({ input: { ...input, chunking: { ...input.chunking, ocr } }, collected, schema: generic, schemaId: "generic", now });
    expect(scanned.item).toMatchObject({ status: "PARTIAL", ocr });
    const clean = buildDocumentItems({
      input: { ...input, chunking: { ...input.chunking, ocr: { ...ocr, failedPages: [] } } },
      collected,
      schema: generic,
      schemaId: "generic",
      now,
    });
    expect(clean.item.status).toBe("COMPLETED");
    for (const draft of [scanned.item, clean.item]) {
      expect(validateItem(JSON.parse(JSON.stringify({ ...draft, version: 3 }))), JSON.stringify(validateItem.errors)).toBe(true);
    }
    const badCode = { ...scanned.item, version: 3, ocr: { ...ocr, failedPages: [{ page: 2, error: "TIMEOUT", message: "m" }] } };
    expect(validateItem(JSON.parse(JSON.stringify(badCode)))).toBe(false);
  });

  it("rejects what a consumer could not rely on", () => {
    const item = { ...buildDocumentItems({ input, collected: { results: [chunk(0), chunk(1), chunk(2)], failedChunks: [] }, schema: generic, schemaId: "generic", now: new Date() }).item, version: 2 };
    const { result, ...withoutResult } = item;
    expect(result).toMatchObject({ documentType: "report", entities: [{ name: "Initech", kind: "organization" }] });
    expect(validateItem(JSON.parse(JSON.stringify(withoutResult)))).toBe(false); // COMPLETED needs a result or its location
    expect(validateItem({ ...JSON.parse(JSON.stringify(item)), status: "DONE" })).toBe(false);
    expect(validateItem({ ...JSON.parse(JSON.stringify(item)), status: "FAILED" })).toBe(false); // FAILED needs error and cause
    expect(validateItem({ ...JSON.parse(JSON.stringify(item)), version: 0 })).toBe(false);
  });
});
