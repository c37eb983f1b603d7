/** Locating extracted values in their source text: exact, normalised (text, numbers, dates), fuzzy, or none. */
import { describe, expect, it } from "vitest";
import {
  groundValue,
  locateValue,
  MAX_QUOTE_LENGTH,
  monthOf,
  partsOfValue,
  readingsOfNumber,
  readingsOfValue,
} from "../../functions/merge/grounding.ts";
import type { DocumentLayout } from "../../functions/shared/contracts.ts";
import { editDistance, editDistanceWithin } from "../../functions/shared/edit-distance.ts";

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

describe("locateValue's readings", () => {
  it("finds whole words and numbers only: not a code inside a longer one, not a number inside a longer number", () => {
    expect(quote("Total 3.21 GBP, tax 21%", 21)).toEqual({ match: "exact", quote: "21" });
    expect(quote("Currency GBP", "GB")).toEqual({ match: "exact", quote: "GB" }); // no word GB: inside GBP as the last resort
    expect(quote("Price 399,00 per unit, 1 399,00 in all", 399)).toEqual({ match: "normalised", quote: "399,00" });
    expect(quote("Year 2014", 201)).toEqual({ match: "none" });
  });

  it("reads written dates with Dutch, French, German and Spanish month names, ordinals and abbreviations", () => {
    expect(quote("Orderdatum: 18 april 2014", "2014-04-18")).toEqual({ match: "normalised", quote: "18 april 2014" });
    expect(quote("Orderdatum: 29 maart 2014", "2014-03-29")).toEqual({ match: "normalised", quote: "29 maart 2014" });
    expect(quote("Betaald op 3 mrt. 2014", "2014-03-03")).toEqual({ match: "normalised", quote: "3 mrt. 2014" });
    expect(quote("Facture du 02 Juillet 2015", "2015-07-02")).toEqual({ match: "normalised", quote: "02 Juillet 2015" });
    expect(quote("le 1er février 2016", "2016-02-01")).toEqual({ match: "normalised", quote: "1er février 2016" });
    expect(quote("Rechnungsdatum 7. Mai 2014", "2014-05-07")).toEqual({ match: "normalised", quote: "7. Mai 2014" });
    expect(quote("Fecha: 5 de marzo de 2024", "2024-03-05")).toEqual({ match: "normalised", quote: "5 de marzo de 2024" });
    expect(quote("Due 31-Dec-17", "2017-12-31")).toEqual({ match: "normalised", quote: "31-Dec-17" });
    expect(quote("Invoice Date: August 3 , 2014", "2014-08-03")).toEqual({ match: "normalised", quote: "August 3 , 2014" });
    expect(quote("Fecha: 5 de marzo de 2024", "2024-05-05")).toEqual({ match: "none" });
    // Ranges within a month give both days; a date written alone wins over a range.
    expect(quote("Haut Débit du 1er au 31 Juillet 2015", "2015-07-01")).toEqual({ match: "normalised", quote: "1er au 31 Juillet 2015" });
    expect(quote("Haut Débit du 1er au 31 Juillet 2015", "2015-07-31")).toEqual({ match: "normalised", quote: "31 Juillet 2015" });
    expect(quote("period 1-31 March 2024; paid 31 March 2024", "2024-03-31")).toEqual({ match: "normalised", quote: "31 March 2024" });
    expect(quote("billing period July 1 - July 31 , 2014", "2014-07-01")).toEqual({ match: "normalised", quote: "July 1 - July 31 , 2014" });
    expect(quote("billing period July 1 - July 31 , 2014", "2014-07-15")).toEqual({ match: "none" });
    expect(quote("Rechnung 7. Maier 2014", "2014-05-07")).toEqual({ match: "none" });
    expect(monthOf("Décembre")).toBe(12);
    expect(monthOf("März")).toBe(3);
    expect(monthOf("mei")).toBe(5);
    expect(monthOf("ago.")).toBe(8);
    expect(monthOf("Mayday")).toBeUndefined();
  });

  it("reads amounts with a space, a no-break space or an apostrophe grouping thousands", () => {
    expect(quote("Total CHF 1'234.50", 1234.5)).toEqual({ match: "normalised", quote: "1'234.50" });
    expect(quote("Total 1 234,50 €", "1234.50")).toEqual({ match: "normalised", quote: "1 234,50" });
    expect(quote("Total 12\u00A0345,00 €", 12345)).toEqual({ match: "normalised", quote: "12\u00A0345,00" });
    expect(readingsOfNumber("1’234.5")).toEqual([1234.5]);
  });

  it("reads quotation marks and primes as the ASCII marks, two apostrophes as a double quote", () => {
    expect(quote("Decoded Leather Sleeve 15,4\" Vintage", "Decoded Leather Sleeve 15,4'' Vintage")).toEqual({
      match: "normalised",
      quote: "Decoded Leather Sleeve 15,4\" Vintage",
    });
    expect(quote("Rugzak 15'' Grijs", "Rugzak 15″ Grijs")).toEqual({ match: "normalised", quote: "Rugzak 15'' Grijs" });
    expect(quote("Taylor’s Store", "Taylor's Store")).toEqual({ match: "normalised", quote: "Taylor’s Store" });
  });

  it("reads a currency code as its symbol and a symbol as its code", () => {
    expect(quote("Totaal € 717,97", "EUR")).toEqual({ match: "normalised", quote: "€" });
    expect(quote("Amount payable Rs. 1939", "INR")).toEqual({ match: "normalised", quote: "Rs." });
    expect(quote("Total £ 12", "GBP")).toEqual({ match: "normalised", quote: "£" });
    expect(quote("Total 12.00 USD", "$")).toEqual({ match: "normalised", quote: "USD" });
    // An abbreviation must stand alone: "rs" in "Orders" is no rupee.
    expect(quote("Orders shipped", "INR")).toEqual({ match: "none" });
    expect(readingsOfValue("usd")).toContain("$");
  });

  it("reads a value without its leading # or No., and a company's legal form in full or abbreviated", () => {
    expect(quote("Invoice BLR_WFLD2015 dated", "#BLR_WFLD2015")).toEqual({ match: "normalised", quote: "BLR_WFLD2015" });
    expect(quote("Invoice 2022089083", "No. 2022089083")).toEqual({ match: "normalised", quote: "2022089083" });
    expect(readingsOfValue("Nordic")).toEqual([]);
    expect(quote("Sprzedawca: Polski Koncern Naftowy ORLEN S.A.", "Polski Koncern Naftowy ORLEN spółka akcyjna")).toEqual({
      match: "normalised",
      quote: "Polski Koncern Naftowy ORLEN S.A.",
    });
    expect(quote("Coolblue besloten vennootschap, Rotterdam", "Coolblue B.V.")).toEqual({ match: "normalised", quote: "Coolblue besloten vennootschap" });
  });

  it("reads an identifier with its groups written apart by spaces, hyphens or dots", () => {
    expect(quote("N° de TVA: FR 604 219 388 61", "FR60421938861")).toEqual({ match: "normalised", quote: "FR 604 219 388 61" });
    expect(quote("NIP: 774-00-01-454", 7740001454)).toEqual({ match: "normalised", quote: "774-00-01-454" });
    expect(quote("BTW-nr: NL8152.54.295.B01", "NL815254295B01")).toEqual({ match: "normalised", quote: "NL8152.54.295.B01" });
    expect(quote("IBAN NL58 RABO 0198 7232 02", "NL58RABO0198723202")).toEqual({ match: "normalised", quote: "NL58 RABO 0198 7232 02" });
    // Not across other punctuation, not inside a longer identifier, not for short ones.
    expect(quote("Tel: 774, 00-01-454", 7740001454)).toEqual({ match: "none" });
    expect(quote("X1FR60421938861", "FR60421938861")).toEqual({ match: "exact", quote: "FR60421938861" }); // as written, inside a word: last resort
    expect(quote("Ref A1 23", "A123")).toEqual({ match: "none" });
    expect(quote("Total 1234.56", 123456)).toEqual({ match: "none" });
  });

  it("reads a value's lines, or its label and value, drawn in another order close together", () => {
    const cell = "01.05.14-31.05.14\n\nDienst: OUDJQ_jauernik\n\nGrundgebühr pro Einheit\n\n6 1 Small Business QualityExchange 2010 5,39";
    const value = "Small Business QualityExchange 2010\nGrundgebühr pro Einheit\nDienst: OUDJQ_jauernik\n01.05.14-31.05.14";
    expect(quote(cell, value)).toEqual({ match: "normalised", quote: cell.slice(0, cell.indexOf(" 5,39")) });
    expect(quote("993548900 Factuurnummer:\n12572103 Ordernummer:", "Ordernummer: 12572103")).toEqual({
      match: "normalised",
      quote: "12572103 Ordernummer:",
    });
    expect(partsOfValue("Ordernummer: 12572103")).toEqual(["Ordernummer:", "12572103"]);
    // Parts far apart are not the value.
    const far = `12572103 ${"filler text ".repeat(20)}Ordernummer:`;
    expect(quote(far, "Ordernummer: 12572103")).toEqual({ match: "none" });
  });
});

