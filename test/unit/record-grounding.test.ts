/**
 * Grounding a record batch's values: the chunk step's batch layout (each record's text and chunk spans) and the merge
 * grounding each record's values in its own record's text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { chunkRecords } from "../../functions/chunk/chunk-records.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { uncheckedFactor } from "../../functions/merge/confidence.ts";
import { buildDocumentItems, type ItemDraft } from "../../functions/merge/document.ts";
import type { Grounder } from "../../functions/merge/field-trust.ts";
import { groundValue } from "../../functions/merge/grounding.ts";
import type { ChunkResult, RecordBatchLayout } from "../../functions/shared/contracts.ts";
import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";
import { isRecordBatchLayout, recordLayoutsOf } from "../../functions/shared/record-batch-layout.ts";
import { standInRecordId } from "../../functions/shared/record-format.ts";
import { chunkResult, mergeTaskInput } from "../helpers/chunk-items.ts";
import { validateItem } from "../helpers/item-schema.ts";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const jsonl = (...records: unknown[]): Uint8Array => utf8(records.map((record) => JSON.stringify(record)).join("\n"));

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

describe("the chunk step's layout for a record batch", () => {
  it("holds each record's text as chunked and its chunks' spans, in record order; rejected records are left out", () => {
    const long = Array.from({ length: 60 }, (_, k) => `Sentence ${k} of a long review.`).join(" ");
    const bytes = jsonl(
      { id: "short", text: "  Short review.  " },
      { id: "x".repeat(3_000), text: "An id too long for a key." },
      { id: "long", text: long },
    );
    const { chunks, layout } = chunkRecords(bytes, "jsonl", { maxTokens: 50, tokenizer });
    expect(layout.kind).toBe("records");
    expect(layout.records.map((record) => record.recordId)).toEqual(["short", "long"]);
    expect(layout.records[0]).toEqual({ recordId: "short", text: "  Short review.  ", chunks: [{ index: 0, charStart: 2, charEnd: 15 }] });
    expect(layout.records[1]!.text).toBe(long);
    expect(layout.records[1]!.chunks.length).toBeGreaterThan(2);
    // Every chunk the model reads is its record's text at the span the layout gives it.
    const spans = layout.records.flatMap((record) => record.chunks.map((span) => ({ ...span, recordId: record.recordId, text: record.text })));
    expect(spans.map((span) => span.index)).toEqual(chunks.map((chunk) => chunk.index));
    for (const [k, span] of spans.entries()) {
      expect(chunks[k]).toMatchObject({ recordId: span.recordId, charStart: span.charStart, charEnd: span.charEnd });
      expect(span.text.slice(span.charStart, span.charEnd)).toBe(chunks[k]!.text);
    }
    expect(layout.records.some((record) => record.recordId === standInRecordId("x".repeat(3_000)))).toBe(false);
  });

  it("is what chunkDocument returns for a .csv batch (as batchLayout, never as a document's layout)", async () => {
    const csv = utf8('id,text\r\nr1,"Broke after\r\ntwo days."\r\nr2,Fine.\r\n');
    const result = await chunkDocument(csv, { documentId: "batch-1", sourceKey: "uploads/reviews.csv", bucket: "work", maxTokens: 100, tokenizer });
    expect(result.layout).toBeUndefined();
    expect(result.batchLayout).toEqual({
      version: 1,
      kind: "records",
      records: [
        { recordId: "r1", text: "Broke after\r\ntwo days.", chunks: [{ index: 0, charStart: 0, charEnd: 22 }] },
        { recordId: "r2", text: "Fine.", chunks: [{ index: 1, charStart: 0, charEnd: 5 }] },
      ],
    } satisfies RecordBatchLayout);
    expect(isRecordBatchLayout(result.batchLayout!)).toBe(true);
  });

  it("turns each record into a document of one page without runs, like a text upload's", () => {
    const layoutOf = recordLayoutsOf({
      version: 1,
      kind: "records",
      records: [{ recordId: "a", text: "Hello there.", chunks: [{ index: 4, charStart: 0, charEnd: 12 }] }],
    });
    expect(layoutOf("b")).toBeUndefined();
    expect(layoutOf("a")).toEqual({
      version: 1,
      text: "Hello there.",
      pages: [{ page: 1, charStart: 0, charEnd: 12, width: 0, height: 0, source: "text-layer", runs: [] }],
      chunks: [{ index: 4, charStart: 0, charEnd: 12 }],
    });
  });
});

describe("the merge grounds each record's values in its record's text", () => {
  const batchId = "0123456789abcdef0123456789abcdef";
  /** A review schema whose order number must be found (x-grounding: required). */
  const schema: JsonSchemaNode = {
    type: "object",
    additionalProperties: false,
    required: ["product", "order", "summary"],
    properties: {
      product: { type: ["string", "null"], maxLength: 120 },
      order: { type: ["string", "null"], maxLength: 20, "x-grounding": "required" },
      summary: { type: "string", maxLength: 200, "x-grounding": "none" },
    },
  };
  const texts = {
    // Leading spaces: the chunk starts at 2, the grounding's offsets are into the record's text.
    r1: "  Ordered the Acme stapler, order A-1001; it arrived late.",
    r2: "The blue kettle works fine.",
  };
  const chunked = () => chunkRecords(jsonl(...Object.entries(texts).map(([id, text]) => ({ id, text }))), "jsonl", { maxTokens: 1000, tokenizer });
  const results: ChunkResult[] = [
    chunkResult({ documentId: batchId, index: 0, recordId: "r1", pageStart: 1, pageEnd: 1, data: { product: "Acme stapler", order: "A-1001", summary: "Late." } }),
    // The order number is made up: the record never says it.
    chunkResult({ documentId: batchId, index: 1, recordId: "r2", pageStart: 1, pageEnd: 1, data: { product: "blue kettle", order: "Z-9999", summary: "Fine." } }),
  ];
  const merge = (groundRecord?: (recordId: string) => Grounder | undefined): Map<string, ItemDraft> => {
    const { records } = buildDocumentItems({
      input: mergeTaskInput({
        documentId: batchId,
        source: { bucket: "bucket", key: "uploads/reviews/r.jsonl", etag: "e", size: 5 },
        chunking: { chunkCount: 2, pageCount: 2, recordCount: 2, tokenCount: 30, ms: 1 },
      }),
      collected: { results, failedChunks: [] },
      schema,
      schemaId: "review-orders",
      now: new Date("2024-05-01T10:01:00.000Z"),
      ...(groundRecord ? { groundRecord } : {}),
    });
    return new Map(records.map((record) => [record.recordId!, record]));
  };
  const groundedBy = (layout: RecordBatchLayout) => {
    const layoutOf = recordLayoutsOf(layout);
    return (recordId: string): Grounder | undefined => {
      const recordLayout = layoutOf(recordId);
      return recordLayout && ((value, chunks, near) => groundValue(value, recordLayout, chunks, near));
    };
  };

  it("finds a value the record holds exactly, quoting the record's text at offsets into it, on page 1", () => {
    const records = merge(groundedBy(chunked().layout));
    const r1 = records.get("r1")!;
    const at = texts.r1.indexOf("Acme stapler");
    expect(r1.grounding?.product).toEqual({ match: "exact", page: 1, charStart: at, charEnd: at + 12, quote: "Acme stapler", boxes: [] });
    expect(texts.r1.slice(r1.grounding!.order!.charStart, r1.grounding!.order!.charEnd)).toBe("A-1001");
    expect(r1.grounding?.summary).toEqual({ match: "ungroundable" });
    expect(r1.confidence?.product).toBe(1);
    expect(r1).toMatchObject({ result: { product: "Acme stapler", order: "A-1001" }, needsReview: false, reviewReasons: [] });
    // Not the other record's text: r2's product is found in r2 ("blue kettle" as written there).
    expect(records.get("r2")!.grounding?.product).toMatchObject({ match: "exact", quote: "blue kettle", charStart: texts.r2.indexOf("blue kettle") });
    for (const record of records.values()) expect(validateItem({ ...record, version: 1 }), JSON.stringify(validateItem.errors)).toBe(true);
  });

  it("rejects a required value the record does not hold: null in the result, kept in its grounding, a reason for review", () => {
    const r2 = merge(groundedBy(chunked().layout)).get("r2")!;
    expect(r2.result?.order).toBeNull();
    expect(r2.grounding?.order).toEqual({ match: "none", rejected: { value: "Z-9999", reason: "ungrounded" } });
    expect(r2.confidence?.order).toBe(0);
    expect(r2.needsReview).toBe(true);
    expect(r2.reviewReasons).toContainEqual({ code: "rejected", path: "order" });
  });

  it("leaves a batch without a layout (chunked before batches had one) as before: no grounding, confidences unchecked", () => {
    const records = merge();
    for (const record of records.values()) {
      expect(record.grounding).toBeUndefined();
      expect(record.confidence?.product).toBe(uncheckedFactor);
    }
    // Nothing to check the made-up order number against: it stays.
    expect(records.get("r2")!.result?.order).toBe("Z-9999");
    // A record the layout does not list (a manifest from before it) is not grounded; the others are.
    const { layout } = chunked();
    const partial = merge(groundedBy({ ...layout, records: layout.records.filter((record) => record.recordId === "r1") }));
    expect(partial.get("r1")!.grounding?.product?.match).toBe("exact");
    expect(partial.get("r2")!.grounding).toBeUndefined();
  });
});
