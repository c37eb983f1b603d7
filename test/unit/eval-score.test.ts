import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scoreDocument, scoreFailedDocument, summarize } from "../../bench/eval/score.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { FUZZY_THRESHOLD, chooseKind, compareField, type FieldResult } from "../../bench/eval/compare.ts";
import { isEmptyValue, parseDate, parseNumber, similarity } from "../../bench/eval/values.ts";
import { schemaFields } from "../../bench/eval/schema-fields.ts";
import { type JsonSchemaNode } from "../../functions/shared/json-schema.ts";

const invoice = getExtractionSchema("invoice");
const node = (path: string): JsonSchemaNode => {
  const [top, item] = path.split("[].");
  const found = invoice.properties![top!]!;
  return item ? found.items!.properties![item]! : found;
};
const compare = (path: string, expected: unknown, extracted: unknown) =>
  compareField(node(path), path.split(".").at(-1)!, expected, extracted)!;
const field = (fields: FieldResult[], path: string) => fields.find((result) => result.path === path)!;

describe("numbers", () => {
  it.each([
    ["€ 1.234,50", 1234.5],
    ["1,234.50", 1234.5],
    ["1.234,50", 1234.5],
    ["4,11", 4.11],
    ["€ 4.11", 4.11],
    ["4.11 EUR", 4.11],
    ["USD 4.11", 4.11],
    ["$0.01", 0.01],
    ["1,234", 1234],
    ["0,500", 0.5],
    ["1 234,50", 1234.5],
    ["1.234.567", 1234567],
    ["(4.11)", -4.11],
    ["-4.11", -4.11],
    ["4,-", 4],
    [42, 42],
  ])("parses %j as %d", (text, value) => {
    expect(parseNumber(text)).toBeCloseTo(value, 10);
  });

  it.each(["F", "2014-08-03", "INV/2023/03/0008", "Amazon 3", "", "4.11.x"])("%j is not a number", (text) => {
    expect(parseNumber(text)).toBeNull();
  });

  it("compares numbers numerically with a small tolerance", () => {
    expect(compare("amount", 1234.5, "€ 1.234,50")).toMatchObject({ kind: "number", correct: true, score: 1 });
    expect(compare("amount", 4.11, "4,11")).toMatchObject({ kind: "number", correct: true });
    expect(compare("amount", 4.11, 4.114)).toMatchObject({ correct: true });
    expect(compare("amount", 4.11, 4.12)).toMatchObject({ kind: "number", correct: false, score: 0 });
    expect(compare("amount", 4.11, "four")).toMatchObject({ correct: false, note: "extracted value is not a number" });
    expect(compare("amount", 4.11, null)).toMatchObject({ correct: false, note: "nothing extracted" });
  });

  it("compares a numeric string where the schema says string (price_unit) as a number", () => {
    expect(compare("lines[].price_unit", "0.01", 0.01)).toMatchObject({ kind: "number", correct: true });
    expect(compare("lines[].price_unit", "1.87", "$ 1.87")).toMatchObject({ kind: "number", correct: true });
    expect(compare("lines[].price_unit", 42.0, "42,00")).toMatchObject({ kind: "number", correct: true });
    expect(compare("lines[].price_unit", "1.87", "1.78")).toMatchObject({ kind: "number", correct: false });
  });
});

