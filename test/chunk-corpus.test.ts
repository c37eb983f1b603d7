import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocumentInputError } from "../functions/shared/errors.ts";
import { extractDocumentText, extractPages } from "../functions/chunk/pdf-text.ts";
import { chunkPages } from "../functions/chunk/chunker.ts";
import { createCl100kTokenizer, type Tokenizer } from "../functions/chunk/tokenizer.ts";

/**
 * Text extraction and chunking over the shared corpus of real-world PDFs (pdf.js's regression suite, pdfplumber's test
 * documents, invoices): every file either yields pages or a typed DocumentInputError. The corpus lives outside the
 * repository (../shared/corpus from the repository root) and is never copied into it.
 */
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const corpus = resolve(repositoryRoot, "../shared/corpus");
const present = existsSync(corpus);
const title = present ? "chunking the shared corpus" : `chunking the shared corpus (SKIPPED: ${corpus} not found)`;

const MAX_TOKENS = 1000;

function files(folder: string, extension: string): string[] {
  const directory = join(corpus, folder);
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((name) => name.toLowerCase().endsWith(extension))
    .sort()
    .map((name) => join(directory, name));
}

describe.skipIf(!present)(title, () => {
  let tokenizer: Tokenizer;
  beforeAll(() => {
    tokenizer = createCl100kTokenizer();
  });
  afterAll(() => tokenizer?.dispose());

  it("turns every PDF into pages and valid chunks, or a typed DocumentInputError", { timeout: 300_000 }, async () => {
    const pdfs = ["pdfjs", "docs", "invoices"].flatMap((folder) => files(folder, ".pdf"));
    expect(pdfs.length).toBeGreaterThan(0);
    const outcomes: Record<string, number> = {};
    const problems: string[] = [];
    for (const path of pdfs) {
      const name = path.slice(corpus.length + 1);
      try {
        const { pages } = await extractPages(readFileSync(path));
        const chunks = chunkPages(pages, { maxTokens: MAX_TOKENS, tokenizer });
        const over = chunks.filter((chunk) => chunk.tokenCount > MAX_TOKENS);
        const strip = (text: string): string => text.replace(/\s+/g, "");
        if (over.length > 0) problems.push(`${name}: ${over.length} chunk(s) over ${MAX_TOKENS} tokens`);
        if (strip(chunks.map((chunk) => chunk.text).join("")) !== strip(pages.join(""))) problems.push(`${name}: text lost`);
        outcomes.OK = (outcomes.OK ?? 0) + 1;
      } catch (error) {
        if (error instanceof DocumentInputError) outcomes[error.code] = (outcomes[error.code] ?? 0) + 1;
        else problems.push(`${name}: untyped ${String(error)}`);
      }
    }
    expect(problems).toEqual([]);
    // Most of the suite has text; scans and broken files are a minority.
    expect(outcomes.OK ?? 0).toBeGreaterThan(pdfs.length / 2);
  });

  it("reads a 352-page book into 352 pages and chunks it within the budget", { timeout: 120_000 }, async () => {
    const book = join(corpus, "pdfjs", "freeculture.pdf");
    if (!existsSync(book)) return;
    const { pages } = await extractPages(readFileSync(book));
    expect(pages).toHaveLength(352);
    const chunks = chunkPages(pages, { maxTokens: MAX_TOKENS, tokenizer });
    expect(chunks.length).toBeGreaterThan(50);
    expect(Math.max(...chunks.map((chunk) => chunk.tokenCount))).toBeLessThanOrEqual(MAX_TOKENS);
    expect(chunks.at(-1)?.pageEnd).toBeLessThanOrEqual(352);
  });

  it("reports the password-protected files as ENCRYPTED", async () => {
    const passwordsFile = join(corpus, "pdfjs-passwords.json");
    if (!existsSync(passwordsFile)) return;
    const names = Object.keys(JSON.parse(readFileSync(passwordsFile, "utf8")) as Record<string, string>);
    for (const name of names) {
      const path = join(corpus, "pdfjs", name);
      if (!existsSync(path)) continue;
      await expect(extractPages(readFileSync(path))).rejects.toMatchObject({ name: "DocumentInputError", code: "ENCRYPTED" });
    }
  });

  it("reads the text invoices as one page", async () => {
    for (const path of files("invoices", ".txt")) {
      const { pages } = await extractDocumentText(readFileSync(path), { key: path });
      expect(pages).toHaveLength(1);
      expect(pages[0]?.length).toBeGreaterThan(0);
    }
  });
});
