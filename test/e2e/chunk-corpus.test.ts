import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocumentInputError } from "../../functions/shared/errors.ts";
import type { OcrPageRecord, OcrTextLayer } from "../../functions/shared/contracts.ts";
import { imageFormatOf, imagePageCount } from "../../functions/shared/image-format.ts";
import { assembleOcrPages, missingPage, pagesToOcr } from "../../functions/chunk/ocr-plan.ts";
import { ocrPages, type OcrInput } from "../../functions/ocr/ocr-pages.ts";
import { IsolatedExtractor, workerScript } from "../../functions/chunk/isolated-extract.ts";
import { readChunkLimits } from "../../functions/chunk/limits.ts";
import { chunkPages } from "../../functions/chunk/chunker.ts";
import { createCl100kTokenizer, type Tokenizer } from "../../functions/chunk/tokenizer.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * Every file of the shared corpus of real-world documents (pdf.js's regression suite, pdfplumber's test documents,
 * invoices with their JSON and PNG companions) through the isolated extraction path the chunk function uses (a worker
 * thread with the function's time and memory bounds), then the chunker: every file ends with pages and valid chunks or
 * a typed DocumentInputError; none hangs. Files the chunk step would send to OCR (pages without a usable text layer,
 * images) are OCR'd as the OCR function would, at most OCR_PAGES_PER_FILE pages each at OCR_DPI to keep the run short:
 * none ends NO_TEXT_LAYER, each ends with text, NO_TEXT_FOUND or its pages' typed errors. The corpus lives outside the
 * repository (../shared/corpus from the repository root) and is never copied into it.
 *
 * One warm worker serves the files in turn (`reuse`: a worker that timed out, ran out of memory or crashed is replaced),
 * so the run measures extraction rather than ~0.3 s of worker start per file; each file still has its own time bound.
 *
 * `LLAMBDA_CORPUS_OUTCOMES=docs/corpus-outcomes.md npx vitest run test/e2e/chunk-corpus.test.ts` also writes the outcome
 * table (counts per code and folder, time, the files that yield no text) to that file.
 */
const corpus = resolve(repoRoot, "../shared/corpus");
const present = existsSync(corpus);
const title = present ? "the shared corpus, isolated" : `the shared corpus, isolated (SKIPPED: ${corpus} not found)`;

const FOLDERS = ["pdfjs", "docs", "invoices"] as const;
const MAX_TOKENS = 1000;
/** OCR here: the first pages of each file that needs it, at a lower resolution than deployed (300 dpi), two at once. */
const OCR_PAGES_PER_FILE = 2;
const OCR_DPI = 150;
const ocrSettings = { dpi: OCR_DPI, maxPixels: 40_000_000, language: "eng", pageTimeoutMs: 20_000, concurrency: 2 };
/** The function's settings on its 2,048 MB (as deployed), except the time bound: 30 s keeps a hang's cost low here. */
const limits = { ...readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "2048" }), extractionTimeoutMs: 30_000 };

function files(folder: string): string[] {
  const directory = join(corpus, folder);
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .sort()
    .map((name) => join(directory, name));
}

/** The 352-page book's pages, kept by the corpus run for the book's own test (saves extracting it twice). */
const BOOK = "pdfjs/freeculture.pdf";
let bookPages: string[] | undefined;
/** The OCR part of the run, for the report. */
let ocrMs = 0;
let ocrFiles = 0;

interface Outcome {
  file: string;
  folder: string;
  code: string;
  message?: string;
  pages: number;
  chunks: number;
  ms: number;
  freshWorker: boolean;
  /** Pages OCR read with words, for a file that went to OCR. */
  ocrPagesWithText?: number;
}

/** A file the chunk step would plan for OCR. */
interface PlannedForOcr {
  file: string;
  folder: string;
  input: OcrInput;
  textLayer: OcrTextLayer;
}