describe("dates", () => {
  it.each([
    "2014-08-03",
    "2014/08/03",
    "2014-08-03T10:00:00Z",
    "03/08/2014",
    "3/8/14",
    "03.08.2014",
    "3 Aug 2014",
    "3rd August 2014",
    "August 3, 2014",
    "Aug 3 2014",
    "03-Aug-2014",
    "Sunday, 3 August 2014",
    "3. August 2014",
    "3 augustus 2014",
    "3 août 2014",
  ])("reads %j as 2014-08-03", (text) => {
    expect(parseDate(text)).toBe("2014-08-03");
  });

  it("reads an ambiguous d/m/y day first by default, month first with mdy; an impossible part decides", () => {
    expect(parseDate("08/03/2014")).toBe("2014-03-08");
    expect(parseDate("08/03/2014", "mdy")).toBe("2014-08-03");
    expect(parseDate("08/13/2014")).toBe("2014-08-13");
    expect(parseDate("13/08/2014", "mdy")).toBe("2014-08-13");
    expect(parseDate("03.08.2014", "mdy")).toBe("2014-08-03");
  });

  it.each(["2014-02-30", "32/01/2014", "Invoice 2014", "soon", "42183017"])("%j is not a date", (text) => {
    expect(parseDate(text)).toBeNull();
  });

  it("compares dates after normalisation", () => {
    expect(compare("date", "2014-08-03", "3 Aug 2014")).toMatchObject({ kind: "date", correct: true, score: 1 });
    expect(compare("date", "2014-08-03", "August 3, 2014")).toMatchObject({ kind: "date", correct: true });
    expect(compare("date", "2014-08-03", "2014-08-04")).toMatchObject({ kind: "date", correct: false, score: 0 });
    expect(compare("date", "2014-08-03", "08/03/2014")).toMatchObject({ kind: "date", correct: false });
    expect(compareField(node("date"), "date", "2014-08-03", "08/03/2014", { dateOrder: "mdy" })).toMatchObject({ correct: true });
    expect(compare("date", "2014-08-03", "yesterday")).toMatchObject({ correct: false, note: "extracted value is not a date" });
  });
});

describe("fuzzy strings", () => {
  it("passes case, whitespace and punctuation differences", () => {
    const result = compare("partner_name", "Amazon Web Services, Inc.", "amazon web services inc");
    expect(result).toMatchObject({ kind: "fuzzy", correct: true, score: 1 });
    expect(compare("issuer", "Coolblue B.V.", "COOLBLUE BV")).toMatchObject({ correct: true });
    expect(compare("issuer", "Polski Koncern Naftowy ORLEN spółka akcyjna", "Polski Koncern Naftowy Orlen Spolka Akcyjna")).toMatchObject({ correct: true });
  });

  it("fails different names", () => {
    const result = compare("partner_name", "Amazon", "Microsoft");
    expect(result.kind).toBe("fuzzy");
    expect(result.correct).toBe(false);
    expect(result.score).toBeLessThan(FUZZY_THRESHOLD);
  });

  it("uses the threshold: similarity 0.8 passes, 0.7 fails", () => {
    expect(FUZZY_THRESHOLD).toBe(0.8);
    expect(similarity("abcdefghij", "abcdefghXY")).toBeCloseTo(0.8, 10);
    expect(compare("issuer", "abcdefghij", "abcdefghXY").correct).toBe(true);
    expect(compare("issuer", "abcdefghij", "abcdefgXYZ").correct).toBe(false);
  });

  it("ignores a URL's scheme and www.", () => {
    expect(compare("partner_website", "http://www.azure-interior.com", "azure-interior.com")).toMatchObject({ correct: true, score: 1 });
  });
});

