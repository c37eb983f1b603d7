import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel } from "../../models/random-llama.ts";
import { dynamoDbLocalProcesses, processesMentioning, startCli } from "../helpers/cli-process.ts";
import { multiPagePdf } from "../helpers/twin-fixture.ts";

/**
 * How `npx llambda` reports documents it cannot finish, one line each, and what it leaves behind: a file the twin's
 * S3 refuses, and DynamoDB Local dying under running documents. Java processes are found by their command line,
 * which holds the run's data folder (Linux /proc).
 */
const onLinux = existsSync("/proc/self/cmdline");

interface JsonReport {
  file: string;
  key: string;
  documentId: string | null;
  status: string;
  error?: string;
  cause?: string;
  resume?: string;
}

const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as JsonReport);

describe.skipIf(!onLinux)("the CLI reports each document it cannot finish, and stops its services (Linux: /proc)", () => {
  let dir: string;
  let modelPath: string;
  let longNamed: string;
  let notes: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-cli-failures-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
    // 250 bytes: a file the local file system holds, whose key the twin's S3 cannot store as a file.
    longNamed = join(dir, `${"n".repeat(246)}.txt`);
    writeFileSync(longNamed, "Invoice 17 from Globex Corporation, total 120.50 EUR.");
    notes = join(dir, "notes.txt");
    writeFileSync(notes, "Second document: Globex paid invoice 18 on 2024-03-11, 99 EUR.");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const baseArgs = () => ["--model", modelPath, "--threads", "1", "--max-output-tokens", "256"];

  it("--json: a file whose key the twin's S3 refuses gets its own FAILED line, the next file still runs, Java is gone", async () => {
    const dataDir = join(dir, "long-json-data");
    const run = await startCli(["--json", ...baseArgs(), "--data-dir", dataDir, longNamed, notes]).exit;
    expect(run.code, run.stderr).toBe(1);
    const lines = jsonLines(run.stdout);
    expect(lines.map((line) => [basename(line.file), line.status])).toEqual([
      [basename(longNamed), "FAILED"],
      ["notes.txt", "COMPLETED"],
    ]);
    expect(lines[0]).toMatchObject({ key: `uploads/${basename(longNamed)}`, documentId: null, error: "UPLOAD_FAILED" });
    expect(lines[0]!.cause).toMatch(/^KeyTooLongError: .*bytes/);
    expect(run.stderr).not.toMatch(/ENAMETOOLONG|unexpected error|\n\s+at /);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 300_000);

  it("text: the refused file's line says why, the next file's result follows, Java is gone", async () => {
    const dataDir = join(dir, "long-text-data");
    const run = await startCli([...baseArgs(), "--data-dir", dataDir, longNamed, notes]).exit;
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain(`✗ ${basename(longNamed)}: FAILED\n`);
    expect(run.stdout).toMatch(/\n {2}error: UPLOAD_FAILED\n {2}cause: KeyTooLongError: /);
    expect(run.stdout).toContain("✓ notes.txt: COMPLETED\n");
    expect(run.stdout.indexOf("✗ n")).toBeLessThan(run.stdout.indexOf("✓ notes.txt"));
    expect(run.stderr).not.toMatch(/ENAMETOOLONG|unexpected error|\n\s+at /);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 300_000);

  it("DynamoDB Local killed mid-run: each unfinished document says INTERRUPTED and how to resume, exit 1, services stop; the rerun completes them", async () => {
    const dataDir = join(dir, "killed-data");
    const dense = join(dir, "dense.pdf");
    writeFileSync(dense, await multiPagePdf(4));
    const args = ["--json", ...baseArgs(), "--chunk-tokens", "60", "--data-dir", dataDir, dense, notes, "samples/acme-invoice.pdf"];
    const run = startCli(args);
    await run.waitForStderr("dense.pdf: Extract fields from chunks");
    const java = dynamoDbLocalProcesses(dataDir);
    expect(java.length, "DynamoDB Local runs").toBeGreaterThan(0);
    for (const pid of java) process.kill(pid, "SIGKILL");
    const killed = await run.exit;
    expect(killed.code, killed.stderr).toBe(1);
    const lines = jsonLines(killed.stdout);
    // One line per document, in the order given; the big one was still running.
    expect(lines.map((line) => basename(line.file))).toEqual(["dense.pdf", "notes.txt", "acme-invoice.pdf"]);
    expect(lines[0]!.status).toBe("INTERRUPTED");
    for (const line of lines.filter((report) => report.status !== "COMPLETED")) {
      expect(line.status, JSON.stringify(line)).toBe("INTERRUPTED");
      expect(line.documentId).toMatch(/^[0-9a-f]{32}$/);
      expect(line.cause).toMatch(/DynamoDB Local stopped/);
      expect(line.resume).toContain(`--data-dir ${dataDir}`);
    }
    expect(killed.stderr).toMatch(/DynamoDB Local stopped .*: stopping the other local services/);
    expect(killed.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(processesMentioning(dataDir)).toEqual([]);

    // The hint holds: the same command on the same data folder takes the documents left PROCESSING to the end.
    const rerun = await startCli(args).exit;
    expect(rerun.code, rerun.stderr).toBe(0);
    const finished = jsonLines(rerun.stdout);
    expect(finished.map((line) => [basename(line.file), line.status])).toEqual([
      ["dense.pdf", "COMPLETED"],
      ["notes.txt", "COMPLETED"],
      ["acme-invoice.pdf", "COMPLETED"],
    ]);
    expect(finished.map((line) => line.documentId)).toEqual(lines.map((line) => line.documentId));
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 600_000);
});
