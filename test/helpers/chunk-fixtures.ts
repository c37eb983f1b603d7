/** PDFs of given pages and the properties every chunking must have, shared by the chunking tests. */
import { expect } from "vitest";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { type Chunk } from "../../functions/chunk/chunker.ts";
import type { TokenCounter } from "../../functions/chunk/tokenizer.ts";
import { documentText } from "../../functions/chunk/document-text.ts";
/** A PDF whose pages hold the given lines (Helvetica 12pt, top down); an empty page list entry is a blank page. */
export async function pdfWithPages(pages: string[][]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage([612, 792]);
    lines.forEach((line, k) => page.drawText(line, { x: 50, y: 740 - k * 18, size: 12, font }));
  }
  return doc.save();
}

/** Words tagged with their page, so a chunk's words tell which pages it spans: p2w13 is page 2's 13th word. */
export function taggedWords(page: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `p${page}w${k}`);
}

export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== "");
}

/** The properties every chunking without overlap must have, whatever the input. */
export function expectValidChunks(chunks: Chunk[], pages: string[], maxTokens: number, counter: TokenCounter): void {
  expectValidOffsets(chunks, pages);
  chunks.forEach((chunk, k) => {
    expect(chunk.index).toBe(k);
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
    expect(chunk.tokenCount).toBe(counter.count(chunk.text));
    expect(chunk.text).toBe(chunk.text.trim());
    expect(chunk.text).not.toBe("");
    expect(chunk.text).not.toMatch(LONE_SURROGATE);
    expect(chunk.pageStart).toBeGreaterThanOrEqual(1);
    expect(chunk.pageEnd).toBeGreaterThanOrEqual(chunk.pageStart);
    expect(chunk.pageEnd).toBeLessThanOrEqual(pages.length);
    const previous = chunks[k - 1];
    if (previous) expect(chunk.pageStart).toBeGreaterThanOrEqual(previous.pageEnd);
  });
  // No text lost: all non-whitespace content, in order.
  const strip = (text: string): string => text.replace(/\s+/g, "");
  expect(strip(chunks.map((chunk) => chunk.text).join(""))).toBe(strip(pages.join("")));
}

/** Offsets: each chunk is the exact slice of the document text; pages are those of its first and last character. */
export function expectValidOffsets(chunks: Chunk[], pages: string[]): void {
  const doc = documentText(pages);
  expect(doc).toBe(pages.join("\n\n"));
  const pageOf = (offset: number): number => {
    let start = 0;
    for (let page = 0; page < pages.length; page++) {
      start += (pages[page] as string).length;
      if (offset < start) return page + 1;
      start += 2;
    }
    throw new Error(`offset ${offset} is past the document`);
  };
  chunks.forEach((chunk, k) => {
    expect(doc.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
    expect(chunk.pageStart).toBe(pageOf(chunk.charStart));
    expect(chunk.pageEnd).toBe(pageOf(chunk.charEnd - 1));
    const previous = chunks[k - 1];
    if (previous) {
      expect(chunk.charEnd).toBeGreaterThan(previous.charEnd);
      expect(chunk.charStart).toBeGreaterThan(previous.charStart);
    }
  });
}