describe("exact comparisons", () => {
  it("compares codes and identifiers ignoring case, spaces and punctuation only", () => {
    expect(compare("currency", "USD", "usd")).toMatchObject({ kind: "exact", correct: true });
    expect(compare("currency", "USD", "EUR")).toMatchObject({ kind: "exact", correct: false });
    expect(compare("invoice_number", "INV/2023/03/0008", "INV-2023-03-0008")).toMatchObject({ kind: "exact", correct: true });
    expect(compare("invoice_number", "#BLR_WFLD20151000982590", "BLR_WFLD20151000982590")).toMatchObject({ correct: true });
    // One digit off is a wrong invoice number, though a fuzzy comparison would pass it.
    expect(compare("invoice_number", "42183017", "42183011")).toMatchObject({ kind: "exact", correct: false, score: 0 });
    expect(similarity("42183017", "42183011")).toBeGreaterThanOrEqual(FUZZY_THRESHOLD);
  });

  it("compares enums exactly", () => {
    const sentiment = getExtractionSchema("review-sentiment");
    const rating = sentiment.properties!.rating!;
    expect(compareField(rating, "rating", 4, 4)).toMatchObject({ kind: "exact", correct: true });
    expect(compareField(rating, "rating", 4, 5)).toMatchObject({ kind: "exact", correct: false });
    expect(compareField(sentiment.properties!.sentiment!, "sentiment", "mixed", "Mixed")).toMatchObject({ correct: true });
  });

  it("chooses the kind from the schema node, the name and the expected value", () => {
    const kind = (path: string, expected: unknown) => chooseKind(node(path), path.split(".").at(-1)!, expected);
    expect(kind("issuer", "Amazon Web Services")).toBe("fuzzy");
    expect(kind("invoice_number", "42183017")).toBe("exact");
    expect(kind("date", "2014-08-03")).toBe("date");
    expect(kind("date", "not a date")).toBe("exact");
    expect(kind("currency", "USD")).toBe("exact");
    expect(kind("amount", 4.11)).toBe("number");
    expect(kind("desc", "Invoice from Amazon Web Services")).toBe("fuzzy");
    expect(kind("lines[].price_unit", "0.01")).toBe("number");
    expect(kind("lines[].name", "AWS Data Transfer")).toBe("fuzzy");
    expect(chooseKind({ type: "string" }, "due", "2014-08-03")).toBe("date");
    expect(chooseKind({ type: "string" }, "total", "€ 4.11")).toBe("number");
  });
});

describe("expected null, empty or absent", () => {
  it("an expected null, blank string or empty list is correct only when nothing is extracted", () => {
    expect(isEmptyValue("  ")).toBe(true);
    for (const extracted of [null, undefined, "", []]) {
      expect(compare("partner_name", null, extracted)).toMatchObject({ kind: "exact", correct: true, score: 1 });
    }
    expect(compare("partner_name", "", null).correct).toBe(true);
    expect(compare("lines", [], []).correct).toBe(true);
    expect(compare("partner_name", null, "Acme")).toMatchObject({ correct: false, score: 0 });
    expect(compare("lines", [], [{ name: "x", price_unit: "1" }]).correct).toBe(false);
  });

  it("an absent expected key is not scored by default, and scored as null with absent: null", () => {
    const skipping = scoreDocument({ issuer: "Acme" }, { issuer: "Acme", currency: "USD" }, invoice);
    expect(skipping.fields.map((result) => result.path)).toEqual(["issuer"]);
    expect(skipping.skipped).toEqual(schemaFields(invoice).filter((path) => path !== "issuer"));
    const asNull = scoreDocument({ issuer: "Acme" }, { issuer: "Acme", currency: "USD" }, invoice, { absent: "null" });
    expect(asNull.total).toBe(schemaFields(invoice).length);
    expect(field(asNull.fields, "currency").correct).toBe(false);
    expect(field(asNull.fields, "amount").correct).toBe(true);
    expect(asNull.correct).toBe(schemaFields(invoice).length - 1);
  });

  it("uses the first element of an expected array and lists expected keys the schema lacks", () => {
    const score = scoreDocument([{ issuer: "Acme", iban: "X" }, { issuer: "Other" }], { issuer: "Acme" }, invoice);
    expect(score).toMatchObject({ correct: 1, total: 1, accuracy: 1, unscored: ["iban"] });
    expect(() => scoreDocument([], {}, invoice)).toThrow(/first element/);
  });
});

