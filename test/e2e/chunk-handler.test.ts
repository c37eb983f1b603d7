import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PDFDocument, StandardFonts } from "pdf-lib";
import type { ChunkItem, ChunkTaskOutput, ChunkTaskInput, DocumentLayout } from "../../functions/shared/contracts.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { afterBundlingCommands, chunkBundlingExtras } from "../../infra/bundling.ts";
import { handlerBuildOptions } from "../../infra/esbuild-options.ts";
import { startS3Fixture, type S3Fixture } from "../helpers/s3-fixture.ts";
import { encryptedPdf, manyWordsPdf } from "../helpers/extract-fixtures.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * The chunk handler end to end against s3rver: GetObject of the upload, PutObject of the large texts and the manifest.
 * The handler reads its configuration at module load, so the environment is set before it is imported.
 */

const uploads = "uploads";
const work = "work";
const maxTokens = 12_000;
/** Small limits, so that tests can exceed them. */
const maxBytes = 8_000_000;
const maxChunks = 10;

type Handler = (event: ChunkTaskInput, context?: { getRemainingTimeInMillis(): number }) => Promise<ChunkTaskOutput>;
let fixture: S3Fixture;
let s3: S3Client;
let handler: Handler;
let metadataPassword: (metadata: Record<string, string> | undefined) => string | undefined;

beforeAll(async () => {
  fixture = await startS3Fixture([uploads, work], {
    [EnvNames.bucket]: work,
    [EnvNames.chunkTokens]: String(maxTokens),
    [EnvNames.maxBytes]: String(maxBytes),
    [EnvNames.maxChunks]: String(maxChunks),
  });
  ({ s3 } = fixture);
  // These documents have text layers (or are refused): the output is always a manifest's, never an OCR plan.
  handler = (await import("../../functions/chunk/handler.ts")).handler as Handler;
  ({ metadataPassword } = await import("../../functions/shared/upload-object.ts"));
});

afterAll(async () => {
  await fixture?.stop();
});

async function upload(key: string, body: Uint8Array | string, metadata?: Record<string, string>): Promise<ChunkTaskInput> {
  await s3.send(new PutObjectCommand({ Bucket: uploads, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
  const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  return { documentId: key.replace(/\W+/g, "-"), source: { bucket: uploads, key, etag: "etag", size } };
}

async function read(bucket: string, key: string): Promise<{ body: string; contentType: string | undefined }> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: (await response.Body?.transformToString("utf-8")) ?? "", contentType: response.ContentType };
}

/** Runs `action` with stdout captured (the logger writes JSON lines there); returns what it wrote. */
async function capturingStdout<T>(
  action: () => Promise<T>,
): Promise<{ result: T | undefined; error: unknown; logged: string }> {
  const writes: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  try {
    return { result: await action(), error: undefined, logged: writes.join("") };
  } catch (error) {
    return { result: undefined, error, logged: writes.join("") };
  } finally {
    spy.mockRestore();
  }
}

function logEntry(logged: string, message: string): Record<string, unknown> | undefined {
  return logged
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((entry) => entry.message === message);
}

function parseManifest(body: string): ChunkItem[] {
  expect(body.endsWith("\n")).toBe(true);
  return body
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as ChunkItem);
}

