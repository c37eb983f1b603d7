import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractIsolated } from "../../functions/chunk/isolated-extract.ts";
import { MAX_TEXT_ITEMS_PER_PAGE } from "../../functions/chunk/pdf-text.ts";
import { inputError, manyWordsPdf } from "../helpers/extract-fixtures.ts";
import { nestedBomb, onePagePdf, repeatedZlib, spacesBomb, textBomb } from "../helpers/pdf-bomb-fixtures.ts";

// Issue 14: decompression bombs end TOO_LARGE within the chunk function's memory (2,048 MB).
const CHUNK_FUNCTION_MEMORY_MB = 2048;
const dir = mkdtempSync(join(tmpdir(), "llambda-bombs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run chunk -- --json <file>` in its own process: its JSON line (with the process's peakRssMb). */
function chunkCli(file: string): { status: string; code?: string; message?: string; peakRssMb: number } {
  const run = spawnSync("npx", ["tsx", "bench/chunk-cli.ts", "--json", file], { encoding: "utf8", timeout: 120_000 });
  const line = run.stdout.trim().split("\n").at(-1) ?? "";
  expect(line, run.stderr).toMatch(/^\{/);
  return JSON.parse(line) as { status: string; code?: string; message?: string; peakRssMb: number };
}
describe("decompression bombs (npm run chunk, one process each)", () => {
  it.each([
    ["one page of FlateDecode around 2 GiB of spaces", spacesBomb],
    ["[/FlateDecode /FlateDecode] around 8 GiB of spaces", nestedBomb],
  ])("%s: TOO_LARGE naming the stream bound, within the function's memory", (_name, make) => {
    const file = join(dir, `${make.name}.pdf`);
    writeFileSync(file, make());
    const line = chunkCli(file);
    expect(line).toMatchObject({ status: "error", code: "TOO_LARGE" });
    expect(line.message).toMatch(/a stream of the PDF decodes to more than \d+ MiB/);
    expect(line.peakRssMb).toBeLessThan(CHUNK_FUNCTION_MEMORY_MB);
  }, 180_000);
});

describe("text items per page", () => {
  it("1 GiB of `BT /F1 12 Tf (Hello bomb) Tj ET` (3 MB): TOO_LARGE at the per-page item bound, within the function's memory", () => {
    const file = join(dir, "text-bomb.pdf");
    writeFileSync(file, textBomb());
    const line = chunkCli(file);
    expect(line).toMatchObject({ status: "error", code: "TOO_LARGE" });
    expect(line.message).toContain(`page 1 of the PDF has more than ${MAX_TEXT_ITEMS_PER_PAGE.toLocaleString("en-US")} text items`);
    expect(line.peakRssMb).toBeLessThan(CHUNK_FUNCTION_MEMORY_MB);
  }, 180_000);

  it("a page of exactly the bound is read; one more item is TOO_LARGE", async () => {
    const options = { key: "words.pdf", timeoutMs: 60_000, memoryMb: 1024 };
    const atBound = await extractIsolated(manyWordsPdf(MAX_TEXT_ITEMS_PER_PAGE), options);
    expect(atBound.pages[0]).toContain(`w${MAX_TEXT_ITEMS_PER_PAGE - 1}`);
    const error = await inputError(extractIsolated(manyWordsPdf(MAX_TEXT_ITEMS_PER_PAGE + 1), options));
    expect(error.code).toBe("TOO_LARGE");
  }, 120_000);
});

describe("a stream over the bound beside readable pages", () => {
  const options = { key: "mixed.pdf", timeoutMs: 60_000, memoryMb: 512 };
  const bound = { maxStreamBytes: 4 * 1024 * 1024, maxDocumentBytes: 64 * 1024 * 1024, source: "a test bound" };
  const bomb = () => repeatedZlib(new Uint8Array(1024 * 1024).fill(0x20), 64); // 64 MiB of spaces

  it("is refused alone: the other pages are read (as pdf.js's issue3928.pdf needs)", async () => {
    const result = await extractIsolated(onePagePdf(bomb(), "/FlateDecode", "Invoice total 42"), { ...options, decodeBound: bound });
    expect(result.pages.join("\n")).toContain("Invoice total 42");
  }, 60_000);

  it("is TOO_LARGE, naming the stream bound, when nothing else has text", async () => {
    const error = await inputError(extractIsolated(onePagePdf(bomb(), "/FlateDecode"), { ...options, decodeBound: bound }));
    expect(error.code).toBe("TOO_LARGE");
    expect(error.message).toContain("a stream of the PDF decodes to more than 4 MiB (a test bound)");
  }, 60_000);

  it("stops reading at the document's total, even with text on other pages", async () => {
    const small = { ...bound, maxStreamBytes: 128 * 1024 * 1024, maxDocumentBytes: 16 * 1024 * 1024 };
    const error = await inputError(extractIsolated(onePagePdf(bomb(), "/FlateDecode", "Invoice total 42"), { ...options, decodeBound: small }));
    expect(error.code).toBe("TOO_LARGE");
    expect(error.message).toContain("the PDF's streams decode to more than 16 MiB in total");
  }, 60_000);
});

describe("the bytes sent to the worker", () => {
  it("are the view's bytes, also for a Node Buffer that is a view into a larger one (as pooled Buffers are)", async () => {
    const pdf = manyWordsPdf(3);
    // 2 KiB of junk before the PDF: more than the 1,024 bytes a reader skips looking for the header.
    const backing = Buffer.alloc(2048 + pdf.length, "x");
    backing.set(pdf, 2048);
    const view = backing.subarray(2048);
    const result = await extractIsolated(view, { key: "small.pdf", timeoutMs: 60_000, memoryMb: 256 });
    expect(result.pages[0]).toContain("w2");
  }, 60_000);
});
