import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PDFDocument, StandardFonts, rgb } from "pdf-lib";
import { inputError, rawPdf } from "../helpers/extract-fixtures.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import type { ChunkItem } from "../../functions/shared/contracts.ts";
import {
  extractDocumentText,
  extractPages,
  hasPdfHeader,
  tidyText,
} from "../../functions/chunk/pdf-text.ts";
import {
  ChunkLimitError,
  chunkPages,
  documentText,
  MAX_RUN_CHARS,
  segmentStarts,
  utf8Length,
  type Chunk,
} from "../../functions/chunk/chunker.ts";
import { createCl100kTokenizer, type TokenCounter, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import {
  buildManifest,
  chunkIdOf,
  chunkTextKey,
  DEFAULT_INLINE_TEXT_LIMIT_BYTES,
  manifestKey,
} from "../../functions/chunk/manifest.ts";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { DOMMatrix2D } from "../../functions/chunk/dom-polyfill.ts";

// ---------------------------------------------------------------------------------------------------------------------
// Fixtures

/** A PDF whose pages hold the given lines (Helvetica 12pt, top down); an empty page list entry is a blank page. */
async function pdfWithPages(pages: string[][]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage([612, 792]);
    lines.forEach((line, k) => page.drawText(line, { x: 50, y: 740 - k * 18, size: 12, font }));
  }
  return doc.save();
}

/** Words tagged with their page, so a chunk's words tell which pages it spans: p2w13 is page 2's 13th word. */
function taggedWords(page: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => `p${page}w${k}`);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== "");
}

/** The properties every chunking without overlap must have, whatever the input. */
function expectValidChunks(chunks: Chunk[], pages: string[], maxTokens: number, counter: TokenCounter): void {
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
function expectValidOffsets(chunks: Chunk[], pages: string[]): void {
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

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

// ---------------------------------------------------------------------------------------------------------------------

describe("extractPages", () => {
  it("returns one tidied text per page, with each page's own words", async () => {
    const pages = [1, 2, 3].map((page) => [
      `Page ${page} alpha${page} beta${page}`,
      `Second    line gamma${page}`,
      `Caf\u00e9 delta${page}`,
    ]);
    const bytes = await pdfWithPages(pages);
    const { pages: texts } = await extractPages(bytes);
    expect(texts).toHaveLength(3);
    texts.forEach((text, k) => {
      const page = k + 1;
      expect(wordsOf(text)).toEqual(expect.arrayContaining([`alpha${page}`, `beta${page}`, `gamma${page}`, `delta${page}`]));
      for (const other of [1, 2, 3].filter((p) => p !== page)) expect(text).not.toContain(`alpha${other}`);
      expect(text).toContain("Second line"); // runs of spaces collapsed
      expect(text).not.toMatch(/ {2}|\t/);
      expect(text).toBe(text.normalize("NFC"));
    });
    // The caller's bytes are not handed over to pdf.js (which transfers the buffer it is given).
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect(hasPdfHeader(bytes)).toBe(true);
  });

  it("keeps blank pages as empty strings so page numbers stay aligned", async () => {
    const { pages } = await extractPages(await pdfWithPages([["first page"], [], ["third page"]]));
    expect(pages).toEqual(["first page", "", "third page"]);
  });

  it("rejects an empty object with EMPTY_FILE", async () => {
    expect((await inputError(extractPages(new Uint8Array()))).code).toBe(DocumentInputCodes.EmptyFile);
  });

  it("rejects bytes without a %PDF- header with NOT_A_PDF", async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(100).fill(0)]);
    expect((await inputError(extractPages(png))).code).toBe(DocumentInputCodes.NotAPdf);
    const text = new TextEncoder().encode("Just some text that is not a PDF at all.");
    expect((await inputError(extractPages(text))).code).toBe(DocumentInputCodes.NotAPdf);
    // The header may start anywhere in the first 1024 bytes, not later.
    const late = new Uint8Array(2000);
    late.set(new TextEncoder().encode("%PDF-1.7"), 1500);
    expect((await inputError(extractPages(late))).code).toBe(DocumentInputCodes.NotAPdf);
  });

  it("rejects a PDF that only draws shapes with NO_TEXT_LAYER and says OCR is not done", async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawRectangle({ x: 50, y: 50, width: 200, height: 100, color: rgb(0.2, 0.4, 0.8) });
    doc.addPage();
    const error = await inputError(extractPages(await doc.save()));
    expect(error.code).toBe(DocumentInputCodes.NoTextLayer);
    expect(error.message).toMatch(/OCR/);
  });

  it("rejects truncated and garbled PDFs with CORRUPT", async () => {
    const bytes = await pdfWithPages([taggedWords(1, 10), taggedWords(2, 10)]);
    for (const fraction of [0.3, 0.6, 0.9]) {
      const truncated = bytes.slice(0, Math.floor(bytes.length * fraction));
      expect((await inputError(extractPages(truncated))).code).toBe(DocumentInputCodes.Corrupt);
    }
    const garbled = new Uint8Array(bytes);
    for (let k = 20; k < garbled.length; k += 7) garbled[k] = ((garbled[k] as number) * 31 + 7) & 0xff;
    expect((await inputError(extractPages(garbled))).code).toBe(DocumentInputCodes.Corrupt);
    const headerOnly = new TextEncoder().encode(`%PDF-1.7\n${"garbage ".repeat(200)}`);
    expect((await inputError(extractPages(headerOnly))).code).toBe(DocumentInputCodes.Corrupt);
  });

  it("rejects a password-protected PDF with ENCRYPTED", async () => {
    // Standard security handler with made-up O/U entries: the empty user password does not open it.
    const id = "0123456789abcdef0123456789abcdef";
    const encrypted = rawPdf(
      [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        `<< /Filter /Standard /V 1 /R 2 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -4 >>`,
      ],
      `/Encrypt 4 0 R /ID [<${id}><${id}>]`,
    );
    expect((await inputError(extractPages(encrypted))).code).toBe(DocumentInputCodes.Encrypted);
  });
});

