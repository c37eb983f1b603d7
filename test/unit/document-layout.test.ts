/** The document layout the chunk step writes for grounding: runs and their boxes, page spans and sizes, chunk spans. */
import { describe, expect, it } from "vitest";
import { degrees, PDFDocument, StandardFonts } from "pdf-lib";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { buildDocumentLayout } from "../../functions/chunk/document-layout.ts";
import { assembleOcrPages, missingPage } from "../../functions/chunk/ocr-plan.ts";
import { extractPages } from "../../functions/chunk/pdf-text.ts";
import { ocrDrawing, shownBox, textRuns } from "../../functions/chunk/text-runs.ts";
import { createCl100kTokenizer } from "../../functions/chunk/tokenizer.ts";
import type { DocumentLayout, OcrPageRecord } from "../../functions/shared/contracts.ts";

const A4 = [595, 842] as const;
/** pdf.js's viewport transform at scale 1 of an upright A4 page: y flipped, origin at the top-left. */
const UPRIGHT = [1, 0, 0, -1, 0, 842];

describe("text runs", () => {
  it("boxes a text item from its baseline: 0.2 font sizes below to 0.8 above, its advance wide, in points from the top-left", () => {
    const item = { str: "Total 12.00", transform: [10, 0, 0, 10, 50, 700], width: 60, height: 10, hasEOL: false };
    expect(textRuns([item], UPRIGHT)).toEqual([{ text: "Total 12.00", box: [50, 134, 110, 144] }]);
  });

  it("leaves out whitespace items and marked-content items", () => {
    const space = { str: "  ", transform: [10, 0, 0, 10, 50, 700], width: 5, height: 10, hasEOL: false };
    expect(textRuns([space, { type: "beginMarkedContent" }], UPRIGHT)).toEqual([]);
  });

  it("gives a rotated page's text the box it covers on the page as shown", () => {
    // A page rotated 90°: pdf.js's viewport maps user (x, y) to shown (y, x) on an 842 x 595 page.
    const rotated = [0, 1, 1, 0, 0, 0];
    const item = { str: "Sideways", transform: [10, 0, 0, 10, 100, 200], width: 40, height: 10, hasEOL: false };
    expect(textRuns([item], rotated)).toEqual([{ text: "Sideways", box: [198, 100, 208, 140] }]);
    expect(shownBox([100, 200, 140, 210], UPRIGHT)).toEqual([100, 632, 140, 642]);
  });

  it("turns OCR'd words' pixel boxes into points at the record's dpi, keeping each word's confidence", () => {
    const record: OcrPageRecord = {
      page: 1,
      text: "Total 12",
      words: [
        { text: "Total", confidence: 91.26, box: { x0: 300, y0: 600, x1: 450, y1: 640 } },
        { text: " ", confidence: 0, box: { x0: 450, y0: 600, x1: 460, y1: 640 } },
        { text: "12", confidence: 88, box: { x0: 480, y0: 600, x1: 530, y1: 640 } },
      ],
      meanConfidence: 89,
      width: 2480,
      height: 3508,
      dpi: 300,
      ms: 1,
    };
    expect(ocrDrawing(record)).toEqual({
      width: 595.2,
      height: 841.9,
      runs: [
        { text: "Total", box: [72, 144, 108, 153.6], confidence: 91.3 },
        { text: "12", box: [115.2, 144, 127.2, 153.6], confidence: 88 },
      ],
    });
  });
});

/** A page that draws `lines` from the top, 20 pt apart, in 12 pt Helvetica. */
async function pdf(pages: Array<{ lines: string[]; rotate?: number }>): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const { lines, rotate } of pages) {
    const page = doc.addPage([...A4]);
    if (rotate) page.setRotation(degrees(rotate));
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 780 - 20 * i, size: 12, font }));
  }
  return doc.save();
}

