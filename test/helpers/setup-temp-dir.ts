/**
 * Every `new App()` without an outdir makes its own `cdk.out*` folder in the system temp dir and never removes it (a full
 * run left ~60), and other tests' temporary files can outlive a failed test. Each test file gets a temp dir of its own
 * (TMPDIR, which os.tmpdir() reads on every call and child processes inherit), removed after the file.
 * Not CDK_OUTDIR: with it set, every App synthesizes itself again when the process is about to exit (CDK's autoSynth).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const previous = process.env.TMPDIR;
const fileTmp = mkdtempSync(join(tmpdir(), "llambda-test-"));
process.env.TMPDIR = fileTmp;

afterAll(() => {
  if (previous === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previous;
  rmSync(fileTmp, { recursive: true, force: true });
});
