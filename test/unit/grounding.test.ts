/** Locating extracted values in their source text: exact, normalised (text, numbers, dates), fuzzy, or none. */
import { describe, expect, it } from "vitest";
import { locateValue, readingsOfNumber } from "../../functions/merge/grounding.ts";

const quote = (text: string, value: string | number) => {
  const found = locateValue(value, text);
  return found.match === "none" ? { match: "none" } : { match: found.match, quote: text.slice(found.charStart, found.charEnd) };
};

describe("locateValue", () => {
  const invoice =
    "ACME Corporation\nInvoice INV-2024-0117\nDate: 5 March 2024\nBill to: Initech   GmbH\n" +
    "Consulting ser-\nvices   12 h\nSubtotal 3.255,00 EUR\nTotal due 3,906.00 GBP\nDue 04/04/2024";

  it("finds a value as written, with its UTF-16 span", () => {
    expect(quote(invoice, "INV-2024-0117")).toEqual({ match: "exact", quote: "INV-2024-0117" });
    const emoji = "😀 Ref 42-A";
    expect(locateValue("42-A", emoji)).toMatchObject({ charStart: 7, charEnd: 11 });
  });

  it("finds text across case, runs of spaces, compatibility forms and a word hyphenated across lines", () => {
    expect(quote(invoice, "initech gmbh")).toEqual({ match: "normalised", quote: "Initech   GmbH" });
    expect(quote(invoice, "Consulting services")).toEqual({ match: "normalised", quote: "Consulting ser-\nvices" });
    expect(quote("ﬁnal notice", "final notice")).toEqual({ match: "normalised", quote: "ﬁnal notice" });
  });

  it("finds numbers and amounts in their written forms", () => {
    expect(quote(invoice, 3906)).toEqual({ match: "normalised", quote: "3,906.00" });
    expect(quote(invoice, 3255)).toEqual({ match: "normalised", quote: "3.255,00" });
    expect(quote(invoice, "3906.00")).toEqual({ match: "normalised", quote: "3,906.00" });
    expect(quote(invoice, "GBP 3906")).toEqual({ match: "normalised", quote: "3,906.00" });
    expect(quote(invoice, 12)).toEqual({ match: "exact", quote: "12" });
    expect(quote(invoice, 3907)).toEqual({ match: "none" });
    expect(readingsOfNumber("1,500").sort()).toEqual([1.5, 1500]);
    expect(readingsOfNumber("1.234,50")).toEqual([1234.5]);
    expect(readingsOfNumber("-1 234.5")).toEqual([-1234.5]);
  });

  it("finds ISO dates in their common written forms", () => {
    expect(quote(invoice, "2024-03-05")).toEqual({ match: "normalised", quote: "5 March 2024" });
    expect(quote(invoice, "2024-04-04")).toEqual({ match: "normalised", quote: "04/04/2024" });
    expect(quote("Paid on March 7, 2024.", "2024-03-07")).toEqual({ match: "normalised", quote: "March 7, 2024" });
    expect(quote("Paid on 07.03.24", "2024-03-07")).toEqual({ match: "normalised", quote: "07.03.24" });
    expect(quote(invoice, "2024-03-06")).toEqual({ match: "none" });
  });

  it("finds a value with a misread character fuzzily, and nothing for an invented one", () => {
    const ocr = "Bill to: Initecb GmbH, Ma1n Street 12";
    expect(locateValue("Initech GmbH", ocr)).toMatchObject({ match: "fuzzy", score: expect.closeTo(0.917, 2) });
    expect(quote(ocr, "Main Street 12")).toEqual({ match: "fuzzy", quote: "Ma1n Street 12" });
    expect(quote(ocr, "Globex Corporation")).toEqual({ match: "none" });
    // Short values never match fuzzily: they would match by chance.
    expect(quote(ocr, "Mb1n")).toEqual({ match: "none" });
    expect(quote(ocr, "")).toEqual({ match: "none" });
  });
});
