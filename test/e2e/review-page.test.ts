import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BucketLayout, reviewPageKey } from "../../functions/shared/bucket-layout.ts";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * The review page end to end: `npx llambda --review <dir>` runs the sample invoice through the twin (the merge points
 * the item at its review page, the workflow's review task writes it to the twin's bucket) and copies the page out.
 */
describe("review pages on the twin (npm start -- --review)", () => {
  let dir: string;
  let modelPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-review-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the sample invoice's review page where its item points, and copies it to <dir>/<file name>.review.html", async () => {
    const pages = join(dir, "pages");
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
      const args = ["--json", "--review", pages, "--model", modelPath, "--threads", "1", "--max-output-tokens", "256", "--data-dir", join(dir, "data"), "samples/acme-invoice.pdf"];
      const child = spawn(process.execPath, [join(repoRoot, "infra/local/bin.mjs"), ...args], { cwd: repoRoot, env: { ...process.env, LLAMBDA_MODEL: "" } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
      child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
      child.on("close", (code) => resolveRun({ code, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim()) as { status: string; documentId: string; reviewPage: string | null; item: DocumentItem };
    expect(["COMPLETED", "PARTIAL"]).toContain(report.status);

    // The item points at the page by the bucket layout's rule: reviews/<document>/<execution name>.html.
    const { item } = report;
    const executionName = item.executionArn.split(":").pop()!;
    expect(item.reviewPage).toEqual({ bucket: "llambda-local", key: reviewPageKey(report.documentId, executionName) });
    expect(item.reviewPage!.key.startsWith(BucketLayout.reviewsPrefix)).toBe(true);

    // The workflow wrote it; the CLI copied it out and says where.
    const copied = join(pages, "acme-invoice.pdf.review.html");
    expect(report.reviewPage).toBe(copied);
    expect(existsSync(copied), run.stderr).toBe(true);
    const html = readFileSync(copied, "utf8");
    expect(html.trimStart().slice(0, 15).toLowerCase()).toBe("<!doctype html>");
    expect(html).toMatch(/<\/html>\s*$/i);
    expect(statSync(copied).size).toBeLessThan(2 * 1024 * 1024);
    expect(run.stderr).toContain("Write review page");
  }, 600_000);
});
