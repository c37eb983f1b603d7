import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PDFDocument, StandardFonts } from "pdf-lib";
import type { ChunkItem, ChunkTaskOutput, WorkflowInput } from "../functions/shared/contracts.ts";
import { EnvNames } from "../functions/shared/env-names.ts";
import { chunkBundlingExtras } from "../infra/bundling.ts";
import { handlerBuildOptions } from "../infra/esbuild-options.ts";
import { freePort, startS3, type S3Server } from "../infra/local/services.ts";

/**
 * The chunk handler end to end against s3rver: GetObject of the upload, PutObject of the large texts and the manifest.
 * The handler reads its configuration at module load, so the environment is set before it is imported.
 */

const uploads = "uploads";
const work = "work";
const maxTokens = 12_000;

let server: S3Server;
let directory: string;
let s3: S3Client;
let handler: (event: WorkflowInput) => Promise<ChunkTaskOutput>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "llambda-chunk-"));
  server = await startS3(directory, await freePort());
  const endpoint = server.url;
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_S3: endpoint,
    // s3rver stores aws-chunked uploads with their framing; only send checksums when required.
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
    [EnvNames.bucket]: work,
    [EnvNames.chunkTokens]: String(maxTokens),
  });
  s3 = new S3Client({ endpoint, forcePathStyle: true });
  for (const bucket of [uploads, work]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  ({ handler } = await import("../functions/chunk/handler.ts"));
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  rmSync(directory, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

async function upload(key: string, body: Uint8Array | string): Promise<WorkflowInput> {
  await s3.send(new PutObjectCommand({ Bucket: uploads, Key: key, Body: body }));
  const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  return { documentId: key.replace(/\W+/g, "-"), source: { bucket: uploads, key, etag: "etag", size } };
}

async function read(bucket: string, key: string): Promise<{ body: string; contentType: string | undefined }> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: (await response.Body?.transformToString("utf-8")) ?? "", contentType: response.ContentType };
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

    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    let output: ChunkTaskOutput;
    try {
      output = await handler(event);
    } finally {
      spy.mockRestore();
    }

    expect(output).toEqual({
      manifest: { bucket: work, key: `chunks/${event.documentId}/manifest.jsonl` },
      chunkCount: 1,
      pageCount: 3,
      tokenCount: expect.any(Number) as number,
      ms: expect.any(Number) as number,
    });
    const manifest = await read(work, output.manifest.key);
    expect(manifest.contentType).toBe("application/x-ndjson");
    const items = parseManifest(manifest.body);
    expect(items).toEqual([
      {
        documentId: event.documentId,
        index: 0,
        pageStart: 1,
        pageEnd: 3,
        tokenCount: output.tokenCount,
        text: "Confidential page 1 says zebra1.\n\nConfidential page 2 says zebra2.\n\nConfidential page 3 says zebra3.",
      },
    ]);

    const logged = writes.join("");
    const summary = logged
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.message === "Document chunked");
    expect(summary).toMatchObject({ level: "INFO", document: event.documentId, chunkCount: 1, pageCount: 3 });
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

  it("works as the Lambda bundle too: esbuild output with its copied files, loaded away from node_modules", async () => {
    // Same esbuild settings as the stack's NodejsFunction; a bundle that only works next to node_modules would pass
    // the tests above and fail its init in Lambda (pdf.js's DOMMatrix, tiktoken's wasm, the pdf.js worker).
    const bundleDir = mkdtempSync(join(tmpdir(), "llambda-chunk-bundle-"));
    try {
      await build({ ...handlerBuildOptions("functions/chunk/handler.ts", join(bundleDir, "index.mjs")), logLevel: "error" });
      for (const file of chunkBundlingExtras.copyFiles ?? []) copyFileSync(file, join(bundleDir, basename(file)));
      const doc = await PDFDocument.create();
      const font = await doc.embedFont(StandardFonts.Helvetica);
      doc.addPage().drawText("Bundled extraction works.", { x: 50, y: 700, size: 12, font });
      const event = await upload("in/bundled.pdf", await doc.save());
      const script = `const { handler } = await import(${JSON.stringify(join(bundleDir, "index.mjs"))}); ` +
        `process.stdout.write(JSON.stringify(await handler(${JSON.stringify(event)})));`;
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
        cwd: bundleDir,
        env: { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT" },
      });
      const output = JSON.parse(stdout.slice(stdout.indexOf('{"manifest"'))) as ChunkTaskOutput;
      expect(output).toMatchObject({ chunkCount: 1, pageCount: 1 });
      const items = parseManifest((await read(work, output.manifest.key)).body);
      expect(items[0]?.text).toBe("Bundled extraction works.");
    } finally {
      rmSync(bundleDir, { recursive: true, force: true });
    }
  }, 60_000);
});
