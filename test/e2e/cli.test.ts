import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { DynamoDBRecord } from "aws-lambda";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/** `npm start` as a user runs it: the CLI in its own process, output parsed from stdout. */

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
    // The package's bin (npx llambda): stdout is the CLI's own.
    const child = spawn(process.execPath, [join(repoRoot, "infra/local/bin.mjs"), ...args], {
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

  it("rejects unknown options, bad values and missing files up front: one line, the usage, exit 2, no stack trace", async () => {
    const cases: Array<[string[], string]> = [
      [["--model", modelPath, "no-such-file.pdf"], "Not a file"],
      [["--model", modelPath, "--bogus", "samples/acme-invoice.pdf"], "Unknown option '--bogus'."],
      // Within the parser's idea of a number, outside the chunk function's bounds: refused before anything starts.
      [["--model", modelPath, "--chunk-tokens", String(chunkTokensRange.min - 1), "samples/acme-invoice.pdf"],
        `--chunk-tokens must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}`],
      [["--model", modelPath, "--schema", "nope", "samples/acme-invoice.pdf"], 'Unknown schema "nope"'],
      [["--model", modelPath, "samples/acme-invoice.pdf", "samples/../samples/acme-invoice.pdf"], "The same file is given twice"],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.split("\n")[0]).toContain(message);
      expect(run.stderr).toContain("Usage: npx llambda");
      expect(run.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS/);
      expect(run.stdout).toBe("");
    }
  }, 120_000);

  it("uses the tiny model when it is the only one and says so (npm start and npm run soak)", async () => {
    const models = join(dir, "only-tiny");
    mkdirSync(models);
    await writeTinyModel(join(models, "tiny.gguf"));
    // Without Java the run ends after the model is chosen, before anything starts.
    const start = await runCli(["samples/acme-invoice.pdf"], { LLAMBDA_MODELS_DIR: models, PATH: join(dir, "no-bin") });
    expect(start.code).toBe(2);
    expect(start.stderr).toContain("needs a Java runtime");
    expect(start.stderr).toContain(`using the tiny test model ${join(models, "tiny.gguf")}`);
    const soak = await new Promise<{ code: number | null; stderr: string }>((resolveRun) => {
      // Without Java too: the soak stops when it starts the twin, after choosing the model.
      const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "bench/soak.ts"), "--docs", "1"], {
        cwd: repoRoot,
        env: { ...process.env, LLAMBDA_MODEL: "", LLAMBDA_MODELS_DIR: models, PATH: join(dir, "no-bin") },
      });
      let stderr = "";
      child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
      child.on("close", (code) => resolveRun({ code, stderr }));
    });
    expect(soak.stderr).toContain(`using the tiny test model ${join(models, "tiny.gguf")}`);
    expect(soak.stderr).toContain("needs a Java runtime");
  }, 60_000);

  it("without Java says so in one line and exits 2", async () => {
    const run = await runCli(["--model", modelPath, "samples/acme-invoice.pdf"], { PATH: join(dir, "no-bin") });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^llambda: DynamoDB Local needs a Java runtime.*default-jre-headless/)]);
  });

  it("keeps same-named files from different folders as two documents, each with its own result, under the --schema's prefix", async () => {
    const same = [join(dir, "a", "same.txt"), join(dir, "b", "same.txt")];
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "b"));
    writeFileSync(same[0]!, "Invoice 17 from Globex Corporation, total 120.50 EUR, dated 2024-03-11.");
    writeFileSync(same[1]!, "Invoice 18 from Initech, total 99 EUR, dated 2024-04-02, paid by card.");
    const run = await runCli(["--json", "--schema", "invoice", "--model", modelPath, "--threads", "1", "--max-output-tokens", "256", "--data-dir", join(dir, "same-data"), ...same]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { file: string; key: string; documentId: string; schemaId: string; status: string; item: { source: { key: string } } });
    expect(lines.map((line) => [line.file, line.key, line.schemaId, line.status])).toEqual([
      [same[0], "uploads/invoices/a/same.txt", "invoice", "COMPLETED"],
      [same[1], "uploads/invoices/b/same.txt", "invoice", "COMPLETED"],
    ]);
    expect(lines[0]!.documentId).not.toBe(lines[1]!.documentId);
    // The AWS SDK's Node-version notice (Node 20) is switched off for the CLI.
    expect(run.stderr).not.toContain("NodeVersionSupportWarning");
    // Each report is its own document's item, not the other's printed twice.
    expect(lines.map((line) => line.item.source.key)).toEqual(["uploads/invoices/a/same.txt", "uploads/invoices/b/same.txt"]);
  }, 300_000);

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
