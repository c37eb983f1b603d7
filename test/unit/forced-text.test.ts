import { describe, expect, it } from "vitest";
import { JsonAnswerTracker } from "../../functions/infer/forced-text.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";

const invoice = getExtractionSchema("invoice");
const answer = {
  issuer: "Acme \"Tools\" Ltd",
  invoice_number: null,
  date: "2024-03-05",
  currency: "EUR",
  amount: 1440,
  amount_untaxed: -12.5e2,
  partner_name: null,
  partner_website: "acme.example",
  lines: [
    { name: "Consulting", price_unit: "120.00" },
    { name: "VAT", price_unit: null },
  ],
  desc: "An invoice.",
};

/** Every point of `text` where the tracker forces something, and what the text goes on with there. */
function forcedPoints(text: string): Array<{ at: number; forced: string; actual: string }> {
  const tracker = new JsonAnswerTracker(invoice);
  const points = [];
  for (let at = 0; at < text.length; at++) {
    const forced = tracker.forced();
    if (forced) points.push({ at, forced, actual: text.slice(at, at + forced.length) });
    tracker.append(text[at]!);
  }
  return points;
}

describe("forced text of a JSON answer", () => {
  it("is always what the answer goes on with, in the layouts the grammar allows", () => {
    for (const text of [JSON.stringify(answer), JSON.stringify(answer, null, 4), JSON.stringify(answer, null, "\t"), JSON.stringify(answer).replaceAll('":', '": ').replaceAll(",", ", ")]) {
      const points = forcedPoints(text);
      expect(points.length).toBeGreaterThan(20);
      for (const point of points) expect(point.actual, `at ${point.at} of ${text}`).toBe(point.forced);
    }
  });

  it("forces the rest of a property name with its colon, null's rest and the comma after a finished string", () => {
    const tracker = new JsonAnswerTracker(invoice);
    tracker.append('{\n    "iss');
    expect(tracker.forced()).toBe('uer":');
    tracker.append('uer": "Acme"');
    expect(tracker.forced()).toBe(",");
    tracker.append(',\n    "invoice_number": n');
    expect(tracker.forced()).toBe("ull");
    tracker.append('ull, "date": "2024-03-05", "currency": "EUR", "amount": 14');
    // A number may go on: its comma is the model's to write.
    expect(tracker.forced()).toBe("");
    tracker.append('40, "amount_untaxed": null, "partner_name": null, "partner_website": null, "lines": [{"');
    expect(tracker.forced()).toBe('name":');
    tracker.append('name": "x", "price_unit": null}');
    // After an item, the list may go on or end.
    expect(tracker.forced()).toBe("");
    tracker.append('], "desc": "y"');
    // The last property: whitespace may come before the brace.
    expect(tracker.forced()).toBe("");
  });

  it("forces no names where a property may be left out, and nothing once the text is not what it expects", () => {
    const optional = new JsonAnswerTracker({ type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, required: ["a"] });
    optional.append('{"');
    expect(optional.forced()).toBe("");
    const lost = new JsonAnswerTracker(invoice);
    lost.append('{"iss');
    expect(lost.forced()).toBe('uer":');
    lost.append('uer" x');
    expect(lost.forced()).toBe("");
    lost.append(': "a"');
    expect(lost.forced()).toBe("");
  });

  it("whitespace between the value and the next name is the model's choice", () => {
    const tracker = new JsonAnswerTracker(invoice);
    tracker.append('{"issuer": null,');
    expect(tracker.forced()).toBe("");
    tracker.append("\n");
    expect(tracker.forced()).toBe("");
  });
});