describe("lists", () => {
  const expectedLines = [
    { name: "AWS Data Transfer", price_unit: "0.01" },
    { line_note: "not a line item in the schema's terms" },
    { name: "Amazon Glacier", price_unit: "2.22" },
    { name: "Thuiskopieheffing" },
  ];

  it("matches items greedily by similarity, whatever their order, and scores item fields", () => {
    const extracted = [
      { name: "Amazon Glacier", price_unit: "2.22" },
      { name: "thuiskopie heffing", price_unit: "4.24" },
      { name: "AWS data transfer", price_unit: "0.02" },
    ];
    const result = compare("lines", expectedLines, extracted);
    expect(result.kind).toBe("list");
    // Units: Transfer name ✓ price ✗, Glacier name ✓ price ✓, Thuiskopieheffing name ✓ (its price is not annotated).
    expect(result.units).toEqual({ correct: 4, total: 5 });
    expect(result.score).toBeCloseTo(4 / 5, 10);
    expect(result.correct).toBe(false);
    expect(result.items!.map((item) => [item.expectedIndex, item.extractedIndex])).toEqual([[0, 2], [2, 0], [3, 1]]);
  });

  it("counts missed expected items and extra extracted items as failed units", () => {
    const extracted = [
      { name: "Amazon Glacier", price_unit: "2.22" },
      { name: "Something else entirely", price_unit: "9.99" },
      { name: "", price_unit: null },
    ];
    const result = compare("lines", expectedLines.slice(0, 3), extracted);
    // Expected: Transfer (2 units), Glacier (2 units). Glacier matches; Transfer matches the "Something else" item
    // (similarity above 0) and fails both units; the all-empty extracted item is ignored.
    expect(result.units).toEqual({ correct: 2, total: 4 });
    const fewer = compare("lines", expectedLines.slice(0, 3), [extracted[0]]);
    expect(fewer.units).toEqual({ correct: 2, total: 4 });
    expect(fewer.items!.find((item) => item.expectedIndex === 0)).toMatchObject({ extractedIndex: null, similarity: 0 });
    const more = compare("lines", [expectedLines[2]], [extracted[0], extracted[1]]);
    expect(more.units).toEqual({ correct: 2, total: 4 });
    expect(more.items!.at(-1)).toMatchObject({ expectedIndex: null, extractedIndex: 1 });
    expect(more.note).toMatch(/1 extra item/);
  });

  it("is correct only when every unit is", () => {
    const annotated = expectedLines.filter((line) => "name" in line);
    expect(compare("lines", expectedLines, annotated)).toMatchObject({ correct: true, score: 1, units: { correct: 5, total: 5 } });
    expect(compare("lines", expectedLines, null)).toMatchObject({ correct: false, score: 0, units: { correct: 0, total: 5 } });
  });

  it("skips a list whose expected items have none of the schema's item fields", () => {
    const score = scoreDocument({ issuer: "Acme", lines: [{ desc: "Exchange 2010", price: 3.89 }] }, { issuer: "Acme" }, invoice);
    expect(score.skipped).toContain("lines");
    expect(score.fields.map((result) => result.path)).toEqual(["issuer"]);
  });
});

describe("documents and summaries", () => {
  it("a failed document scores 0 on every field, empty-expected ones included", () => {
    const score = scoreFailedDocument([{ issuer: "Acme", amount: 4.11, currency: null, lines: [{ name: "x" }] }], invoice, "Boom");
    expect(score).toMatchObject({ correct: 0, total: 4, accuracy: 0, meanScore: 0, error: "Boom" });
    expect(field(score.fields, "lines").units).toEqual({ correct: 0, total: 1 });
  });

  it("summarizes per field, per document and overall (micro-average)", () => {
    // Document A: issuer ✓ (case), amount ✗ (10 vs 11), date ✓ (other format), currency ✓ (null expected, none
    // extracted): 3/4. Document B: issuer ✗ (Beta vs Gamma), amount ✓ ("5.00"); date and currency absent: 1/2.
    const a = scoreDocument({ issuer: "Acme", amount: 10, date: "2014-08-03", currency: null },
      { issuer: "ACME", amount: 11, date: "3 Aug 2014", currency: null }, invoice);
    const b = scoreDocument({ issuer: "Beta", amount: 5 }, { issuer: "Gamma", amount: "5.00" }, invoice);
    expect([a.correct, a.total, a.accuracy]).toEqual([3, 4, 0.75]);
    expect([b.correct, b.total, b.accuracy]).toEqual([1, 2, 0.5]);

    const summary = summarize([{ ...a, name: "A" }, { ...b, name: "B" }], schemaFields(invoice));
    const byPath = Object.fromEntries(summary.fields.map((entry) => [entry.path, entry]));
    expect(byPath.issuer).toMatchObject({ correct: 1, total: 2, accuracy: 0.5, skipped: 0, kinds: ["fuzzy"] });
    expect(byPath.amount).toMatchObject({ correct: 1, total: 2, accuracy: 0.5, meanScore: 0.5, kinds: ["number"] });
    expect(byPath.date).toMatchObject({ correct: 1, total: 1, accuracy: 1, skipped: 1, kinds: ["date"] });
    expect(byPath.currency).toMatchObject({ correct: 1, total: 1, accuracy: 1, skipped: 1, kinds: ["exact"] });
    expect(byPath.lines).toMatchObject({ correct: 0, total: 0, accuracy: null, skipped: 2 });
    // Schema order, not order of first appearance.
    expect(summary.fields.map((entry) => entry.path).slice(0, 5)).toEqual(["issuer", "invoice_number", "date", "currency", "amount"]);
    expect(summary.documents).toEqual([
      expect.objectContaining({ name: "A", correct: 3, total: 4, accuracy: 0.75 }),
      expect.objectContaining({ name: "B", correct: 1, total: 2, accuracy: 0.5 }),
    ]);
    // Micro-average: 4 correct of 6 scored fields (the mean of the two documents' accuracies would be 0.625).
    expect(summary.overall).toMatchObject({ correct: 4, total: 6, documents: 2, failed: 0 });
    expect(summary.overall.accuracy).toBeCloseTo(4 / 6, 10);
  });

  it("summarizes nothing as n/a", () => {
    expect(summarize([]).overall).toEqual({ correct: 0, total: 0, accuracy: null, meanScore: null, documents: 0, failed: 0 });
  });
});

