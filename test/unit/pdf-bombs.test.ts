import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { patchPdfjsWorker } from "../../infra/pdfjs-decode-bound.ts";
import { repeatedZlib } from "../helpers/pdf-bomb-fixtures.ts";

/**
 * The parts of the decompression-bomb defence that run in-process in a moment: the bomb generators and the pdf.js
 * patch point. The bombs themselves (npm run chunk, the isolated worker) are in test/e2e/pdf-bombs.test.ts.
 */
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
