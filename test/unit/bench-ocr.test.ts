/** The OCR benchmark's scoring (bench/ocr.ts): edit distance, normalisation and the two scores. */
import { describe, expect, it } from "vitest";
import { editDistance, normaliseForScoring, scoreRead } from "../../bench/ocr.ts";

describe("OCR scoring", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("normalises case, quotes, dashes, compatibility forms and whitespace", () => {
    expect(normaliseForScoring("  \u201CTotal\u201D \u2013 \uFB01ne\n\n12\u00A0GBP ")).toBe('"total" - fine 12 gbp');
  });

  it("scores a perfect read 0 % CER and full recall, and a read with one wrong word accordingly", () => {
    expect(scoreRead("Invoice INV-7\nTotal 12.00", "invoice  inv-7 total 12.00")).toEqual({ cer: 0, wordRecall: 1 });
    const { cer, wordRecall } = scoreRead("Invoice INV-1 Total 12.00", "Invoice INV-7 Total 12.00");
    expect(cer).toBeCloseTo(1 / "invoice inv-7 total 12.00".length, 6);
    expect(wordRecall).toBe(0.75);
  });

  it("does not count a repeated word twice", () => {
    expect(scoreRead("total", "total total").wordRecall).toBe(0.5);
  });
});
