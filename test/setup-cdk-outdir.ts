/**
 * Every `new App()` without an outdir makes its own `cdk.out*` folder in the system temp dir and never removes it (a full
 * run left ~60). Each test file gets one output folder of its own through CDK_OUTDIR, which App reads, removed after
 * the file. Apps given an explicit outdir (cdk-nag, docs) are unaffected.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const outdir = mkdtempSync(join(tmpdir(), "llambda-test-cdk-out-"));
const previous = process.env.CDK_OUTDIR;
process.env.CDK_OUTDIR = outdir;

afterAll(() => {
  if (previous === undefined) delete process.env.CDK_OUTDIR;
  else process.env.CDK_OUTDIR = previous;
  rmSync(outdir, { recursive: true, force: true });
});