describe("extractDocumentText", () => {
  const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

  it("reads .txt and .md keys as one page of UTF-8 text, keeping indentation", async () => {
    const { pages } = await extractDocumentText(utf8("\uFEFFTitle\r\n\r\n\r\n\r\n    code block  \r\nend\n"), {
      key: "inbox/notes.TXT",
    });
    expect(pages).toEqual(["Title\n\n    code block\nend"]);
    expect((await extractDocumentText(utf8("# Heading\n\nBody"), { key: "a/readme.md" })).pages).toEqual([
      "# Heading\n\nBody",
    ]);
  });

  it("rejects empty, whitespace-only and non-UTF-8 text files", async () => {
    expect((await inputError(extractDocumentText(new Uint8Array(), { key: "a.txt" }))).code).toBe("EMPTY_FILE");
    expect((await inputError(extractDocumentText(utf8(" \n\t\n"), { key: "a.txt" }))).code).toBe("EMPTY_FILE");
    const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1
    expect((await inputError(extractDocumentText(latin1, { key: "a.txt" }))).code).toBe("NOT_UTF8");
  });

  it("treats every other key as a PDF", async () => {
    expect((await inputError(extractDocumentText(utf8("hello"), { key: "a.pdf" }))).code).toBe("NOT_A_PDF");
    expect((await inputError(extractDocumentText(utf8("hello"), { key: "no-extension" }))).code).toBe("NOT_A_PDF");
    const bytes = await pdfWithPages([["from a pdf"]]);
    expect((await extractDocumentText(bytes, { key: "upload.bin" })).pages).toEqual(["from a pdf"]);
  });
});

describe("tidyText", () => {
  it("normalizes to NFC, collapses spaces, keeps paragraph breaks as one blank line, trims", () => {
    expect(tidyText("  Cafe\u0301 \t\u00a0 au   lait \r\nnext line\r\n\r\n\r\n\r\nnew  paragraph \f end\u0000  ")).toBe(
      "Café au lait\nnext line\n\nnew paragraph\nend",
    );
    expect(tidyText("a\u2029b\u2028c")).toBe("a\n\nb\nc");
    expect(tidyText(" \n \n ")).toBe("");
  });
});

