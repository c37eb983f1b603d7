import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { patchPdfjsWorker } from "../infra/pdfjs-decode-bound.ts";
import { nestedBomb, repeatedZlib, spacesBomb } from "./pdf-bomb-fixtures.ts";

// Issue 14: decompression bombs end TOO_LARGE within the chunk function's memory (2,048 MB).
const CHUNK_FUNCTION_MEMORY_MB = 2048;
const dir = mkdtempSync(join(tmpdir(), "llambda-bombs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run chunk -- --json <file>` in its own process: its JSON line (with the process's peakRssMb). */
function chunkCli(file: string): { status: string; code?: string; message?: string; peakRssMb: number } {
  const run = spawnSync("npx", ["tsx", "functions/chunk/cli.ts", "--json", file], { encoding: "utf8", timeout: 120_000 });
  const line = run.stdout.trim().split("\n").at(-1) ?? "";
  expect(line, run.stderr).toMatch(/^\{/);
  return JSON.parse(line) as { status: string; code?: string; message?: string; peakRssMb: number };
}

describe("bomb generators", () => {
  it("make valid zlib streams (the Adler-32 checks) of the repeated unit", () => {
    const unit = Buffer.from("BT /F1 12 Tf (Hello bomb) Tj ET\n");
    expect(inflateSync(repeatedZlib(unit, 1000))).toEqual(Buffer.concat(Array.from({ length: 1000 }, () => unit)));
  });
});

describe("the pdf.js patch point", () => {
  const source = readFileSync("node_modules/pdfjs-dist/legacy/build/pdf.worker.mjs", "utf8");

  it("is found exactly once in the installed pdf.js and calls the hook before the allocation", () => {
    const patched = patchPdfjsWorker(source);
    expect(patched).toContain("globalThis.__llambdaDecodeBound?.(size, buffer.byteLength);\n    const buffer2");
  });

  it("fails the build when pdf.js no longer has it", () => {
    expect(() => patchPdfjsWorker("class DecodeStream {}")).toThrow(/found it 0 times/);
  });
});

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