describe("groundValue", () => {
  // Two pages of a PDF: text-layer runs (items split mid-word and mid-number, as pdf.js gives them) and an OCR'd page.
  const pages = ["INVOICE No. INV-7\nTotal due 3,906.00 GBP\nTotal due 3,906.00 GBP", "Paid by Initech GmbH\nThank you"];
  const text = pages.join("\n\n");
  const layout: DocumentLayout = {
    version: 1,
    text,
    pages: [
      {
        page: 1,
        charStart: 0,
        charEnd: pages[0]!.length,
        width: 595,
        height: 842,
        source: "text-layer",
        runs: [
          { text: "INVOICE No. INV-7", box: [50, 40, 150, 50] },
          { text: "Total due ", box: [50, 60, 100, 70] },
          { text: "3,906", box: [100, 60, 125, 70] },
          { text: ".00 GBP", box: [125, 60, 160, 70] },
          { text: "Total due 3,906.00 GBP", box: [50, 80, 160, 90] },
        ],
      },
      {
        page: 2,
        charStart: pages[0]!.length + 2,
        charEnd: text.length,
        width: 595,
        height: 842,
        source: "ocr",
        runs: [
          { text: "Paid", box: [50, 40, 70, 50], confidence: 96 },
          { text: "by", box: [72, 40, 82, 50], confidence: 90 },
          { text: "Initech", box: [84, 40, 120, 50], confidence: 80 },
          { text: "GmbH", box: [122, 40, 150, 50], confidence: 70 },
          { text: "Thank", box: [50, 60, 80, 70], confidence: 95 },
          { text: "you", box: [82, 60, 100, 70], confidence: 95 },
        ],
      },
    ],
    chunks: [
      { index: 0, charStart: 0, charEnd: pages[0]!.length },
      { index: 1, charStart: pages[0]!.length + 2, charEnd: text.length },
    ],
  };

  it("gives the page, the span in the document text, the quote and the boxes drawing it", () => {
    const { grounding, ocrConfidence } = groundValue("INV-7", layout, [0]);
    expect(grounding).toEqual({
      match: "exact",
      page: 1,
      charStart: 12,
      charEnd: 17,
      quote: "INV-7",
      // "INV-7" is the last 5 of the run's 17 characters: its box cut to them.
      boxes: [{ page: 1, x: 120.6, y: 40, width: 29.4, height: 10 }],
    });
    expect(text.slice(grounding.charStart, grounding.charEnd)).toBe("INV-7");
    expect(ocrConfidence).toBeUndefined();
  });

  it("joins the runs of a value split into several text items into one box, and takes the occurrence the text has", () => {
    const first = groundValue(3906, layout, [0]).grounding;
    expect(first).toMatchObject({ match: "normalised", page: 1, quote: "3,906.00", boxes: [{ page: 1, x: 100, y: 60, width: 40, height: 10 }] });
    // The same amount's second occurrence in the text is the second in the runs: only a longer value reaches it here.
    const second = groundValue("Total due 3,906.00 GBP\nTotal due 3,906.00 GBP", layout, [0]).grounding;
    expect(second.boxes).toEqual([
      { page: 1, x: 50, y: 60, width: 110, height: 10 },
      { page: 1, x: 50, y: 80, width: 110, height: 10 },
    ]);
  });

  it("looks only in the chunks the value came from, and says none when they do not hold it", () => {
    expect(groundValue("Initech GmbH", layout, [0]).grounding).toEqual({ match: "none" });
    expect(groundValue("Initech GmbH", layout, []).grounding).toEqual({ match: "none" });
    expect(groundValue("Initech GmbH", layout, [7]).grounding).toEqual({ match: "none" });
    expect(groundValue("Globex Corporation", layout, [0, 1]).grounding).toEqual({ match: "none" });
  });

  it("takes the best match over the chunks, the earliest on ties", () => {
    const overlapping: DocumentLayout = { ...layout, chunks: [...layout.chunks, { index: 2, charStart: 0, charEnd: text.length }] };
    // Chunk 1 holds "initech gmbh" only normalised (by case); chunk 2 too; the exact "Initech GmbH" wins wherever it is.
    expect(groundValue("initech gmbh", overlapping, [1, 2]).grounding).toMatchObject({ match: "normalised", page: 2 });
    expect(groundValue("Total due", overlapping, [1, 2, 0]).grounding).toMatchObject({ match: "exact", charStart: 18 });
  });

  it("with a place to look near, takes the occurrence closest to it, as written", () => {
    const lines = "Widget  1  10.00\nGadget  1  20.00\nGizmo  2  30.00";
    const list: DocumentLayout = {
      version: 1,
      text: lines,
      pages: [{ page: 1, charStart: 0, charEnd: lines.length, width: 595, height: 842, source: "text-layer", runs: [] }],
      chunks: [{ index: 0, charStart: 0, charEnd: lines.length }],
    };
    const second = { charStart: lines.indexOf("Gadget"), charEnd: lines.indexOf("Gadget") + "Gadget".length };
    expect(groundValue("1", list, [0]).grounding.charStart).toBe(lines.indexOf("1"));
    // Measured from the span's edges: the 1 right after "Gadget", not the first line's.
    expect(groundValue("1", list, [0], second).grounding.charStart).toBe(lines.indexOf("1", second.charStart));
    expect(groundValue("1", list, [0], { charStart: lines.length, charEnd: lines.length }).grounding.charStart).toBe(lines.indexOf("1", second.charStart));
  });

  it("on an OCR'd page, gives the word boxes and the mean word confidence under the quote", () => {
    const { grounding, ocrConfidence } = groundValue("Initech GmbH", layout, [1]);
    expect(grounding).toMatchObject({ match: "exact", page: 2, quote: "Initech GmbH", boxes: [{ page: 2, x: 84, y: 40, width: 66, height: 10 }] });
    expect(ocrConfidence).toBe(75);
  });

  it("on a page with a text layer whose image was OCR'd, gives the OCR confidence only under the image's words", () => {
    const text = "Invoice INV-9\n\nACME Ltd";
    const hybrid: DocumentLayout = {
      version: 1,
      text,
      pages: [
        {
          page: 1, charStart: 0, charEnd: text.length, width: 595, height: 842, source: "text-layer",
          runs: [
            { text: "Invoice INV-9", box: [40, 200, 140, 210] },
            { text: "ACME", box: [40, 20, 80, 30], confidence: 80 },
            { text: "Ltd", box: [84, 20, 100, 30], confidence: 90 },
          ],
        },
      ],
      chunks: [{ index: 0, charStart: 0, charEnd: text.length }],
    };
    expect(groundValue("INV-9", hybrid, [0]).ocrConfidence).toBeUndefined();
    const acme = groundValue("ACME Ltd", hybrid, [0]);
    expect(acme.grounding).toMatchObject({ match: "exact", boxes: [{ page: 1, x: 40, y: 20, width: 60, height: 10 }] });
    expect(acme.ocrConfidence).toBe(85);
  });

  it("gives fuzzy matches their similarity", () => {
    const { grounding } = groundValue("Initech GmbX", layout, [1]);
    expect(grounding).toMatchObject({ match: "fuzzy", page: 2, quote: "Initech GmbH", similarity: expect.closeTo(0.917, 2) });
  });

  it("gives boxes on both pages for a quote over two pages, and none for a page without runs", () => {
    const spanning = groundValue("3,906.00 GBP Paid by", layout, [0, 1, 2]);
    expect(spanning.grounding).toEqual({ match: "none" });
    const whole: DocumentLayout = { ...layout, chunks: [{ index: 0, charStart: 0, charEnd: text.length }] };
    const across = groundValue("GBP\n\nPaid by", whole, [0]).grounding;
    expect(across).toMatchObject({ match: "exact", page: 1 });
    expect(across.boxes!.map((box) => box.page)).toEqual([1, 2]);
    const plain: DocumentLayout = { ...whole, pages: whole.pages.map((page) => ({ ...page, runs: [] })) };
    expect(groundValue("Initech GmbH", plain, [0]).grounding).toMatchObject({ match: "exact", page: 2, boxes: [] });
  });

  it("keeps the quote to 200 characters", () => {
    const long = "word ".repeat(100).trim();
    const longLayout: DocumentLayout = {
      version: 1,
      text: long,
      pages: [{ page: 1, charStart: 0, charEnd: long.length, width: 0, height: 0, source: "text-layer", runs: [] }],
      chunks: [{ index: 0, charStart: 0, charEnd: long.length }],
    };
    const { grounding } = groundValue(long, longLayout, [0]);
    expect(grounding.charEnd! - grounding.charStart!).toBe(long.length);
    expect(grounding.quote).toHaveLength(MAX_QUOTE_LENGTH);
  });
});

describe("editDistanceWithin (fuzzy grounding's bounded distance)", () => {
  it("equals the Levenshtein distance when it is within the bound, and is undefined beyond", () => {
    const words = ["", "a", "gmbh", "gmbx", "initech", "initecb", "kitten", "sitting", "flaw", "lawn", "abcdefgh", "hgfedcba"];
    for (const a of words) {
      for (const b of words) {
        const distance = editDistance(a, b);
        for (let bound = 0; bound <= 9; bound++) {
          expect(editDistanceWithin(a, b, bound), `${a} ${b} ${bound}`).toBe(distance <= bound ? distance : undefined);
        }
      }
    }
  });
});