describe("the chunk step's layout", () => {
  it("keeps each PDF page's size as shown and its text items with boxes around their glyphs", async () => {
    const { drawings } = await extractPages(await pdf([{ lines: ["Invoice INV-7", "Total 12.00 EUR"] }, { lines: ["Thanks"], rotate: 90 }]));
    expect(drawings!.map(({ width, height, source }) => ({ width, height, source }))).toEqual([
      { width: 595, height: 842, source: "text-layer" },
      { width: 842, height: 595, source: "text-layer" },
    ]);
    const [invoice, total] = drawings![0]!.runs;
    expect(invoice!.text).toBe("Invoice INV-7");
    // Baseline at y = 780 from the bottom: 62 from the top; 12 pt type spans 9.6 above it to 2.4 below.
    expect(invoice!.box).toEqual([50, 52.4, expect.closeTo(122, 0), 64.4]);
    expect(total!.box[1]).toBeCloseTo(72.4, 1);
    // The rotated page's line runs down the shown page: taller than wide.
    const [thanks] = drawings![1]!.runs;
    const [x0, y0, x1, y1] = thanks!.box;
    expect(y1 - y0).toBeGreaterThan(x1 - x0);
  });

  it("writes the chunks' source text, page spans and chunk spans: every chunk's text is its span of the layout text", async () => {
    const tokenizer = createCl100kTokenizer();
    try {
      const lines = Array.from({ length: 30 }, (_, i) => `Line ${i} of the delivery terms for order ${1000 + i}.`);
      const bytes = await pdf([{ lines: lines.slice(0, 15) }, { lines: lines.slice(15) }]);
      const result = await chunkDocument(bytes, { documentId: "d", sourceKey: "in/terms.pdf", bucket: "b", maxTokens: 60, tokenizer, overlapTokens: 8 });
      const layout = result.layout!;
      expect(layout.version).toBe(1);
      expect(layout.text).toBe(result.pageTexts!.join("\n\n"));
      expect(layout.pages.map((page) => layout.text.slice(page.charStart, page.charEnd))).toEqual(result.pageTexts);
      expect(layout.chunks).toHaveLength(result.chunkCount);
      expect(result.chunkCount).toBeGreaterThan(2);
      for (const item of result.manifest.items) {
        const span = layout.chunks.find((chunk) => chunk.index === item.index)!;
        expect(layout.text.slice(span.charStart, span.charEnd)).toBe(item.text);
      }
      expect(layout.pages[1]!.runs.map((run) => run.text)).toEqual(lines.slice(15));
    } finally {
      tokenizer.dispose();
    }
  });

  it("has no runs for a text upload, and none for a record batch", async () => {
    const tokenizer = createCl100kTokenizer();
    try {
      const text = await chunkDocument(new TextEncoder().encode("Invoice INV-7\n\nTotal 12.00 EUR"), {
        documentId: "d", sourceKey: "notes.txt", bucket: "b", maxTokens: 100, tokenizer,
      });
      expect(text.layout).toEqual({
        version: 1,
        text: "Invoice INV-7\n\nTotal 12.00 EUR",
        pages: [{ page: 1, charStart: 0, charEnd: 30, width: 0, height: 0, source: "text-layer", runs: [] }],
        chunks: [{ index: 0, charStart: 0, charEnd: 30 }],
      } satisfies DocumentLayout);
      const batch = await chunkDocument(new TextEncoder().encode('{"id":"a","text":"one"}\n'), {
        documentId: "d", sourceKey: "batch.jsonl", bucket: "b", maxTokens: 100, tokenizer,
      });
      expect(batch.layout).toBeUndefined();
    } finally {
      tokenizer.dispose();
    }
  });

  it("after OCR: OCR'd pages get their words, a failed page keeps its text layer's runs", () => {
    const runs = [{ text: "own text", box: [1, 2, 3, 4] as [number, number, number, number] }];
    const layer = {
      pages: ["own text", "", ""],
      ocrPages: [2, 3],
      drawings: [
        { width: 595, height: 842, source: "text-layer" as const, runs },
        { width: 595, height: 842, source: "text-layer" as const, runs: [] },
        { width: 595, height: 842, source: "text-layer" as const, runs: [] },
      ],
    };
    const scanned: OcrPageRecord = {
      page: 2, text: "scanned", words: [{ text: "scanned", confidence: 80, box: { x0: 0, y0: 0, x1: 144, y1: 72 } }],
      meanConfidence: 80, width: 1440, height: 720, dpi: 144, ms: 1,
    };
    const { pages, drawings } = assembleOcrPages(layer, new Map([[2, scanned]]), (page) => missingPage(page, undefined));
    expect(pages).toEqual(["own text", "scanned", ""]);
    expect(drawings).toEqual([
      layer.drawings[0],
      { width: 720, height: 360, source: "ocr", runs: [{ text: "scanned", box: [0, 0, 72, 36], confidence: 80 }] },
      layer.drawings[2],
    ]);
    // An image upload's plan has no drawings: its failed pages have none either.
    const image = assembleOcrPages({ pages: ["", ""], ocrPages: [1, 2] }, new Map([[1, { ...scanned, page: 1 }]]), (page) => missingPage(page, undefined));
    expect(image.drawings[1]).toBeUndefined();
    const layout = buildDocumentLayout(image.pages, image.drawings, [{ index: 0, charStart: 0, charEnd: 7 }]);
    expect(layout.pages[1]).toMatchObject({ width: 0, height: 0, runs: [] });
  });
});
