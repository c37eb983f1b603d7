import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PDFDocument, rgb } from "pdf-lib";
import { DocumentInputError } from "../../functions/shared/errors.ts";
import { extractIsolated, IsolatedExtractor, workerScript } from "../../functions/chunk/isolated-extract.ts";
import { column, encryptedPdf, manyWordsPdf, pdfOf } from "../helpers/extract-fixtures.ts";

/**
 * Extraction in a worker thread: every input error code through the isolated path, the time bound (the worker is
 * terminated), the heap bound (out of memory is CORRUPT), crashes, and packaging faults. One warm worker serves most
 * tests (`reuse`), as the corpus test does; the production path (one fresh worker per document) is tested too.
 */

const MEMORY_MB = 512;
let extractor: IsolatedExtractor;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "llambda-extract-"));
  // Run from source, the worker is bundled with esbuild on first use; do it here, outside any test's time.
  await workerScript();
  extractor = new IsolatedExtractor({ memoryMb: MEMORY_MB, reuse: true });
});

afterAll(async () => {
  await extractor?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

async function inputError(promise: Promise<unknown>): Promise<DocumentInputError> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(DocumentInputError);
  expect(error.name).toBe("DocumentInputError");
  return error as DocumentInputError;
}

const options = { key: "doc.pdf", timeoutMs: 30_000 };
const twoPages = (): Promise<Uint8Array> => pdfOf([column(["Page one text."]), column(["Page two text."])]);

describe("isolated extraction", () => {
  it("extracts in a fresh worker and transfers the bytes to it", async () => {
    const bytes = await twoPages();
    const result = await extractIsolated(bytes, { ...options, memoryMb: MEMORY_MB });
    expect(result.pages).toEqual(["Page one text.", "Page two text."]);
    expect(result.workerStartMs).toBeGreaterThan(0);
    expect(bytes.byteLength).toBe(0); // transferred: the caller's view is detached

    const kept = await twoPages();
    await extractor.extract(kept, { ...options, transfer: false });
    expect(kept.byteLength).toBeGreaterThan(0);
  });

  it("reuses a warm worker for the next document", async () => {
    await extractor.extract(await twoPages(), options);
    const warm = await extractor.extract(await twoPages(), options);
    expect(warm.workerStartMs).toBe(0);
    expect(warm.pages).toHaveLength(2);
  });

  it("reports every input problem with its code", async () => {
    const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
    const codeOf = async (bytes: Uint8Array, extra: object = {}): Promise<string> =>
      (await inputError(extractor.extract(bytes, { ...options, ...extra }))).code;

    expect(await codeOf(new Uint8Array())).toBe("EMPTY_FILE");
    expect(await codeOf(utf8("plain words, not a PDF"))).toBe("NOT_A_PDF");
    const pdf = await twoPages();
    expect(await codeOf(pdf.slice(0, pdf.length >> 1))).toBe("CORRUPT");
    const shapes = await PDFDocument.create();
    shapes.addPage().drawRectangle({ x: 50, y: 50, width: 100, height: 100, color: rgb(0, 0, 1) });
    expect(await codeOf(await shapes.save())).toBe("NO_TEXT_LAYER");
    expect(await codeOf(await twoPages(), { maxPages: 1 })).toBe("TOO_LARGE");
    expect(await codeOf(encryptedPdf("Locked", "pw"))).toBe("ENCRYPTED");
    const wrong = await inputError(extractor.extract(encryptedPdf("Locked", "pw"), { ...options, password: "nope" }));
    expect(wrong.message).toMatch(/^ENCRYPTED: .*password supplied .* is wrong/);
    expect((await extractor.extract(encryptedPdf("Unlocked text", "pw"), { ...options, password: "pw" })).pages).toEqual([
      "Unlocked text",
    ]);
    // Plain text is decoded in this thread.
    expect(await codeOf(Uint8Array.from([0x63, 0x61, 0x66, 0xe9]), { key: "latin1.txt" })).toBe("NOT_UTF8");
    const markdown = await extractor.extract(utf8("# Notes\n\nline"), { ...options, key: "a.md" });
    expect(markdown.pages).toEqual(["# Notes\n\nline"]);
    // After all that, the warm worker still works.
    expect((await extractor.extract(await twoPages(), options)).pages).toHaveLength(2);
  });

  it("stops a document that exceeds its time bound (EXTRACTION_TIMEOUT) and starts a new worker after", async () => {
    await extractor.extract(await twoPages(), options); // warm: the bound below is spent on the document alone
    const started = performance.now();
    const error = await inputError(extractor.extract(manyWordsPdf(200_000), { ...options, timeoutMs: 300 }));
    const elapsed = performance.now() - started;
    expect(error.code).toBe("EXTRACTION_TIMEOUT");
    expect(error.message).toBe(
      "EXTRACTION_TIMEOUT: text extraction did not finish within 0.3 s (setting LLAMBDA_EXTRACTION_TIMEOUT_MS=300) " +
        "and was stopped",
    );
    expect(elapsed).toBeLessThan(300 + 2_000);
    const next = await extractor.extract(await twoPages(), options);
    expect(next.pages).toHaveLength(2);
    expect(next.workerStartMs).toBeGreaterThan(0); // the timed-out worker was not reused

    const capped = await inputError(
      extractIsolated(manyWordsPdf(200_000), { ...options, timeoutMs: 200, memoryMb: MEMORY_MB, timeoutSource: "test" }),
    );
    expect(capped.message).toContain("within 0.2 s (test)");
  });

  it("reports a document that exhausts the worker's heap as CORRUPT, naming the bound", async () => {
    const error = await inputError(extractIsolated(manyWordsPdf(150_000), { ...options, memoryMb: 24 }));
    expect(error.code).toBe("CORRUPT");
    expect(error.message).toContain("exceeded its memory bound of 24 MB (setting LLAMBDA_EXTRACTION_MEMORY_MB)");
  });

  it("reports a worker that dies while reading as CORRUPT, and a worker that cannot start as a plain Error", async () => {
    const script = (name: string, onMessage: string): URL => {
      const path = join(scratch, name);
      writeFileSync(
        path,
        `import { parentPort } from "node:worker_threads";\n` +
          `parentPort.postMessage({ type: "ready" });\nparentPort.on("message", () => { ${onMessage} });\n`,
      );
      return pathToFileURL(path);
    };
    const bytes = await twoPages();
    const exits = await inputError(
      extractIsolated(bytes.slice(), { ...options, memoryMb: 64, script: script("exits.mjs", "process.exit(3);") }),
    );
    expect(exits.message).toBe("CORRUPT: text extraction stopped unexpectedly (worker exit code 3); the PDF cannot be read");
    const throws = await inputError(
      extractIsolated(bytes.slice(), {
        ...options,
        memoryMb: 64,
        script: script("throws.mjs", `setTimeout(() => { throw new TypeError("boom"); });`),
      }),
    );
    expect(throws.message).toBe("CORRUPT: text extraction crashed (TypeError: boom); the PDF cannot be read");

    const missing = await failure(
      extractIsolated(bytes.slice(), { ...options, memoryMb: 64, script: pathToFileURL(join(scratch, "absent.mjs")) }),
    );
    expect(missing).not.toBeInstanceOf(DocumentInputError);
    expect(missing.message).toMatch(/^The extraction worker failed to start/);
    await expect(workerScript(pathToFileURL(join(scratch, "index.mjs")).href)).rejects.toThrow(
      /extract-worker\.mjs does not exist/,
    );
  });
});
