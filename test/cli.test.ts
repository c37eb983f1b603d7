import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { DynamoDBRecord } from "aws-lambda";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import { writeTinyModel } from "../models/random-llama.ts";

/** `npm start` as a user runs it: the CLI in its own process, output parsed from stdout. */
const repoRoot = resolve(import.meta.dirname, "..");

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "infra/local/cli.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, LLAMBDA_MODEL: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

describe("npm start (the twin CLI)", () => {
  let dir: string;
  let modelPath: string;
  let densePdf: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-cli-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
    // Three pages of dense text: more than one chunk at the default chunk size, each chunk near that size.
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    for (let page = 0; page < 3; page++) {
      const lines = pdf.addPage([595, 842]);
      for (let line = 0; line < 60; line++) {
        const text = `${page}.${line} Northwind Traders shipped order ${4000 + line * 7} to Contoso Ltd in Lisbon on 2023-0${1 + (line % 9)}-1${line % 10}; net 1${line}0.50 EUR.`;
        lines.drawText(text, { x: 30, y: 810 - line * 13, size: 8, font });
      }
    }
    densePdf = join(dir, "dense.pdf");
    writeFileSync(densePdf, await pdf.save());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("without any model exits non-zero and names both model:pull and model:tiny", async () => {
    const run = await runCli(["samples/acme-invoice.pdf"], { LLAMBDA_MODELS_DIR: dir + "/empty" });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("npm run model:pull");
    expect(run.stderr).toContain("npm run model:tiny");
    expect(run.stdout).toBe("");
  });

  it("rejects unknown options and missing files with usage", async () => {
    const missing = await runCli(["--model", modelPath, "no-such-file.pdf"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Not a file");
    const bad = await runCli(["--model", modelPath, "--chunk-tokens", "zero", "samples/acme-invoice.pdf"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--chunk-tokens must be a positive integer");
  });

  it("--json prints one schema-valid COMPLETED line per document, with several chunks at the default chunk size; --stream-out writes the stream", async () => {
    const streamOut = join(dir, "stream.jsonl");
    const run = await runCli(["--json", "--model", modelPath, "--threads", "1", "--data-dir", join(dir, "data"), "--stream-out", streamOut, densePdf]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const document = JSON.parse(lines[0]!) as { status: string; documentId: string; result: unknown; chunks: { total: number; succeeded: number; failed: number } };
    expect(document.status).toBe("COMPLETED");
    expect(document.documentId).toMatch(/^[0-9a-f]{32}$/);
    expect(document.chunks.total).toBeGreaterThan(1);
    expect(document.chunks).toEqual({ total: document.chunks.total, succeeded: document.chunks.total, failed: 0 });
    const validate = new Ajv2020.default({ strict: false }).compile(getExtractionSchema("generic"));
    expect(validate(document.result), JSON.stringify(validate.errors)).toBe(true);
    // Progress goes to stderr, so stdout stays machine-readable.
    expect(run.stderr).toContain("Extract fields from chunks");
    expect(run.stderr).toContain("stream: MODIFY dense.pdf: PROCESSING → COMPLETED");
    // The stream, as a Lambda consumer would receive it: the item goes PROCESSING → (chunk count) → COMPLETED.
    const records = readFileSync(streamOut, "utf8").trim().split("\n").map((line) => JSON.parse(line) as DynamoDBRecord);
    expect(records.map((r) => [r.eventName, r.dynamodb?.NewImage?.status?.S, Number(r.dynamodb?.NewImage?.version?.N)])).toEqual([
      ["INSERT", "PROCESSING", 1],
      ["MODIFY", "PROCESSING", 2],
      ["MODIFY", "COMPLETED", 3],
    ]);
    for (const record of records) {
      expect(record).toMatchObject({ eventSource: "aws:dynamodb", dynamodb: { Keys: { documentId: { S: document.documentId } }, StreamViewType: "NEW_AND_OLD_IMAGES" } });
      expect(record.eventSourceARN).toMatch(/stream/);
    }
    expect(records[1]!.dynamodb!.NewImage!.chunks!.M!.total!.N).toBe(String(document.chunks.total));
  }, 300_000);
});
