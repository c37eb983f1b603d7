import { describe, expect, it } from "vitest";
import { agreementOf, confidenceOf, groundingFactor } from "../../functions/merge/confidence.ts";
import { assessFieldTrust, maxReviewReasons, type Grounder, type TextSpan } from "../../functions/merge/field-trust.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { FieldGrounding, MergeConflict } from "../../functions/shared/document-item.ts";
import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";
import { groundingRuleOf, reviewAnnotationProblems, reviewBelowOf } from "../../functions/shared/review-keywords.ts";
import { chunkResult } from "../helpers/chunk-items.ts";

const invoice = getExtractionSchema("invoice");

const invoiceResult = (extra: Record<string, unknown> = {}) => ({
  issuer: "ACME Ltd",
  invoice_number: "INV-7",
  date: "2024-03-05",
  currency: "GBP",
  amount: 120.5,
  amount_untaxed: null,
  partner_name: "ACME Ltd",
  partner_website: null,
  lines: [{ name: "Widgets", price_unit: "10.00" }],
  desc: "An invoice for widgets from ACME.",
  ...extra,
});
const provenance = { issuer: { chunks: [0], pages: [{ start: 1, end: 1 }] }, invoice_number: { chunks: [1], pages: [{ start: 2, end: 2 }] } };

/** A grounder that finds exactly the strings it is given, on page 1. */
const finds =
  (present: Array<string | number>, extra: Partial<FieldGrounding> = {}, ocrConfidence?: number): Grounder =>
  (value) =>
    present.includes(value)
      ? { grounding: { match: "exact", page: 1, charStart: 0, charEnd: String(value).length, quote: String(value), boxes: [], ...extra }, ...(ocrConfidence === undefined ? {} : { ocrConfidence }) }
      : { grounding: { match: "none" } };

describe("confidence", () => {
  it("multiplies grounding, agreement, OCR and model factors", () => {
    expect(confidenceOf({ match: "exact", agreement: 1 })).toBe(1);
    expect(confidenceOf({ match: "normalised", agreement: 1 })).toBe(groundingFactor.normalised);
    expect(confidenceOf({ match: "fuzzy", similarity: 0.9, agreement: 1 })).toBe(0.81);
    expect(confidenceOf({ match: "exact", agreement: 0.5, ocrConfidence: 80, model: 0.5 })).toBe(0.2);
    expect(confidenceOf({ match: "none", agreement: 1 })).toBe(groundingFactor.none);
    expect(confidenceOf({ agreement: 1 })).toBe(0.85);
    expect(confidenceOf({ match: "exact", agreement: 1, rejected: true })).toBe(0);
    expect(confidenceOf({ match: "exact", agreement: 1, model: Number.NaN })).toBe(0);
  });

  it("reads agreement from the conflicts on the field or its list item, ignoring over-limit", () => {
    const conflicts: MergeConflict[] = [
      { path: "amount", strategy: "max", reason: "disagreement", chosen: 9, candidates: [{ value: 9, chunks: [0] }, { value: 8, chunks: [1, 2, 3] }] },
      { path: "lines[0]", strategy: "union", reason: "key-collision", chosen: { a: 1 }, candidates: [{ value: { a: 1 }, chunks: [0, 1] }, { value: { a: 2 }, chunks: [2] }] },
      { path: "lines", strategy: "union", reason: "over-limit", chosen: 30, candidates: [{ value: {}, chunks: [5] }] },
    ];
    expect(agreementOf("amount", conflicts)).toBe(0.25);
    expect(agreementOf("lines[0].name", conflicts)).toBeCloseTo(2 / 3);
    expect(agreementOf("lines[1].name", conflicts)).toBe(1);
    expect(agreementOf("amount_untaxed", conflicts)).toBe(1);
  });
});

