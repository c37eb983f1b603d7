/** Chunking pages of text into token-bounded chunks (functions/chunk/chunker.ts), with and without overlap. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkLimitError, chunkPages, type Chunk } from "../../functions/chunk/chunker.ts";
import { createCl100kTokenizer, type TokenCounter, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { DOMMatrix2D } from "../../functions/chunk/dom-polyfill.ts";
import { expectValidChunks, expectValidOffsets, LONE_SURROGATE, taggedWords, wordsOf } from "../helpers/chunk-fixtures.ts";
import { documentText } from "../../functions/chunk/document-text.ts";
import { MAX_RUN_CHARS, utf8Length } from "../../functions/chunk/pieces.ts";
import { segmentStarts } from "../../functions/chunk/segmentation.ts";

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

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
