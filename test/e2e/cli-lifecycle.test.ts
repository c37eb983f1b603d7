import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel } from "../../models/random-llama.ts";
import { processesMentioning, startCli as startCliWithEnv } from "../helpers/cli-process.ts";

/**
 * How the CLI ends when it is not allowed to finish: SIGTERM while a document runs, and stdout's reader leaving
 * early. Either way DynamoDB Local's Java process must be gone and no temporary file left. Java processes are found
 * by their command line, which holds this test's own data folder (Linux /proc).
 */
const onLinux = existsSync("/proc/self/cmdline");

// TMPDIR: the CLI's own temporary folder, to check that nothing is left in it.
const startCli = (args: string[], tmp: string) => startCliWithEnv(args, { TMPDIR: tmp });

describe.skipIf(!onLinux)("the CLI stops its services and leaves no temporary files (Linux: /proc)", () => {
  let dir: string;
  let modelPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-cli-lifecycle-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("on SIGTERM while a document runs: exits 143, Java is gone, no temporary file remains", async () => {
    const dataDir = join(dir, "sigterm-data");
    const tmp = join(dir, "sigterm-tmp");
    mkdirSync(tmp);
    const run = startCli(["--model", modelPath, "--threads", "1", "--data-dir", dataDir, "samples/acme-invoice.pdf"], tmp);
    // By then DynamoDB Local runs and the PDF went through the extraction worker, bundled from source.
    await run.waitForStderr("Extract fields from chunks");
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0);
    run.child.kill("SIGTERM");
    const { code, stderr } = await run.exit;
    expect(code, stderr).toBe(143);
    expect(stderr).toContain("SIGTERM: stopping the local services");
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(processesMentioning(dataDir)).toEqual([]);
    // Ours only: tsx keeps its transform cache there (tsx-<uid>), on purpose.
    expect(readdirSync(tmp).filter((name) => name.startsWith("llambda-"))).toEqual([]);
  }, 120_000);

  it("when stdout's reader leaves: stops cleanly (exit 1, one line, no EPIPE error), Java is gone", async () => {
    const dataDir = join(dir, "epipe-data");
    const tmp = join(dir, "epipe-tmp");
    mkdirSync(tmp);
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "Second document: Globex paid invoice 17 on 2024-03-11.");
    const run = startCli(["--json", "--model", modelPath, "--threads", "1", "--max-output-tokens", "256", "--data-dir", dataDir, "samples/acme-invoice.pdf", notes], tmp);
    // The reader is gone before the first result is written (as `| head -c 1` after its byte).
    run.child.stdout!.destroy();
    const { code, signal, stderr } = await run.exit;
    expect(signal).toBeNull();
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("stdout was closed (its reader is gone)");
    expect(stderr).not.toContain("EPIPE");
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(processesMentioning(dataDir)).toEqual([]);
    // Ours only: tsx keeps its transform cache there (tsx-<uid>), on purpose.
    expect(readdirSync(tmp).filter((name) => name.startsWith("llambda-"))).toEqual([]);
  }, 180_000);
});
