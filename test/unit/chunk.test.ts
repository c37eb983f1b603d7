/** The chunk function's manifest (buildManifest: inline text, content ids, record ids) and chunkDocument end to end in-process. */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputError } from "../helpers/extract-fixtures.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import type { ChunkItem } from "../../functions/shared/contracts.ts";
import { extractDocumentText } from "../../functions/chunk/pdf-text.ts";
import { type Chunk } from "../../functions/chunk/chunker.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { buildManifest, chunkIdOf, DEFAULT_INLINE_TEXT_LIMIT_BYTES } from "../../functions/chunk/manifest.ts";
import { chunkDocument } from "../../functions/chunk/chunk-document.ts";
import { pdfWithPages, taggedWords, wordsOf } from "../helpers/chunk-fixtures.ts";
import { documentText } from "../../functions/chunk/document-text.ts";
import { chunkTextKey, manifestKey } from "../../functions/shared/bucket-layout.ts";

let tokenizer: Tokenizer;
beforeAll(() => {
  tokenizer = createCl100kTokenizer();
});
afterAll(() => tokenizer.dispose());

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
