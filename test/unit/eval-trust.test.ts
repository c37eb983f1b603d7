import { describe, expect, it } from "vitest";
import { scoredConfidences, summarizeTrust } from "../../bench/eval/trust.ts";
import type { FieldResult } from "../../bench/eval/compare.ts";

const field = (path: string, correct: boolean, extra: Partial<FieldResult> = {}): FieldResult => ({
  path, kind: "exact", expected: 1, extracted: 1, score: correct ? 1 : 0, correct, ...extra,
});

describe("eval trust summary", () => {
  it("pairs scored fields, list items' fields included, with the confidence of the value scored", () => {
    const fields = [
      field("invoice_number", true),
      field("issuer", false),
      field("lines", false, {
        kind: "list",
        items: [
          { expectedIndex: 0, extractedIndex: 2, similarity: 1, fields: [field("name", true)] },
          { expectedIndex: 1, extractedIndex: null, similarity: 0, fields: [field("name", false)] },
        ],
      }),
      field("date", true),
    ];
    const confidence = { invoice_number: 0.9, issuer: 0.3, "lines[2].name": 0.7, "lines[0].name": 0.1 };
    expect(scoredConfidences({ fields, confidence })).toEqual([
      { confidence: 0.9, correct: true },
      { confidence: 0.3, correct: false },
      { confidence: 0.7, correct: true },
    ]);
  });

  it("counts grounding matches and gives accuracy per confidence bucket", () => {
    const summary = summarizeTrust([
      {
        grounding: { a: { match: "exact" }, b: { match: "none", rejected: { value: "x", reason: "ungrounded" } }, c: { match: "ungroundable" } },
        confidence: { a: 1, b: 0, c: 0.85 },
        needsReview: true,
        fields: [field("a", true), field("b", false), field("c", true)],
      },
      { grounding: { a: { match: "normalised" } }, confidence: { a: 0.95 }, needsReview: false, fields: [field("a", false)] },
    ]);
    expect(summary.grounding).toEqual({ exact: 1, normalised: 1, fuzzy: 0, none: 1, ungroundable: 1, rejected: 1, rate: 2 / 3 });
    expect(summary.needsReview).toBe(1);
    expect(summary.documents).toBe(2);
    const top = summary.calibration.at(-1)!;
    expect(top).toMatchObject({ from: 0.8, to: 1, fields: 3, correct: 2 });
    expect(top.accuracy).toBeCloseTo(2 / 3);
    expect(summary.calibration[0]).toMatchObject({ fields: 1, correct: 0, accuracy: 0 });
    expect(summary.calibration[2]).toMatchObject({ fields: 0, accuracy: null, meanConfidence: null });
  });
});