describe("review keywords", () => {
  it("ground strings and numbers, not enums, booleans or fields marked none", () => {
    expect(groundingRuleOf({ type: ["string", "null"] })).toBe("optional");
    expect(groundingRuleOf({ enum: ["a", "b"] })).toBe("none");
    expect(groundingRuleOf({ type: "boolean" })).toBe("none");
    expect(groundingRuleOf({ type: "string", "x-grounding": "none" })).toBe("none");
    expect(groundingRuleOf({ type: ["number", "null"], "x-grounding": "required" })).toBe("required");
    expect(reviewBelowOf({}, { "x-review-below": 0.7 })).toBe(0.7);
    expect(reviewBelowOf({ "x-review-below": 0.2 }, { "x-review-below": 0.7 })).toBe(0.2);
    expect(reviewBelowOf({}, {})).toBe(0.5);
  });

  it("refuse unknown rules, required values that cannot be null and thresholds outside 0-1", () => {
    const schema: JsonSchemaNode = {
      type: "object",
      "x-review-below": 1.5,
      properties: {
        a: { type: "string", "x-grounding": "required" },
        b: { type: "string", "x-grounding": "always" },
        c: { type: "boolean", "x-grounding": "required" },
        d: { type: ["string", "null"], "x-grounding": "required" },
      },
    };
    expect(reviewAnnotationProblems(schema)).toEqual([
      "$: x-review-below 1.5 must be a number from 0 to 1",
      '$.a: x-grounding "required" needs a type that allows null',
      '$.b: x-grounding "always" is not one of required, optional, none',
      '$.c: x-grounding "required" needs a string or a number',
    ]);
  });
});

