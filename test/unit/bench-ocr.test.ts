/** The OCR benchmark's scoring (bench/ocr.ts): edit distance, normalisation and the scores of a read. */
import { PDFDocument, setTextRenderingMode, StandardFonts, TextRenderingMode } from "pdf-lib";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { describe, expect, it } from "vitest";
import { pdfjsRenderingOptions } from "../../functions/shared/page-render/render-page.ts";
import { editDistance } from "../../functions/shared/edit-distance.ts";
import { drawnText, groundTruthProblem, latinLetterShare, normaliseForScoring, scoreRead } from "../../bench/ocr.ts";

describe("OCR scoring", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("normalises case, quotes, dashes, compatibility forms and whitespace", () => {
    expect(normaliseForScoring("  \u201CTotal\u201D \u2013 \uFB01ne\n\n12\u00A0GBP ")).toBe('"total" - fine 12 gbp');
  });

  it("scores a perfect read 0 % CER and full recall", () => {
    expect(scoreRead("Invoice INV-7\nTotal 12.00", "invoice  inv-7 total 12.00")).toEqual({ cer: 0, cerInOrder: 0, wordRecall: 1 });
  });

  it("counts a misread character as one error in both CERs, over the truth's characters", () => {
    const { cer, cerInOrder, wordRecall } = scoreRead("Invoice INV-1 Total 12.00", "Invoice INV-7 Total 12.00");
    expect(cer).toBeCloseTo(1 / "invoiceinv-7total12.00".length, 6);
    expect(cerInOrder).toBeCloseTo(1 / "invoice inv-7 total 12.00".length, 6);
    expect(wordRecall).toBe(0.75);
  });

  it("does not count a different reading order against the order-free CER, only against the in-order one", () => {
    const truth = "Left column first line\nRight column first line\nLeft column second line\nRight column second line";
    const columnByColumn = "Left column first line\nLeft column second line\nRight column first line\nRight column second line";
    const score = scoreRead(columnByColumn, truth);
    expect(score.cer).toBe(0);
    expect(score.wordRecall).toBe(1);
    expect(score.cerInOrder).toBeGreaterThan(0.1);
  });

  it("still counts a misread character when the order differs too", () => {
    const score = scoreRead("total 12.00 invoice inv-1", "invoice inv-7 total 12.00");
    expect(score.cer).toBeCloseTo(1 / "invoiceinv-7total12.00".length, 6);
  });

  it("does not count a space added or dropped next to a symbol, nor a double quote drawn as two single ones", () => {
    expect(scoreRead("Total €399,00 \"ideal\"", "Total € 399,00 ''ideal''").cer).toBe(0);
    // A dropped symbol still costs its character.
    expect(scoreRead("Total 399,00", "Total € 399,00").cer).toBeCloseTo(1 / "total€399,00".length, 6);
  });

  it("scores an empty read 100 % (every character deleted) and no recall", () => {
    expect(scoreRead("", "Invoice INV-7 Total 12.00")).toEqual({ cer: 1, cerInOrder: 1, wordRecall: 0 });
    expect(scoreRead("   \n", "Invoice INV-7").cer).toBe(1);
  });

  it("charges extra words their length (insertions), so reading junk does not pay", () => {
    expect(scoreRead("invoice inv-7 ~~~~~", "invoice inv-7").cer).toBeCloseTo(5 / "invoiceinv-7".length, 6);
  });

  it("charges a missing word its length and pairs a misread word with its closest counterpart", () => {
    // "totel" pairs with "total" (1 edit), not with "12.00"; "12.00" is missing (5).
    expect(scoreRead("totel invoice", "invoice total 12.00").cer).toBeCloseTo(6 / "invoicetotal12.00".length, 6);
  });

  it("does not count a repeated word twice", () => {
    expect(scoreRead("total", "total total").wordRecall).toBe(0.5);
    expect(scoreRead("total", "total total").cer).toBe(0.5);
  });
});

describe("the text a page draws (the benchmark's ground truth)", () => {
  const item = (str: string, x: number, y: number, hasEOL = false) => ({ str, transform: [10, 0, 0, 10, x, y], hasEOL });

  it("keeps the items in order, with line ends", () => {
    expect(drawnText([item("Invoice", 10, 700), item("INV-7", 80, 700, true), item("Total", 10, 680)])).toBe("Invoice INV-7\nTotal ");
  });

  it("drops text drawn again over itself (a faked bold), but not the same words elsewhere on the page", () => {
    const items = [item("Total", 10, 700), item("Total", 10.4, 700.2), item("12.00", 80, 700, true), item("Total", 10, 600)];
    expect(drawnText(items)).toBe("Total 12.00\nTotal ");
  });
});

describe("which pages the English model can be asked to read", () => {
  it("measures the share of letters in Latin script, accents included, digits and punctuation not counted", () => {
    expect(latinLetterShare("Désordres de l'équilibre, 2014: 12.00 €")).toBe(1);
    expect(latinLetterShare("الخط الثلث")).toBe(0);
    expect(latinLetterShare("ab 中文")).toBe(0.5);
    expect(latinLetterShare("12 345")).toBe(0);
  });
});

describe("pages whose text layer is not what the render shows", () => {
  it("are those with text drawn invisibly (a scan's OCR layer); a page drawn as its text reads is fair", async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const line = "Invoice INV-7, total 12.00 GBP, due on receipt";
    pdf.addPage([595, 842]).drawText(line, { x: 40, y: 800, size: 10, font });
    const invisible = pdf.addPage([595, 842]);
    invisible.pushOperators(setTextRenderingMode(TextRenderingMode.Invisible));
    invisible.drawText(line, { x: 40, y: 800, size: 10, font });
    const doc = await getDocument({ data: await pdf.save(), ...pdfjsRenderingOptions() }).promise;
    try {
      expect(await groundTruthProblem(await doc.getPage(1))).toBeUndefined();
      expect(await groundTruthProblem(await doc.getPage(2))).toMatch(/100 % of its glyphs are invisible/);
    } finally {
      await doc.destroy();
    }
  });
});