describe.skipIf(!present)(title, () => {
  let tokenizer: Tokenizer;
  let extractor: IsolatedExtractor;
  beforeAll(async () => {
    tokenizer = createCl100kTokenizer();
    await workerScript(); // from source, the worker is bundled on first use: not part of any file's time
    extractor = new IsolatedExtractor({ memoryMb: limits.extractionMemoryMb, reuse: true });
  });
  afterAll(async () => {
    tokenizer?.dispose();
    await extractor?.close();
  });

  const extract = (path: string, password?: string, keepTextlessPages = false) =>
    extractor.extract(new Uint8Array(readFileSync(path)), {
      key: path,
      keepTextlessPages,
      timeoutMs: limits.extractionTimeoutMs,
      maxPages: limits.maxPages,
      dropRunningHeaders: limits.dropRunningHeaders,
      ...(password === undefined ? {} : { password }),
    });

  it("turns every file into pages and valid chunks, or a typed DocumentInputError", { timeout: 600_000 }, async () => {
    const all = FOLDERS.flatMap((folder) => files(folder).map((file) => ({ folder, file })));
    expect(all.length).toBeGreaterThan(0);
    const outcomes: Outcome[] = [];
    const problems: string[] = [];
    const planned: PlannedForOcr[] = [];
    const started = performance.now();
    for (const { folder, file } of all) {
      const name = file.slice(corpus.length + 1);
      const fileStarted = performance.now();
      try {
        const format = imageFormatOf(name);
        if (format !== undefined) {
          const bytes = new Uint8Array(readFileSync(file));
          const count = imagePageCount(bytes, format);
          const all = Array.from({ length: count }, (_, i) => i + 1);
          planned.push({ file: name, folder, input: { kind: "image", format, bytes }, textLayer: { pages: all.map(() => ""), ocrPages: all } });
          continue;
        }
        const { pages, textLayer, workerStartMs } = await extract(file, undefined, true);
        const toOcr = textLayer === undefined ? [] : pagesToOcr(textLayer, "auto");
        if (toOcr.length > 0) {
          planned.push({ file: name, folder, input: { kind: "pdf", bytes: new Uint8Array(readFileSync(file)) }, textLayer: { pages, ocrPages: toOcr } });
          continue;
        }
        if (name === BOOK) bookPages = pages;
        const chunks = chunkPages(pages, { maxTokens: MAX_TOKENS, tokenizer });
        const over = chunks.filter((chunk) => chunk.tokenCount > MAX_TOKENS);
        const strip = (text: string): string => text.replace(/\s+/g, "");
        if (over.length > 0) problems.push(`${name}: ${over.length} chunk(s) over ${MAX_TOKENS} tokens`);
        if (strip(chunks.map((chunk) => chunk.text).join("")) !== strip(pages.join(""))) problems.push(`${name}: text lost`);
        const ms = Math.round(performance.now() - fileStarted);
        const freshWorker = workerStartMs > 0;
        outcomes.push({ file: name, folder, code: "OK", pages: pages.length, chunks: chunks.length, ms, freshWorker });
      } catch (error) {
        const ms = Math.round(performance.now() - fileStarted);
        if (error instanceof DocumentInputError) {
          const message = error.message.slice(error.code.length + 2);
          outcomes.push({ file: name, folder, code: error.code, message, pages: 0, chunks: 0, ms, freshWorker: false });
        } else {
          problems.push(`${name}: untyped ${String(error)}`);
        }
      }
    }
    // The files the chunk step plans for OCR, read as the OCR function and the second chunk run would.
    const ocrStarted = performance.now();
    for (const { file, folder, input, textLayer } of planned) {
      const fileStarted = performance.now();
      try {
        const tried = textLayer.ocrPages.slice(0, OCR_PAGES_PER_FILE);
        const { outcomes: read } = await ocrPages(input, tried, { ...ocrSettings, deadline: Number.MAX_SAFE_INTEGER });
        const records = new Map<number, OcrPageRecord>(read.map((page) => [page.page, "error" in page ? page : { ...page, ms: 0 }]));
        const { pages, summary } = assembleOcrPages({ ...textLayer, ocrPages: tried }, records, (page) => missingPage(page, "no outcome"));
        const ocrPagesWithText = summary.pages.filter((page) => pages[page - 1]!.trim() !== "").length;
        const ms = Math.round(performance.now() - fileStarted);
        if (pages.every((page) => page.trim() === "")) {
          const failure = summary.failedPages[0];
          outcomes.push({
            file, folder, code: failure ? failure.error : "NO_TEXT_FOUND", message: failure?.message ?? "no words on the pages OCR read",
            pages: pages.length, chunks: 0, ms, freshWorker: false, ocrPagesWithText,
          });
          continue;
        }
        const chunks = chunkPages(pages, { maxTokens: MAX_TOKENS, tokenizer });
        if (chunks.some((chunk) => chunk.tokenCount > MAX_TOKENS)) problems.push(`${file}: a chunk over ${MAX_TOKENS} tokens`);
        const code = ocrPagesWithText > 0 ? "OK (OCR)" : "OK";
        outcomes.push({ file, folder, code, pages: pages.length, chunks: chunks.length, ms, freshWorker: false, ocrPagesWithText });
      } catch (error) {
        const ms = Math.round(performance.now() - fileStarted);
        if (error instanceof DocumentInputError) {
          outcomes.push({ file, folder, code: error.code, message: error.message.slice(error.code.length + 2), pages: 0, chunks: 0, ms, freshWorker: false });
        } else {
          problems.push(`${file}: untyped ${String(error)}`);
        }
      }
    }
    ocrMs = Math.round(performance.now() - ocrStarted);
    ocrFiles = planned.length;
    const totalMs = Math.round(performance.now() - started);
    const target = process.env.LLAMBDA_CORPUS_OUTCOMES;
    if (target) writeFileSync(resolve(repoRoot, target), outcomeReport(outcomes, totalMs));
    const counts = countBy(outcomes, (outcome) => outcome.code);
    console.log(`corpus: ${outcomes.length} files in ${(totalMs / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);

    expect(problems).toEqual([]);
    expect(outcomes).toHaveLength(all.length);
    // Every file within its bound: nothing near the bound, nothing stopped for time on this corpus.
    expect(outcomes.filter((outcome) => outcome.code === "EXTRACTION_TIMEOUT").map((outcome) => outcome.file)).toEqual([]);
    // Most of the corpus has text; scans, broken files and the invoices' JSON and PNG companions are a minority.
    expect(counts.OK ?? 0).toBeGreaterThan(all.length / 2);
    // Scans are read by OCR now: none ends NO_TEXT_LAYER, and some of them have text.
    expect(outcomes.filter((outcome) => outcome.code === "NO_TEXT_LAYER").map((outcome) => outcome.file)).toEqual([]);
    expect(counts["OK (OCR)"] ?? 0).toBeGreaterThan(0);
    // The invoices' JSON companions are not documents; their PNG companions are images of the invoices, read by OCR.
    const companions = outcomes.filter((o) => o.folder === "invoices" && /\.json$/.test(o.file));
    expect(companions.length).toBeGreaterThan(0);
    expect(companions.every((o) => o.code === "NOT_A_PDF")).toBe(true);
    const images = outcomes.filter((o) => o.folder === "invoices" && /\.png$/.test(o.file));
    expect(images.map((o) => `${o.file}: ${o.code}`)).toEqual(images.map((o) => `${o.file}: OK (OCR)`));
    expect(outcomes.filter((o) => o.file.endsWith(".txt")).every((o) => o.code === "OK" && o.pages === 1)).toBe(true);
  });

  it("reads the 352-page book into 352 pages within the budget", { timeout: 120_000 }, async () => {
    const book = join(corpus, BOOK);
    if (!existsSync(book)) return;
    const pages = bookPages ?? (await extract(book)).pages;
    expect(pages).toHaveLength(352);
    // Its running footer ("<http://free-culture.org/get-it>") is gone, its words hyphenated across lines are joined.
    expect(pages.some((page) => page.includes("free-culture.org/get-it"))).toBe(false);
    expect(pages[19]).toContain("four patents were issued to Armstrong for his most significant invention");
    const chunks = chunkPages(pages, { maxTokens: MAX_TOKENS, tokenizer });
    expect(chunks.length).toBeGreaterThan(50);
    expect(Math.max(...chunks.map((chunk) => chunk.tokenCount))).toBeLessThanOrEqual(MAX_TOKENS);
    expect(chunks.at(-1)?.pageEnd).toBeLessThanOrEqual(352);
  });

  it("reads CJK text in fonts that are not embedded, through pdf.js's CMaps", async () => {
    for (const name of ["noembed-sjis.pdf", "noembed-eucjp.pdf"]) {
      const path = join(corpus, "pdfjs", name);
      if (!existsSync(path)) continue;
      const { pages } = await extract(path);
      expect(pages.join("").replace(/\s/g, "").length, name).toBeGreaterThan(0);
    }
  });

  it("reports the password-protected files as ENCRYPTED, and opens them with their passwords", async () => {
    const passwordsFile = join(corpus, "pdfjs-passwords.json");
    if (!existsSync(passwordsFile)) return;
    const passwords = JSON.parse(readFileSync(passwordsFile, "utf8")) as Record<string, string>;
    let opened = 0;
    for (const [name, password] of Object.entries(passwords)) {
      const path = join(corpus, "pdfjs", name);
      if (!existsSync(path)) continue;
      await expect(extract(path)).rejects.toMatchObject({ name: "DocumentInputError", code: "ENCRYPTED" });
      await expect(extract(path, `${password}-wrong`)).rejects.toMatchObject({
        code: "ENCRYPTED",
        message: expect.stringContaining("is wrong") as string,
      });
      try {
        const { pages } = await extract(path, password);
        expect(pages.length).toBeGreaterThan(0);
        opened++;
      } catch (error) {
        // Opened, but a document may still have no text: then it is that code, never ENCRYPTED.
        expect(error).toBeInstanceOf(DocumentInputError);
        expect((error as DocumentInputError).code).not.toBe("ENCRYPTED");
      }
    }
    expect(opened).toBeGreaterThan(0);
  });
});

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** docs/corpus-outcomes.md: generated, so every number in it comes from a run. */
function outcomeReport(outcomes: readonly Outcome[], totalMs: number): string {
  const codes = [...new Set(outcomes.map((outcome) => outcome.code))].sort((a, b) =>
    a === "OK" ? -1 : b === "OK" ? 1 : a.localeCompare(b),
  );
  const row = (cells: Array<string | number>): string => `| ${cells.join(" | ")} |`;
  const inFolder = (folder: string, code?: string): number =>
    outcomes.filter((outcome) => outcome.folder === folder && (code === undefined || outcome.code === code)).length;
  const times = outcomes.map((outcome) => outcome.ms).sort((a, b) => a - b);
  const percentile = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  const slowest = [...outcomes].sort((a, b) => b.ms - a.ms).slice(0, 5);
  const failed = outcomes.filter((outcome) => !outcome.code.startsWith("OK"));
  const escape = (text: string): string => text.replace(/\|/g, "\\|").replace(/\s+/g, " ");
  const lines = [
    "# Corpus outcomes",
    "",
    "What the chunk step makes of every file of the shared corpus (`../shared/corpus`: pdf.js's regression PDFs,",
    "pdfplumber's test documents, invoices with their JSON and PNG companions), each file read in the extraction worker",
    "thread with the deployed bounds (heap 60% of 2,048 MB; a 30 s time bound instead of 120 s), then chunked at 1,000",
    "tokens. Files with pages to OCR (no usable text layer, images) are OCR'd as the OCR function does, but only their",
    `first ${OCR_PAGES_PER_FILE} such pages, at ${OCR_DPI} dpi (deployed: all pages, 300 dpi), two at once; \`OK (OCR)\``,
    "means OCR found words on at least one of them. Codes: [docs/input-errors.md](input-errors.md).",
    "",
    "Generated by the corpus test; regenerate with:",
    "",
    "```sh",
    "LLAMBDA_CORPUS_OUTCOMES=docs/corpus-outcomes.md npx vitest run test/e2e/chunk-corpus.test.ts",
    "```",
    "",
    `Run: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${outcomes.length} files in ` +
      `${(totalMs / 1000).toFixed(1)} s (one warm worker, replaced after a timeout, an out-of-memory or a crash: ` +
      `${outcomes.filter((outcome) => outcome.freshWorker).length} worker start(s) after the first); OCR of ${ocrFiles} ` +
      `files took ${(ocrMs / 1000).toFixed(1)} s of it.`,
    "",
    row(["outcome", ...FOLDERS.map((folder) => `${folder}/`), "total"]),
    row(["---", ...FOLDERS.map(() => "---:"), "---:"]),
    ...codes.map((code) =>
      row([code, ...FOLDERS.map((folder) => inFolder(folder, code)), outcomes.filter((o) => o.code === code).length]),
    ),
    row(["**total**", ...FOLDERS.map((folder) => `**${inFolder(folder)}**`), `**${outcomes.length}**`]),
    "",
    `Time per file (extraction, OCR and chunking): median ${percentile(0.5)} ms, 95th percentile ${percentile(0.95)} ms, ` +
      `max ${times.at(-1) ?? 0} ms. Pages extracted: ${outcomes.reduce((sum, o) => sum + o.pages, 0)}; ` +
      `chunks: ${outcomes.reduce((sum, o) => sum + o.chunks, 0)}.`,
    "",
    "Slowest files:",
    "",
    row(["file", "outcome", "pages", "ms"]),
    row(["---", "---", "---:", "---:"]),
    ...slowest.map((outcome) => row([outcome.file, outcome.code, outcome.pages, outcome.ms])),
    "",
    "## Files without text",
    "",
    row(["file", "code", "message"]),
    row(["---", "---", "---"]),
    ...failed.map((outcome) => row([outcome.file, outcome.code, escape((outcome.message ?? "").slice(0, 160))])),
    "",
  ];
  return lines.join("\n");
}