describe("field trust", () => {
  it("grounds every value, marks enums and summaries ungroundable, and rejects required values not found", () => {
    const trust = assessFieldTrust({
      result: invoiceResult(),
      provenance,
      conflicts: [],
      schema: invoice,
      chunkResults: [],
      ground: finds(["ACME Ltd", 120.5, "Widgets", "10.00", "2024-03-05", "GBP"]),
    });
    expect(trust.grounding?.issuer?.match).toBe("exact");
    expect(trust.grounding?.desc).toEqual({ match: "ungroundable" });
    // invoice_number is required to be found and was not: null in the result, the model's value kept.
    expect(trust.result.invoice_number).toBeNull();
    expect(trust.grounding?.invoice_number).toEqual({ match: "none", rejected: { value: "INV-7", reason: "ungrounded" } });
    expect(trust.confidence.invoice_number).toBe(0);
    expect(trust.confidence["lines[0].price_unit"]).toBe(1);
    // Empty values are not fields with a value.
    expect(trust.grounding).not.toHaveProperty("amount_untaxed");
    expect(trust.needsReview).toBe(true);
    expect(trust.reviewReasons).toEqual([{ code: "rejected", path: "invoice_number" }]);
  });

  it("flags optional values not found as ungrounded and keeps them", () => {
    const trust = assessFieldTrust({
      result: invoiceResult(),
      provenance,
      conflicts: [],
      schema: invoice,
      chunkResults: [],
      ground: finds(["INV-7", 120.5, "Widgets", "10.00", "2024-03-05", "GBP"]),
    });
    expect(trust.result.issuer).toBe("ACME Ltd");
    expect(trust.reviewReasons).toEqual([
      { code: "ungrounded", path: "issuer" },
      { code: "ungrounded", path: "partner_name" },
    ]);
  });

  it("never says a document with an ungrounded required value needs no review", () => {
    for (const present of [[], ["ACME Ltd"], ["INV-7", "ACME Ltd", "GBP", "Widgets", "10.00", "2024-03-05"]]) {
      const trust = assessFieldTrust({ result: invoiceResult(), provenance, conflicts: [], schema: invoice, chunkResults: [], ground: finds(present) });
      const rejected = Object.values(trust.grounding ?? {}).filter((g) => g.rejected).length;
      expect(rejected).toBeGreaterThan(0);
      expect(trust.needsReview).toBe(true);
    }
  });

  it("needs no review when everything is found, agreed and confident", () => {
    const trust = assessFieldTrust({
      result: invoiceResult(),
      provenance,
      conflicts: [],
      schema: invoice,
      chunkResults: [],
      ground: finds(["ACME Ltd", "INV-7", 120.5, "Widgets", "10.00", "2024-03-05", "GBP"]),
    });
    expect(trust.reviewReasons).toEqual([]);
    expect(trust.needsReview).toBe(false);
  });

  it("uses the model's token confidence of the chunk that gave the value, also for list items that moved", () => {
    const data = invoiceResult({ lines: [{ name: "Other", price_unit: "1.00" }, { name: "Widgets", price_unit: "10.00" }] });
    const results = [
      chunkResult({ index: 0, data, confidence: { issuer: 0.4, "lines[1].name": 0.3, "lines[0].name": 0.9 } }),
    ];
    const trust = assessFieldTrust({
      result: invoiceResult(),
      provenance: { ...provenance, "lines[0]": { chunks: [0], pages: [{ start: 1, end: 1 }] } },
      conflicts: [],
      schema: invoice,
      chunkResults: results,
      ground: finds(["ACME Ltd", "INV-7", 120.5, "Widgets", "10.00", "2024-03-05", "GBP"]),
    });
    expect(trust.confidence.issuer).toBe(0.4);
    // Merged lines[0] is the chunk's lines[1] (same value "Widgets"): its confidence, not lines[0]'s.
    expect(trust.confidence["lines[0].name"]).toBe(0.3);
    expect(trust.reviewReasons).toEqual([
      { code: "low-confidence", path: "issuer", confidence: 0.4, threshold: 0.5 },
      { code: "low-confidence", path: "lines[0].name", confidence: 0.3, threshold: 0.5 },
    ]);
  });

  it("scales by OCR word confidence and lists conflicts, failed chunks and OCR pages as reasons", () => {
    const trust = assessFieldTrust({
      result: invoiceResult(),
      provenance,
      conflicts: [{ path: "amount", strategy: "max", reason: "disagreement", chosen: 120.5, candidates: [{ value: 120.5, chunks: [0] }, { value: 12, chunks: [1] }] }],
      schema: invoice,
      chunkResults: [],
      ground: finds(["ACME Ltd", "INV-7", 120.5, "Widgets", "10.00", "2024-03-05", "GBP"], {}, 70),
      failedChunks: [{ index: 3, error: "DeadlineExceeded" }, { index: 3, part: "2", error: "DeadlineExceeded" }],
      ocr: { pages: [1, 2], failedPages: [{ page: 4, error: "OCR_TIMEOUT", message: "m" }], lowConfidencePages: [2] },
    });
    expect(trust.confidence.issuer).toBe(0.7);
    expect(trust.confidence.amount).toBe(0.35);
    expect(trust.reviewReasons).toEqual([
      { code: "low-confidence", path: "amount", confidence: 0.35, threshold: 0.5 },
      { code: "conflict", path: "amount" },
      { code: "failed-chunks", chunks: [3] },
      { code: "failed-pages", pages: [4] },
      { code: "low-confidence-ocr", pages: [2] },
    ]);
  });

  it("looks for a list item's other fields near where its first field was found", () => {
    const nears: Array<[string, TextSpan | undefined]> = [];
    const ground: Grounder = (value, _chunks, near) => {
      nears.push([String(value), near]);
      const charStart = String(value).length * 10;
      return { grounding: { match: "exact", page: 1, charStart, charEnd: charStart + 1, quote: String(value), boxes: [] } };
    };
    assessFieldTrust({
      result: invoiceResult({ lines: [{ name: "Widgets", price_unit: "1" }, { name: "Gadget", price_unit: "1" }] }),
      provenance,
      conflicts: [],
      schema: invoice,
      chunkResults: [],
      ground,
    });
    expect(nears.filter(([value]) => ["Widgets", "Gadget", "1"].includes(value))).toEqual([
      ["Widgets", undefined],
      ["1", { charStart: 70, charEnd: 71 }],
      ["Gadget", undefined],
      ["1", { charStart: 60, charEnd: 61 }],
    ]);
    expect(nears.find(([value]) => value === "ACME Ltd")).toEqual(["ACME Ltd", undefined]);
  });

  it("without document text: no grounding, confidences say unchecked, nothing rejected", () => {
    const trust = assessFieldTrust({ result: invoiceResult(), provenance, conflicts: [], schema: invoice, chunkResults: [] });
    expect(trust.grounding).toBeUndefined();
    expect(trust.result.invoice_number).toBe("INV-7");
    expect(trust.confidence.invoice_number).toBe(0.85);
    expect(trust.confidence.desc).toBe(0.85);
    expect(trust.needsReview).toBe(false);
  });

  it("keeps at most the first reasons", () => {
    const schema: JsonSchemaNode = { type: "object", properties: { xs: { type: "array", items: { type: ["string", "null"], "x-grounding": "required" } } } };
    const xs = Array.from({ length: maxReviewReasons + 20 }, (_, i) => `v${i}`);
    const trust = assessFieldTrust({ result: { xs }, provenance: {}, conflicts: [], schema, chunkResults: [], ground: finds([]) });
    expect(trust.reviewReasons).toHaveLength(maxReviewReasons);
    expect(trust.reviewReasons[0]).toEqual({ code: "rejected", path: "xs[0]" });
    expect((trust.result.xs as unknown[]).every((x) => x === null)).toBe(true);
  });
});
