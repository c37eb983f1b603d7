import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { chunkTokensRange } from "../functions/chunk/limits.ts";
import { buildUserPrompt } from "../functions/infer/prompt.ts";

/** `npm run chunk` as a user runs it: one JSON line per file, exit status 0 even when some files fail. */
const repoRoot = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "llambda-chunk-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run chunk", () => {
  it("prints one line per file with the outcome, and exits 0 when some files fail", async () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "First paragraph about invoices.\n\nSecond paragraph about payments.");
    const fake = join(dir, "fake.pdf");
    writeFileSync(fake, "this is not a PDF");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "functions/chunk/cli.ts"), "--json", "samples/acme-invoice.pdf", notes, fake],
      { cwd: repoRoot, env: { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT" } },
    );
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.status, line.code])).toEqual([["ok", undefined], ["ok", undefined], ["error", "NOT_A_PDF"]]);
    expect(lines[0]).toMatchObject({ file: "samples/acme-invoice.pdf", pages: 2, chunks: 1 });
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(["file", "status", "pages", "chunks", "tokens", "ms", "peakRssMb"]));
      expect(line.peakRssMb).toBeGreaterThan(0);
    }
    expect(lines[1]!.tokens).toBeGreaterThan(5);
    expect(String(lines[2]!.message)).toContain("%PDF-");
  }, 60_000);

  it("--text prints each chunk as the model will see it: index, page range, tokens, then the user message with its text", async () => {
    const notes = join(dir, "two.txt");
    const paragraphs = Array.from({ length: 6 }, (_, i) => `Paragraph ${i} says that Globex paid invoice ${100 + i} in full on time.`);
    writeFileSync(notes, paragraphs.join("\n\n"));
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", join(repoRoot, "functions/chunk/cli.ts"), ...args], { cwd: repoRoot });
    const { stdout } = await run(["--text", "--chunk-tokens", "40", notes]);
    const headers = stdout.match(/^--- chunk \d+ · page 1 · \d+ tokens ---$/gm) ?? [];
    expect(headers.length).toBeGreaterThan(1);
    expect(headers[0]).toMatch(/^--- chunk 0 /);
    expect(stdout).toContain(buildUserPrompt({ text: paragraphs[0]!, pageStart: 1, pageEnd: 1 }).split("\n").slice(0, 3).join("\n"));
    for (const paragraph of paragraphs) expect(stdout).toContain(paragraph);
    const json = JSON.parse((await run(["--json", "--text", "--chunk-tokens", "40", notes])).stdout) as { chunks: number; chunkList: Array<{ index: number; text: string }> };
    expect(json.chunkList).toHaveLength(json.chunks);
    expect(json.chunkList.map((chunk) => chunk.index)).toEqual(json.chunkList.map((_, i) => i));
    // --chunk-tokens follows the chunk function's bounds.
    await expect(run(["--chunk-tokens", String(chunkTokensRange.min - 1), notes])).rejects.toMatchObject({ code: 2 });
  }, 60_000);
});