describe("chunkPages", () => {
  /** A multi-page document: three paragraphs of tagged words per page, one blank page. */
  const documentPages = [1, 2, 3, 4, 5].map((page) =>
    page === 3
      ? ""
      : [0, 1, 2]
          .map((paragraph) =>
            taggedWords(page, 60)
              .slice(paragraph * 20, paragraph * 20 + 20)
              .join(" ")
              .concat("."),
          )
          .join("\n\n"),
  );

  it("keeps every chunk within maxTokens, loses no text, and gives correct, monotone page ranges", () => {
    const maxTokens = 50;
    const chunks = chunkPages(documentPages, { maxTokens, tokenizer });
    expect(chunks.length).toBeGreaterThan(1);
    expectValidChunks(chunks, documentPages, maxTokens, tokenizer);
    // Every word lies on a page inside its chunk's range.
    for (const chunk of chunks) {
      for (const word of wordsOf(chunk.text)) {
        const page = Number(/^p(\d+)w/.exec(word)?.[1]);
        expect(page).toBeGreaterThanOrEqual(chunk.pageStart);
        expect(page).toBeLessThanOrEqual(chunk.pageEnd);
      }
    }
    // The blank page 3 contributes nothing.
    expect(chunks.some((chunk) => chunk.pageStart === 3 || chunk.pageEnd === 3)).toBe(false);
  });

  it("packs paragraphs across pages into one chunk when they fit, as a slice of the pages joined by blank lines", () => {
    const pages = ["First page.", "", "Third page.\n\nAnother paragraph."];
    const chunks = chunkPages(pages, { maxTokens: 1000, tokenizer });
    // The empty page 2 is an empty string between two page separators.
    const text = "First page.\n\n\n\nThird page.\n\nAnother paragraph.";
    expect(chunks).toEqual([
      { index: 0, pageStart: 1, pageEnd: 3, charStart: 0, charEnd: text.length, tokenCount: tokenizer.count(text), text },
    ]);
  });

  it("keeps the document's own whitespace between pieces and offsets into it (indentation, odd paragraph breaks)", () => {
    const pages = ["  Intro line.\n \n    indented code\n\tmore", "\n\nNext page. "];
    const chunks = chunkPages(pages, { maxTokens: 1000, tokenizer });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["Intro line.\n \n    indented code\n\tmore\n\n\n\nNext page."]);
    expectValidOffsets(chunks, pages);
    expect(chunks[0]?.charStart).toBe(2);
    const small = chunkPages(pages, { maxTokens: 5, tokenizer });
    expect(small.length).toBeGreaterThan(1);
    expectValidChunks(small, pages, 5, tokenizer);
  });

  it("is deterministic", () => {
    const first = chunkPages(documentPages, { maxTokens: 40, tokenizer });
    const another = createCl100kTokenizer();
    try {
      expect(chunkPages([...documentPages], { maxTokens: 40, tokenizer: another })).toEqual(first);
    } finally {
      another.dispose();
    }
  });

  it("splits an oversized paragraph at sentence boundaries before anything else", () => {
    const sentences = Array.from({ length: 30 }, (_, k) => `Sentence ${k} ends here.`);
    const pages = [sentences.join(" ")];
    const chunks = chunkPages(pages, { maxTokens: 30, tokenizer });
    expectValidChunks(chunks, pages, 30, tokenizer);
    for (const chunk of chunks) expect(chunk.text).toMatch(/^Sentence \d+ ends here\.( Sentence \d+ ends here\.)*$/);
  });

  it("splits a paragraph without spaces (emoji, CJK) longer than maxTokens without breaking a code point", () => {
    const emoji = "😀🎉👍🏽🚀🌍".repeat(40);
    const cjk = "日本語の文章は空白を使わずに書かれます".repeat(30);
    const family = "👨‍👩‍👧".repeat(60); // one grapheme cluster of five code points each
    for (const text of [emoji, cjk, family, `${emoji}${cjk}`]) {
      const pages = [text];
      const maxTokens = 16;
      const chunks = chunkPages(pages, { maxTokens, tokenizer });
      expect(chunks.length).toBeGreaterThan(1);
      expectValidChunks(chunks, pages, maxTokens, tokenizer);
      expect(chunks.map((chunk) => chunk.text).join("")).toBe(text);
    }
    // Grapheme clusters stay whole when they fit.
    for (const chunk of chunkPages([family], { maxTokens: 16, tokenizer })) expect(chunk.text).toMatch(/^(👨‍👩‍👧)+$/);
  });

  it("cuts a grapheme cluster that alone exceeds maxTokens at code points", () => {
    const zalgo = `a${"\u0301\u0302\u0303".repeat(40)}`;
    const chunks = chunkPages([zalgo], { maxTokens: 8, tokenizer });
    expectValidChunks(chunks, [zalgo], 8, tokenizer);
    expect(chunks.map((chunk) => chunk.text).join("")).toBe(zalgo);
  });

  it("handles long runs without whitespace quickly (tiktoken is quadratic in a run's length)", () => {
    const blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(2000); // 70,000 letters, no break
    const pages = [`Before the blob.\n\n${blob} after.\n\nNext paragraph.`];
    const started = performance.now();
    const chunks = chunkPages(pages, { maxTokens: 500, tokenizer });
    expect(performance.now() - started).toBeLessThan(15_000);
    expectValidChunks(chunks, pages, 500, tokenizer);
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(MAX_RUN_CHARS + 100);
  });

  it("accepts any token counter and packs greedily by its exact counts", () => {
    const characters: TokenCounter = { count: (text) => text.length };
    const chunks = chunkPages(["aaaa bbbb", "cccc\n\ndddd eeee ffff"], { maxTokens: 10, tokenizer: characters });
    expect(chunks.map(({ text, pageStart, pageEnd }) => [text, pageStart, pageEnd])).toEqual([
      ["aaaa bbbb", 1, 1],
      ["cccc\n\ndddd", 2, 2],
      ["eeee ffff", 2, 2],
    ]);
  });

  it("returns no chunks for no text and rejects a budget below 4 tokens", () => {
    expect(chunkPages(["", "  \n\n  "], { maxTokens: 100, tokenizer })).toEqual([]);
    expect(() => chunkPages(["text"], { maxTokens: 3, tokenizer })).toThrow(RangeError);
    expect(() => chunkPages(["text"], { maxTokens: 10.5, tokenizer })).toThrow(RangeError);
    expect(() => chunkPages(["text"], { maxTokens: 100, overlapTokens: 51, tokenizer })).toThrow(/overlapTokens/);
    expect(() => chunkPages(["text"], { maxTokens: 100, overlapTokens: -1, tokenizer })).toThrow(RangeError);
    expect(() => chunkPages(["text"], { maxTokens: 100, maxChunks: 0, tokenizer })).toThrow(/maxChunks/);
  });

  it("stops as soon as a document needs more than maxChunks chunks, without splitting the rest", () => {
    const calls: string[] = [];
    const counting: TokenCounter = { count: (text) => (calls.push(text), tokenizer.count(text)) };
    const exact = chunkPages(documentPages, { maxTokens: 40, tokenizer });
    expect(chunkPages(documentPages, { maxTokens: 40, tokenizer, maxChunks: exact.length })).toEqual(exact);
    let error: unknown;
    try {
      chunkPages(documentPages, { maxTokens: 40, tokenizer: counting, maxChunks: 2 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ChunkLimitError);
    expect((error as ChunkLimitError).maxChunks).toBe(2);
    // Page 5's words were never counted: chunking stopped at the third chunk.
    expect(calls.some((text) => text.includes("p5w"))).toBe(false);
  });
});

describe("chunkPages with overlap", () => {
  const sentences = Array.from({ length: 40 }, (_, k) => `Sentence number ${k} talks about item ${k}.`);
  const pages = [sentences.slice(0, 20).join(" "), sentences.slice(20).join(" ")];

  it("starts each chunk with the previous chunk's tail from a sentence start, within the overlap budget", () => {
    const maxTokens = 60;
    const overlapTokens = 20;
    const plain = chunkPages(pages, { maxTokens, tokenizer });
    const chunks = chunkPages(pages, { maxTokens, overlapTokens, tokenizer });
    expectValidOffsets(chunks, pages);
    expect(chunks.length).toBeGreaterThan(plain.length);
    const doc = documentText(pages);
    chunks.forEach((chunk, k) => {
      expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
      expect(chunk.tokenCount).toBe(tokenizer.count(chunk.text));
      expect(chunk.text).toMatch(/^Sentence number \d+ .*\.$/s);
      const previous = chunks[k - 1];
      if (!previous) return;
      // The overlap is a non-empty tail of the previous chunk, no more than overlapTokens, starting a sentence.
      expect(chunk.charStart).toBeLessThan(previous.charEnd);
      const overlap = doc.slice(chunk.charStart, previous.charEnd);
      expect(previous.text.endsWith(overlap)).toBe(true);
      expect(tokenizer.count(overlap)).toBeLessThanOrEqual(overlapTokens);
      expect(overlap).toMatch(/^Sentence number \d+/);
      // It is the longest such tail: one more sentence would exceed the budget.
      const earlier = previous.text.slice(0, previous.text.length - overlap.length).trimEnd();
      const lastSentence = earlier.slice(earlier.lastIndexOf("Sentence number"));
      expect(tokenizer.count(`${lastSentence} ${overlap}`)).toBeGreaterThan(overlapTokens);
    });
    // Every sentence is in some chunk, and the overlap crosses the page break (pages 1-2).
    for (const sentence of sentences) expect(chunks.some((chunk) => chunk.text.includes(sentence))).toBe(true);
    expect(chunks.some((chunk, k) => k > 0 && chunk.pageStart === 1 && chunk.pageEnd === 2)).toBe(true);
  });

  it("falls back to a word start when the last sentence alone exceeds the overlap budget", () => {
    const long = Array.from({ length: 60 }, (_, k) => `w${k}`).join(" ");
    const chunks = chunkPages([`${long}.`], { maxTokens: 40, overlapTokens: 8, tokenizer });
    expectValidOffsets(chunks, [`${long}.`]);
    for (let k = 1; k < chunks.length; k++) {
      const previous = chunks[k - 1] as Chunk;
      const chunk = chunks[k] as Chunk;
      expect(chunk.charStart).toBeLessThan(previous.charEnd);
      expect(chunk.text).toMatch(/^w\d+ /);
      expect(tokenizer.count(`${long}.`.slice(chunk.charStart, previous.charEnd))).toBeLessThanOrEqual(8);
    }
  });

  it("gives no overlap when the next piece fills the budget, and none for cuts of an over-long word", () => {
    const big = Array.from({ length: 30 }, (_, k) => `x${k}`).join(" ");
    const pages2 = [`Short one.\n\n${big}`];
    const fit = tokenizer.count(big);
    const chunks = chunkPages(pages2, { maxTokens: fit, overlapTokens: Math.floor(fit / 2), tokenizer });
    expect(chunks.map((chunk) => chunk.text)).toEqual(["Short one.", big]);
    const blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(20);
    const cuts = chunkPages([blob], { maxTokens: 16, overlapTokens: 8, tokenizer });
    expectValidChunks(cuts, [blob], 16, tokenizer);
  });

  it("keeps the budget, the offsets and all the text on mixed input (CJK, emoji, long words, pages)", () => {
    const mixed = [
      `日本語の文章は空白を使わずに書かれます。${"これは長い文です".repeat(40)}。次の文。`,
      `${"😀🎉👍🏽".repeat(30)} Tail words here.\n\n${"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(12)} end.`,
      "",
      sentences.slice(0, 12).join("\n"),
    ];
    for (const [maxTokens, overlapTokens] of [
      [16, 8],
      [40, 10],
      [120, 60],
    ] as const) {
      const chunks = chunkPages(mixed, { maxTokens, overlapTokens, tokenizer });
      expectValidOffsets(chunks, mixed);
      const covered: boolean[] = [];
      for (const chunk of chunks) {
        expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
        expect(chunk.tokenCount).toBe(tokenizer.count(chunk.text));
        expect(chunk.text).not.toMatch(LONE_SURROGATE);
        for (let k = chunk.charStart; k < chunk.charEnd; k++) covered[k] = true;
      }
      const doc = documentText(mixed);
      for (let k = 0; k < doc.length; k++) if (/\S/.test(doc[k] as string)) expect(covered[k], `offset ${k}`).toBe(true);
    }
  });

  it("is deterministic and is the plain chunking with overlapTokens 0", () => {
    const options = { maxTokens: 50, overlapTokens: 10, tokenizer };
    expect(chunkPages(pages, options)).toEqual(chunkPages(pages, options));
    expect(chunkPages(pages, { maxTokens: 50, overlapTokens: 0, tokenizer })).toEqual(chunkPages(pages, { maxTokens: 50, tokenizer }));
  });
});

describe("chunker helpers", () => {
  it("segments long text in windows exactly as one Intl.Segmenter pass does", () => {
    const text = Array.from({ length: 200 }, (_, k) => `Mr. Smith said ${k} 👨‍👩‍👧 日本語の文です。 Ok? `).join("");
    for (const granularity of ["grapheme", "word", "sentence"] as const) {
      const segmenter = new Intl.Segmenter("en", { granularity });
      expect(segmentStarts(segmenter, text)).toEqual([...segmenter.segment(text)].map((segment) => segment.index));
    }
  });

  it("measures UTF-8 length like Buffer.byteLength", () => {
    for (const text of ["", "abc", "é", "日本", "😀", "a\uD800b", "\uDC00"]) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"));
    }
  });

  it("installs a 2-D DOMMatrix that pdf.js can load with", () => {
    expect(typeof (globalThis as { DOMMatrix?: unknown }).DOMMatrix).toBe("function");
    const matrix = new DOMMatrix2D([2, 0, 0, 3, 10, 20]);
    const inverse = matrix.inverse();
    const identity = matrix.multiply(inverse);
    expect([identity.a, identity.b, identity.c, identity.d, identity.e, identity.f]).toEqual([1, 0, 0, 1, 0, 0]);
    expect(new DOMMatrix2D().translate(5, 6).scale(2).multiply(new DOMMatrix2D([1, 0, 0, 1, 1, 1])).e).toBe(7);
  });
});

