import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { FieldGrounding } from "../../functions/shared/document-item.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/** `npm run ground` as a user runs it, on the sample invoice (2 pages of text-layer PDF). */
const dir = mkdtempSync(join(tmpdir(), "llambda-ground-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const values = {
  invoice_number: "INV-2024-0117",
  issuer: "ACME Industrial Supplies Ltd.",
  date: "2024-03-14",
  total: 3906,
  currency: "GBP",
  lines: [{ name: "Hydraulic pump HP-200" }],
  paid: false,
  buyer: "Initech AG",
};
const valuesFile = join(dir, "values.json");
writeFileSync(valuesFile, JSON.stringify([values]));

async function ground(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", join(repoRoot, "bench/ground.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT" },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe("npm run ground", () => {
  it("--json gives every path's grounding: match, page, quote and boxes on the page that holds it", async () => {
    const { stdout, code } = await ground("samples/acme-invoice.pdf", valuesFile, "--json");
    expect(code).toBe(0);
    const output = JSON.parse(stdout) as { pages: number; chunks: number; fields: Array<{ path: string; grounding: FieldGrounding }> };
    expect(output).toMatchObject({ pages: 2, chunks: 1 });
    const byPath = Object.fromEntries(output.fields.map((field) => [field.path, field.grounding]));
    expect(Object.keys(byPath)).toEqual(["invoice_number", "issuer", "date", "total", "currency", "lines[0].name", "paid", "buyer"]);
    expect(byPath.invoice_number).toMatchObject({ match: "exact", page: 1, quote: "INV-2024-0117" });
    expect(byPath.total).toMatchObject({ match: "normalised", page: 2, quote: "3,906.00" });
    expect(byPath.date).toMatchObject({ match: "exact", page: 1, quote: "2024-03-14" });
    expect(byPath.paid).toEqual({ match: "ungroundable" });
    expect(byPath.buyer).toEqual({ match: "none" });
    for (const path of ["invoice_number", "issuer", "date", "total", "currency", "lines[0].name"]) {
      const grounding = byPath[path]!;
      expect(grounding.boxes, path).toHaveLength(1);
      const [box] = grounding.boxes!;
      // On its page (A4 in points), a line of 10 pt text, as wide as its characters.
      expect(box!.page).toBe(grounding.page);
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(595);
      expect(box!.y + box!.height).toBeLessThanOrEqual(842);
      expect(box!.height).toBeCloseTo(10, 0);
      expect(box!.width).toBeGreaterThan(grounding.quote!.length * 2);
      expect(box!.width).toBeLessThan(grounding.quote!.length * 7);
    }
  }, 60_000);

  it("prints one line per path, and a count", async () => {
    const { stdout, code } = await ground("samples/acme-invoice.pdf", valuesFile);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toBe("samples/acme-invoice.pdf: 2 page(s), 1 chunk(s)");
    expect(lines).toContain('buyer: none (value "Initech AG")');
    expect(lines.find((line) => line.startsWith("total:"))).toMatch(/^total: normalised · page 2 · "3,906\.00" · \[p2 [\d.]+,[\d.]+ [\d.]+x[\d.]+\]$/);
    expect(lines.at(-1)).toBe("6 of 8 value(s) found exact or normalised");
  }, 60_000);

  it("exits 2 with the usage on bad arguments, 1 when the file is not a document", async () => {
    const usage = await ground("samples/acme-invoice.pdf");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: npm run ground");
    const notPdf = join(dir, "fake.pdf");
    writeFileSync(notPdf, "not a pdf");
    const bad = await ground(notPdf, valuesFile);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("NOT_A_PDF");
  }, 60_000);
});
