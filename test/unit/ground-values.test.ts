/** `npm run ground`'s arguments and its walk from a values JSON to the scalars it grounds (bench/ground-values.ts). */
import { describe, expect, it } from "vitest";
import { boxesHoldQuote, notInDocumentByNature } from "../../bench/ground-check.ts";
import { groundScalars, parseGroundArguments, scalarPaths } from "../../bench/ground-values.ts";
import type { DocumentLayout } from "../../functions/shared/contracts.ts";

describe("npm run ground's arguments", () => {
  it("takes a file, a values file and the options, with the chunk step's defaults", () => {
    expect(parseGroundArguments(["a.pdf", "a.json"])).toEqual({ file: "a.pdf", valuesFile: "a.json", json: false, ocrMode: "auto", maxTokens: 1000 });
    expect(parseGroundArguments(["--json", "a.png", "a.json", "--ocr", "always", "--chunk-tokens", "200"])).toEqual({
      file: "a.png",
      valuesFile: "a.json",
      json: true,
      ocrMode: "always",
      maxTokens: 200,
    });
    expect(parseGroundArguments(["--help"])).toEqual({ help: true });
  });

  it("says what is wrong with bad arguments", () => {
    expect(parseGroundArguments(["a.pdf"])).toEqual({ problem: "Expected a file and a values JSON file, got 1 argument(s)." });
    expect(parseGroundArguments(["a.pdf", "a.json", "b.json"])).toMatchObject({ problem: expect.stringContaining("got 3") });
    expect(parseGroundArguments(["a.pdf", "a.json", "--ocr", "sometimes"])).toEqual({ problem: '--ocr must be one of auto, scans, always, never, got "sometimes"' });
    expect(parseGroundArguments(["a.pdf", "a.json", "--chunk-tokens", "9"])).toMatchObject({ problem: expect.stringContaining("--chunk-tokens must be an integer") });
    expect(parseGroundArguments(["a.pdf", "a.json", "--colour"])).toMatchObject({ problem: expect.stringContaining("--colour") });
  });
});

describe("the values to ground", () => {
  it("walks every scalar under its path in the item's notation, in order; nulls and empty strings are no values", () => {
    const values = {
      invoice_number: "INV-7",
      total: 12.5,
      paid: false,
      seller: { name: "ACME", address: { city: "Bristol" } },
      lines: [{ name: "Pump", qty: 2 }, { name: "", note: null }],
      tags: ["urgent", "export"],
      empty: {},
    };
    expect(scalarPaths(values)).toEqual([
      { path: "invoice_number", value: "INV-7" },
      { path: "total", value: 12.5 },
      { path: "paid", value: false },
      { path: "seller.name", value: "ACME" },
      { path: "seller.address.city", value: "Bristol" },
      { path: "lines[0].name", value: "Pump" },
      { path: "lines[0].qty", value: 2 },
      { path: "tags[0]", value: "urgent" },
      { path: "tags[1]", value: "export" },
    ]);
  });

  it("uses the first element of a top-level array (the corpus invoices' format)", () => {
    expect(scalarPaths([{ amount: 1 }, { amount: 2 }])).toEqual([{ path: "amount", value: 1 }]);
    expect(scalarPaths([])).toEqual([]);
  });

  it("grounds each value in all chunks; a boolean is ungroundable", () => {
    const text = "Invoice INV-7 total 12,50 EUR";
    const layout: DocumentLayout = {
      version: 1,
      text,
      pages: [{ page: 1, charStart: 0, charEnd: text.length, width: 100, height: 100, source: "text-layer", runs: [{ text, box: [0, 0, 58, 10] }] }],
      chunks: [{ index: 0, charStart: 0, charEnd: 13 }, { index: 1, charStart: 14, charEnd: text.length }],
    };
    const fields = groundScalars(layout, scalarPaths({ number: "INV-7", total: 12.5, paid: true, buyer: "Initech" }));
    expect(fields.map((field) => [field.path, field.grounding.match, field.grounding.quote])).toEqual([
      ["number", "exact", "INV-7"],
      ["total", "normalised", "12,50"],
      ["paid", "ungroundable", undefined],
      ["buyer", "none", undefined],
    ]);
    // The boxes hold their quotes: the run under them contains them.
    expect(boxesHoldQuote(layout, fields[0]!.grounding)).toBe(true);
    expect(boxesHoldQuote(layout, { ...fields[0]!.grounding, boxes: [{ page: 1, x: 80, y: 50, width: 5, height: 5 }] })).toBe(false);
    expect(boxesHoldQuote(layout, fields[3]!.grounding)).toBe(false);
  });

  it("leaves out the values not in a document by nature: the JSON's summary, code-list codes, booleans", () => {
    expect(notInDocumentByNature("desc", "Invoice from ACME")).toBe(true);
    expect(notInDocumentByNature("country_code", "NL")).toBe(true);
    expect(notInDocumentByNature("lines[1].unece_code", "KGM")).toBe(true);
    expect(notInDocumentByNature("payment_unece_code", "30")).toBe(true);
    expect(notInDocumentByNature("paid", true)).toBe(true);
    // A line's own description is its text on the invoice.
    expect(notInDocumentByNature("line_items[0].desc", "Parts: 1 x cap_a")).toBe(false);
    expect(notInDocumentByNature("currency", "EUR")).toBe(false);
  });
});