const corpus = join(repoRoot, "..", "shared", "corpus", "invoices");
const corpusPresent = existsSync(corpus);
const skipReason = `SKIPPED: the invoice corpus ${corpus} is not present`;
if (!corpusPresent) console.warn(`eval-score: ${skipReason}`);

describe.skipIf(!corpusPresent)(corpusPresent ? "the invoice corpus scored against itself" : `the invoice corpus (${skipReason})`, () => {
  const files = corpusPresent ? readdirSync(corpus).filter((name) => name.endsWith(".json")).sort() : [];
  const expectedOf = (name: string): unknown => JSON.parse(readFileSync(join(corpus, name), "utf8"));

  it("has expected files", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it("every expected file scores 100% against itself", () => {
    const scores = files.map((name) => {
      const expected = expectedOf(name);
      return { ...scoreDocument(expected, (expected as unknown[])[0], invoice), name };
    });
    for (const score of scores) {
      expect(score.total, score.name).toBeGreaterThan(0);
      expect(score.fields.filter((result) => !result.correct).map((result) => result.path), score.name).toEqual([]);
      expect(score.accuracy, score.name).toBe(1);
      expect(score.meanScore, score.name).toBe(1);
    }
    const summary = summarize(scores, schemaFields(invoice));
    expect(summary.overall.accuracy).toBe(1);
    console.info(
      `eval-score: self-score of ${files.length} invoice files: ${summary.overall.correct}/${summary.overall.total} fields; ` +
        summary.fields.map((entry) => `${entry.path} ${entry.correct}/${entry.total}`).join(", "),
    );
  });

  it("an empty extraction gets only the empty-expected fields right", () => {
    for (const name of files) {
      const expected = expectedOf(name);
      const object = (expected as Array<Record<string, unknown>>)[0]!;
      const score = scoreDocument(expected, {}, invoice);
      const emptyExpected = score.fields.filter((result) => isEmptyValue(object[result.path])).map((result) => result.path);
      expect(score.fields.filter((result) => result.correct).map((result) => result.path), name).toEqual(emptyExpected);
      // Every scored field is a schema field the expected JSON has; every other schema field is skipped.
      for (const result of score.fields) expect(Object.keys(object), name).toContain(result.path);
      expect([...score.fields.map((result) => result.path), ...score.skipped].sort(), name).toEqual(schemaFields(invoice).sort());
      const failed = scoreFailedDocument(expected, invoice, "failed");
      expect([failed.correct, failed.total], name).toEqual([0, score.total]);
    }
  });
});