describe("buildManifest", () => {
  const chunk = (index: number, text: string): Chunk => ({
    index,
    pageStart: index + 1,
    pageEnd: index + 2,
    charStart: index * 10,
    charEnd: index * 10 + text.length,
    tokenCount: 7,
    text,
  });
  const id = (text: string, occurrence = 0): string => chunkIdOf(text, occurrence);

  it("inlines small texts, moves large ones to textLocation, and writes one ChunkItem per JSONL line", () => {
    const large = "x".repeat(DEFAULT_INLINE_TEXT_LIMIT_BYTES);
    const tricky = 'quotes " and \\ backslash\nnew line\u2028separator 😀';
    const manifest = buildManifest([chunk(0, "small"), chunk(1, large), chunk(2, tricky)], {
      documentId: "doc-1",
      bucket: "work-bucket",
    });
    expect(manifest.location).toEqual({ bucket: "work-bucket", key: "chunks/doc-1/manifest.jsonl" });
    expect(manifest.largeTexts).toEqual([{ location: { bucket: "work-bucket", key: "chunks/doc-1/1.txt" }, text: large }]);

    expect(manifest.body.endsWith("\n")).toBe(true);
    const lines = manifest.body.split("\n");
    expect(lines.pop()).toBe("");
    const items = lines.map((line) => JSON.parse(line) as ChunkItem);
    expect(items).toEqual(manifest.items);
    expect(items).toEqual([
      { documentId: "doc-1", index: 0, chunkId: id("small"), pageStart: 1, pageEnd: 2, charStart: 0, charEnd: 5, tokenCount: 7, text: "small" },
      {
        documentId: "doc-1",
        index: 1,
        chunkId: id(large),
        pageStart: 2,
        pageEnd: 3,
        charStart: 10,
        charEnd: 10 + large.length,
        tokenCount: 7,
        textLocation: { bucket: "work-bucket", key: "chunks/doc-1/1.txt" },
      },
      {
        documentId: "doc-1",
        index: 2,
        chunkId: id(tricky),
        pageStart: 3,
        pageEnd: 4,
        charStart: 20,
        charEnd: 20 + tricky.length,
        tokenCount: 7,
        text: tricky,
      },
    ]);
    // Every manifest line carries the new fields, in a fixed key order.
    expect(lines[0]).toBe(
      `{"documentId":"doc-1","index":0,"chunkId":"${id("small")}","pageStart":1,"pageEnd":2,"charStart":0,"charEnd":5,"tokenCount":7,"text":"small"}`,
    );
  });

  it("gives content-hash chunk ids: sha256 of domain, occurrence and text, unique within a manifest", () => {
    const expected = createHash("sha256").update("llambda-chunk-v1\n0\nsmall", "utf8").digest("hex").slice(0, 32);
    expect(chunkIdOf("small", 0)).toBe(expected);
    expect(chunkIdOf("small", 0)).toMatch(/^[0-9a-f]{32}$/);
    expect(chunkIdOf("small", 1)).not.toBe(expected);
    const texts = ["alpha", "beta", "alpha", "gamma", "alpha"];
    const manifest = buildManifest(texts.map((text, k) => chunk(k, text)), { documentId: "doc-a", bucket: "b" });
    const ids = manifest.items.map((item) => item.chunkId);
    expect(new Set(ids).size).toBe(texts.length);
    expect(ids).toEqual([id("alpha"), id("beta"), id("alpha", 1), id("gamma"), id("alpha", 2)]);
    // Content, not place: another document (another id, other offsets and pages) gives the same ids for the same texts.
    const other = buildManifest(
      texts.map((text, k) => ({ ...chunk(k + 3, text), index: k })),
      { documentId: "doc-b", bucket: "other" },
    );
    expect(other.items.map((item) => item.chunkId)).toEqual(ids);
    // Records carry their id.
    const records = buildManifest([{ ...chunk(0, "r"), recordId: "r-1" }], { documentId: "d", bucket: "b" });
    expect(records.items[0]?.recordId).toBe("r-1");
    expect(JSON.parse(records.body.trim())).toMatchObject({ recordId: "r-1", chunkId: id("r") });
  });

  it("measures the limit on the text's JSON encoding in UTF-8", () => {
    const limit = 100;
    const exact = "é".repeat(49); // 98 bytes + 2 quotes = 100
    const over = `${"a".repeat(97)}"`; // 97 + 2 (escaped quote) + 2 quotes = 101
    const manifest = buildManifest([chunk(0, exact), chunk(1, over)], {
      documentId: "d",
      bucket: "b",
      inlineTextLimitBytes: limit,
    });
    expect(manifest.items.map((item) => item.text !== undefined)).toEqual([true, false]);
  });

  it("names keys after the document", () => {
    expect(manifestKey("abc")).toBe("chunks/abc/manifest.jsonl");
    expect(chunkTextKey("abc", 12)).toBe("chunks/abc/12.txt");
    expect(() => manifestKey("")).toThrow(RangeError);
  });
});