describe("chunk handler", () => {
  it("chunks an uploaded PDF into a JSONL manifest in the work bucket, logging counts but no text", async () => {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    for (let page = 1; page <= 3; page++) {
      doc.addPage().drawText(`Confidential page ${page} says zebra${page}.`, { x: 50, y: 700, size: 12, font });
    }
    const event = await upload("in/report.pdf", await doc.save());

    const { result, error, logged } = await capturingStdout(() => handler(event));
    expect(error).toBeUndefined();
    const output = result as ChunkTaskOutput;

    expect(output).toEqual({
      manifest: { bucket: work, key: `chunks/${event.documentId}/manifest.jsonl` },
      chunkCount: 1,
      pageCount: 3,
      tokenCount: expect.any(Number) as number,
      ms: expect.any(Number) as number,
      // As billed, for the document's cost: the upload read, the layout and the manifest written.
      usage: {
        invocations: 1,
        billedMs: expect.any(Number) as number,
        memoryMb: expect.any(Number) as number,
        architecture: process.arch === "arm64" ? "arm64" : "x86_64",
        s3Gets: 1,
        s3Puts: 2,
      },
    });
    expect(output.usage!.billedMs).toBeGreaterThanOrEqual(output.ms);
    const manifest = await read(work, output.manifest.key);
    expect(manifest.contentType).toBe("application/x-ndjson");
    const items = parseManifest(manifest.body);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      documentId: event.documentId,
      index: 0,
      pageStart: 1,
      pageEnd: 3,
      tokenCount: output.tokenCount,
      text: "Confidential page 1 says zebra1.\n\nConfidential page 2 says zebra2.\n\nConfidential page 3 says zebra3.",
    });

    // Beside the manifest, for grounding: the chunks' source text, each page's span, size and text items, each chunk's span.
    const layoutObject = await read(work, `chunks/${event.documentId}/layout.json`);
    expect(layoutObject.contentType).toBe("application/json");
    const layout = JSON.parse(layoutObject.body) as DocumentLayout;
    expect(layout.text).toBe(items[0]!.text);
    expect(layout.chunks).toEqual([{ index: 0, charStart: 0, charEnd: layout.text.length }]);
    expect(layout.pages.map((page) => [page.page, layout.text.slice(page.charStart, page.charEnd), page.width, page.height, page.source])).toEqual(
      [1, 2, 3].map((page) => [page, `Confidential page ${page} says zebra${page}.`, 595.3, 841.9, "text-layer"]),
    );
    expect(layout.pages[0]!.runs).toEqual([{ text: "Confidential page 1 says zebra1.", box: [50, expect.any(Number), expect.any(Number), expect.any(Number)] }]);

    const summary = logEntry(logged, "Document chunked");
    expect(summary).toMatchObject({ level: "INFO", document: event.documentId, chunkCount: 1, pageCount: 3 });
    // The PDF was read in a worker thread, which had to start for this document.
    expect(summary?.extraction).toMatchObject({ isolated: true, timeoutMs: 120_000, passwordSupplied: false });
    expect((summary?.extraction as { workerStartMs: number }).workerStartMs).toBeGreaterThan(0);
    expect(logged).not.toContain("zebra");
  });

  it("stores texts too large for the item payload next to the manifest and references them", async () => {
    const words = Array.from({ length: 7000 }, (_, k) => `word${k}`);
    const event = await upload("in/notes.txt", words.join(" "));

    const output = await handler(event);

    expect(output.chunkCount).toBeGreaterThan(1);
    expect(output.pageCount).toBe(1);
    const items = parseManifest((await read(work, output.manifest.key)).body);
    expect(items).toHaveLength(output.chunkCount);
    const large = items.filter((item) => item.textLocation !== undefined);
    expect(large.length).toBeGreaterThan(0);
    const texts: string[] = [];
    for (const item of items) {
      expect(item.tokenCount).toBeLessThanOrEqual(maxTokens);
      if (item.textLocation) {
        expect(item.text).toBeUndefined();
        expect(item.textLocation).toEqual({ bucket: work, key: `chunks/${event.documentId}/${item.index}.txt` });
        const stored = await read(item.textLocation.bucket, item.textLocation.key);
        expect(stored.contentType).toMatch(/^text\/plain/);
        texts.push(stored.body);
      } else {
        texts.push(item.text ?? "");
      }
    }
    expect(texts.join(" ").split(" ")).toEqual(words);
  });

  it("lets DocumentInputError propagate and writes no manifest", async () => {
    const event = await upload("in/fake.pdf", "this is not a PDF");
    await expect(handler(event)).rejects.toMatchObject({ name: "DocumentInputError", code: "NOT_A_PDF" });
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: work, Key: `chunks/${event.documentId}/manifest.jsonl` })),
    ).rejects.toMatchObject({ name: "NotFound" });
  });

  it("rejects a malformed execution input", async () => {
    await expect(handler({ documentId: "", source: { bucket: uploads, key: "k", etag: "", size: 0 } })).rejects.toThrow(
      TypeError,
    );
  });

  it("rejects an upload over the byte limit from the event's size, without downloading it", async () => {
    // Nothing is stored under this key: a download would fail with NoSuchKey.
    const event: ChunkTaskInput = {
      documentId: "too-big",
      source: { bucket: uploads, key: "in/never-uploaded.pdf", etag: "e", size: maxBytes + 1 },
    };
    await expect(handler(event)).rejects.toMatchObject({
      name: "DocumentInputError",
      code: "TOO_LARGE",
      message: expect.stringMatching(/size in the upload event.*LLAMBDA_MAX_BYTES=8000000/) as string,
    });
  });

  it("checks the byte limit on the stored object too, when the event understates its size", async () => {
    const event = await upload("in/grown.pdf", new Uint8Array(maxBytes + 10).fill(0x25));
    await expect(handler({ ...event, source: { ...event.source, size: 10 } })).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringContaining("stored object") as string,
    });
  });

  it("rejects a document that needs more than LLAMBDA_MAX_CHUNKS chunks", async () => {
    const words = Array.from({ length: 50_000 }, (_, k) => `w${k * 7919}`);
    const event = await upload("in/long.txt", words.join(" "));
    await expect(handler(event)).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringContaining("LLAMBDA_MAX_CHUNKS") as string,
    });
  });

  it("opens an encrypted PDF with the password in its pdf-password metadata, and never logs it", async () => {
    const password = "Tr0ub4dor&3";
    const event = await upload("in/locked.pdf", encryptedPdf("Quarterly numbers", password), { "pdf-password": password });
    const { result, logged } = await capturingStdout(() => handler(event));
    expect(result?.chunkCount).toBe(1);
    const items = parseManifest((await read(work, result?.manifest.key ?? "")).body);
    expect(items[0]?.text).toBe("Quarterly numbers");
    expect(logEntry(logged, "Document chunked")?.extraction).toMatchObject({ passwordSupplied: true });
    expect(logged).not.toContain(password);

    const locked = encryptedPdf("Quarterly numbers", password);
    const wrong = await upload("in/locked-wrong.pdf", locked, { "pdf-password": "guess" });
    const failed = await capturingStdout(() => handler(wrong));
    expect(failed.error).toMatchObject({ code: "ENCRYPTED", message: expect.stringContaining("is wrong") as string });
    expect(failed.logged).not.toContain("guess");

    const none = await upload("in/locked-none.pdf", locked);
    await expect(handler(none)).rejects.toMatchObject({
      code: "ENCRYPTED",
      message: expect.stringContaining("pdf-password") as string,
    });
  });

  it("decodes RFC 2047 metadata values (how S3 returns non-ASCII user metadata)", () => {
    expect(metadataPassword(undefined)).toBeUndefined();
    expect(metadataPassword({ "pdf-password": "" })).toBeUndefined();
    expect(metadataPassword({ "pdf-password": "plain" })).toBe("plain");
    const base64 = Buffer.from("pässwörd").toString("base64");
    expect(metadataPassword({ "pdf-password": `=?UTF-8?B?${base64}?=` })).toBe("pässwörd");
    expect(metadataPassword({ "pdf-password": "=?utf-8?Q?p=C3=A4ss_w?=" })).toBe("päss w");
  });

  it("bounds extraction by the invocation's remaining time and reports EXTRACTION_TIMEOUT", async () => {
    const event = await upload("in/slow.pdf", manyWordsPdf(200_000));
    const started = performance.now();
    // 16 s left: the bound is what remains after the 15 s margin, i.e. 1 s.
    await expect(handler(event, { getRemainingTimeInMillis: () => 16_000 })).rejects.toMatchObject({
      name: "DocumentInputError",
      code: "EXTRACTION_TIMEOUT",
      message: expect.stringContaining(
        "within 1 s (the invocation's remaining time minus 15 s; raise the chunk function's timeout)",
      ) as string,
    });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("works as the Lambda bundle too: extraction runs in the bundled worker, away from node_modules", async () => {
    // Same esbuild settings and the same afterBundling commands as the stack's NodejsFunction; a bundle that only works
    // next to node_modules would pass the tests above and fail in Lambda (pdf.js's DOMMatrix, tiktoken's wasm, the
    // extraction worker's script).
    const bundleDir = mkdtempSync(join(tmpdir(), "llambda-chunk-bundle-"));
    const run = promisify(execFile);
    try {
      await build({
        ...handlerBuildOptions("functions/chunk/handler.ts", join(bundleDir, "index.mjs")),
        minify: true,
        logLevel: "error",
      });
      for (const command of afterBundlingCommands(chunkBundlingExtras, repoRoot, bundleDir)) {
        await run("bash", ["-c", command], { cwd: repoRoot });
      }
      // pdf.js's CMaps and standard font metrics travel with the bundle (pdf-text.ts looks for them there).
      for (const file of ["pdfjs/cmaps/UniJIS-UCS2-H.bcmap", "pdfjs/standard_fonts/LiberationSans-Regular.ttf"]) {
        expect(existsSync(join(bundleDir, file)), file).toBe(true);
      }
      const doc = await PDFDocument.create();
      const font = await doc.embedFont(StandardFonts.Helvetica);
      doc.addPage().drawText("Bundled extraction works.", { x: 50, y: 700, size: 12, font });
      const event = await upload("in/bundled.pdf", await doc.save());
      const invoke = (): Promise<{ stdout: string }> => {
        const script =
          `const { handler } = await import(${JSON.stringify(join(bundleDir, "index.mjs"))}); ` +
          `try { process.stdout.write("RESULT " + JSON.stringify(await handler(${JSON.stringify(event)})) + "\\n"); } ` +
          `catch (error) { process.stdout.write("ERROR " + error.message + "\\n"); }`;
        return run(process.execPath, ["--input-type=module", "-e", script], {
          cwd: bundleDir,
          env: { ...process.env, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "2048" },
        });
      };

      const { stdout } = await invoke();
      const resultLine = stdout.split("\n").find((line) => line.startsWith("RESULT ")) ?? "";
      const output = JSON.parse(resultLine.slice("RESULT ".length)) as ChunkTaskOutput;
      expect(output).toMatchObject({ chunkCount: 1, pageCount: 1 });
      const items = parseManifest((await read(work, output.manifest.key)).body);
      expect(items[0]?.text).toBe("Bundled extraction works.");
      // The text came from the bundled worker thread, bounded by 60% of the function's 2,048 MB.
      const extraction = logEntry(stdout, "Document chunked")?.extraction as Record<string, number | boolean>;
      expect(extraction).toMatchObject({ isolated: true, memoryMb: 1228 });
      expect(extraction.workerStartMs).toBeGreaterThan(0);
      const { workerStartMs, extractMs } = extraction;
      console.log(`chunk bundle: extraction worker ready in ${String(workerStartMs)} ms, extracted in ${String(extractMs)} ms`);

      // Without its worker script, the bundle fails loudly (a packaging fault), not with a document error.
      rmSync(join(bundleDir, "extract-worker.mjs"));
      const broken = await invoke();
      expect(broken.stdout).toMatch(/ERROR The extraction worker script is missing: .*extract-worker\.mjs does not exist/);
    } finally {
      rmSync(bundleDir, { recursive: true, force: true });
    }
  }, 90_000);
});