describe("chunkDocument", () => {
  it("turns PDF bytes into a manifest with counts", async () => {
    const pages = [1, 2, 3, 4].map((page) => [taggedWords(page, 12).join(" "), taggedWords(page, 24).slice(12).join(" ")]);
    const bytes = await pdfWithPages(pages);
    const result = await chunkDocument(bytes, {
      documentId: "doc-42",
      sourceKey: "uploads/report.pdf",
      bucket: "work",
      maxTokens: 64,
      tokenizer,
    });
    expect(result.pageCount).toBe(4);
    expect(result.chunkCount).toBe(result.manifest.items.length);
    expect(result.chunkCount).toBeGreaterThan(1);
    expect(result.tokenCount).toBe(result.manifest.items.reduce((sum, item) => sum + item.tokenCount, 0));
    expect(result.ms).toBeGreaterThanOrEqual(0);
    expect(result.manifest.largeTexts).toEqual([]);
    const text = result.manifest.items.map((item) => item.text).join(" ");
    expect(wordsOf(text)).toEqual(pages.flat().flatMap(wordsOf));
    expect(result.manifest.items.every((item) => item.documentId === "doc-42")).toBe(true);
    // Offsets refer to the extracted pages joined by blank lines.
    const doc = documentText((await extractDocumentText(bytes, { key: "report.pdf" })).pages);
    for (const item of result.manifest.items) expect(doc.slice(item.charStart, item.charEnd)).toBe(item.text);
  });

  const pagesOf = (pages: string[]) => async () => ({ pages });
  const documentPages = [1, 2, 3].map((page) => `${taggedWords(page, 30).join(" ")}.\n\n${taggedWords(page, 60).slice(30).join(" ")}.`);
  const base = { sourceKey: "uploads/a.pdf", bucket: "work", maxTokens: 40 };

  it("uses the injected extractor, passing the bytes and the key", async () => {
    const seen: Array<[number, string]> = [];
    const result = await chunkDocument(Uint8Array.of(1, 2, 3), {
      ...base,
      tokenizer,
      documentId: "doc",
      extract: async (bytes, hint) => (seen.push([bytes.byteLength, hint.key]), { pages: documentPages }),
    });
    expect(seen).toEqual([[3, "uploads/a.pdf"]]);
    expect(result.pageCount).toBe(3);
    expect(result.recordCount).toBeUndefined();
    expect(result.manifest.items.every((item) => item.recordId === undefined)).toBe(true);
  });

  it("gives the same chunk ids for the same bytes and settings, whatever the document id", async () => {
    const first = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, documentId: "doc-1", extract: pagesOf(documentPages) });
    const again = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, documentId: "doc-2", extract: pagesOf(documentPages) });
    const ids = first.manifest.items.map((item) => item.chunkId);
    expect(again.manifest.items.map((item) => item.chunkId)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // Other settings make other chunks, hence other ids.
    const bigger = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, maxTokens: 80, documentId: "doc-1", extract: pagesOf(documentPages) });
    expect(bigger.manifest.items.map((item) => item.chunkId)).not.toEqual(ids);
    // Overlap is passed through: chunks start inside the previous one.
    const overlapping = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, overlapTokens: 10, documentId: "d", extract: pagesOf(documentPages) });
    const items = overlapping.manifest.items;
    expect(items.some((item, k) => k > 0 && item.charStart < (items[k - 1]?.charEnd ?? 0))).toBe(true);
  });

  it("fails with TOO_LARGE past maxChunks, and accepts exactly maxChunks", async () => {
    const exact = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, documentId: "d", extract: pagesOf(documentPages) });
    const limit = exact.chunkCount;
    const same = await chunkDocument(new Uint8Array(1), { ...base, tokenizer, documentId: "d", maxChunks: limit, extract: pagesOf(documentPages) });
    expect(same.chunkCount).toBe(limit);
    const error = await inputError(
      chunkDocument(new Uint8Array(1), { ...base, tokenizer, documentId: "d", maxChunks: limit - 1, extract: pagesOf(documentPages) }),
    );
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    expect(error.message).toContain(`more than ${limit - 1} chunks`);
  });
});
