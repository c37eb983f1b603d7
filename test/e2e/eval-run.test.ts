import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { scoreDocument, type DocumentScore, type Summary } from "../../bench/eval/score.ts";
import { scoredConfidences, type TrustSummary } from "../../bench/eval/trust.ts";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * `npm run eval` as a user runs it, through the twin with the tiny model: every paired document is extracted with the
 * requested schema and scored, the report's numbers are the scorer's on what was extracted, and unpaired files are
 * listed. The score itself is near zero with random weights; the harness is what is tested.
 */
const corpus = join(repoRoot, "..", "shared", "corpus", "invoices");

interface EvalReport {
  schema: string;
  documents: Array<{
    file: string;
    status: string;
    result: Record<string, unknown> | null;
    score: DocumentScore;
    error?: string;
    grounding?: DocumentItem["grounding"];
    confidence?: DocumentItem["confidence"];
    needsReview?: boolean;
  }>;
  summary: Summary;
  trust: TrustSummary;
  skipped: Array<{ file: string; reason: string }>;
}

function runEval(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "bench/eval/run.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, LLAMBDA_MODEL: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** The report is consistent with itself and with the scorer applied to what was extracted. */
function expectHonestReport(report: EvalReport, expectedByFile: (file: string) => unknown): void {
  const schema = getExtractionSchema(report.schema);
  let correct = 0;
  let total = 0;
  for (const document of report.documents) {
    if (document.status !== "FAILED" && document.result) {
      const rescored = scoreDocument(expectedByFile(document.file), document.result, schema);
      expect({ correct: document.score.correct, total: document.score.total }).toEqual({ correct: rescored.correct, total: rescored.total });
    } else {
      expect(document.score.correct).toBe(0);
      expect(document.error).toBeTruthy();
    }
    correct += document.score.correct;
    total += document.score.total;
  }
  expect(report.summary.overall).toMatchObject({ correct, total, documents: report.documents.length });
  const fieldTotals = report.summary.fields.reduce((sum, field) => sum + field.total, 0);
  expect(fieldTotals).toBe(total);
}

describe("npm run eval", () => {
  let dir: string;
  let modelPath: string;
  const expected: Record<string, unknown> = {
    "inv-1": [{ issuer: "Initech", invoice_number: "INV-1", date: "2024-02-11", currency: "EUR", amount: 120.5, lines: [{ name: "Staplers", price_unit: "10.00" }] }],
    "inv-2": { issuer: "Globex", invoice_number: "G-22", date: "2023-12-01", currency: "USD", amount: 99, amount_untaxed: 90 },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-eval-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
    const docs = join(dir, "docs");
    mkdirSync(docs);
    writeFileSync(join(docs, "inv-1.txt"), "Invoice INV-1 from Initech, dated 11 Feb 2024. 12 staplers at 10.00 EUR. Total due: 120.50 EUR.");
    writeFileSync(join(docs, "inv-2.md"), "# Globex invoice G-22\n\nDate: 2023-12-01. Net 90 USD, total 99 USD.");
    for (const [name, value] of Object.entries(expected)) writeFileSync(join(docs, `${name}.json`), JSON.stringify(value));
    writeFileSync(join(docs, "no-expectation.txt"), "A document nobody annotated.");
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("extracts each paired document with the schema, scores it honestly and lists what it skipped", async () => {
    const run = await runEval(["--json", "--schema", "invoice", "--model", modelPath, "--threads", "1", "--max-output-tokens", "768", join(dir, "docs")]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as EvalReport;
    expect(report.schema).toBe("invoice");
    expect(report.documents.map((d) => d.file.split("/").pop()).sort()).toEqual(["inv-1.txt", "inv-2.md"]);
    expect(report.skipped.map((s) => s.file.split("/").pop())).toEqual(["no-expectation.txt"]);
    for (const document of report.documents) expect(document.status).not.toBe("FAILED");
    expectHonestReport(report, (file) => expected[file.split("/").pop()!.replace(/\.(txt|md)$/, "")]);
    // inv-2 has no lines annotation and inv-1 no amount_untaxed: those are not scored there.
    const fieldsOf = (name: string) => report.documents.find((d) => d.file.endsWith(name))!.score.fields.map((f) => f.path);
    expect(fieldsOf("inv-1.txt")).toContain("lines");
    expect(fieldsOf("inv-2.md")).not.toContain("lines");
    // The trust summary counts what the items say: every grounded value, every scored field with a confidence.
    const grounded = report.documents.flatMap((d) => Object.values(d.grounding ?? {}));
    expect(grounded.length).toBeGreaterThan(0);
    const { grounding, calibration } = report.trust;
    expect(grounding.exact + grounding.normalised + grounding.fuzzy + grounding.none + grounding.ungroundable).toBe(grounded.length);
    expect(grounding.rejected).toBe(grounded.filter((g) => g.rejected).length);
    const scored = report.documents.flatMap((d) => scoredConfidences({ ...d, fields: d.score.fields }));
    expect(calibration.reduce((sum, bucket) => sum + bucket.fields, 0)).toBe(scored.length);
    expect(report.trust.needsReview).toBe(report.documents.filter((d) => d.needsReview).length);
  }, 300_000);

  it("says what folder it needs and where to get one when the folder is missing, a file or has no pairs", async () => {
    const missing = join(dir, "no-such-corpus", "invoices");
    for (const [folder, first] of [
      [missing, `Folder not found: ${missing}`],
      [join(dir, "docs", "inv-1.txt"), "is a file, not a folder"],
      [dir, "No document in"],
    ] as const) {
      const run = await runEval(["--schema", "invoice", "--dry-run", folder]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(first);
      expect(run.stderr).toContain("Foo.pdf and Foo.json");
      expect(run.stderr).toContain("../shared/corpus/invoices");
      expect(run.stderr).toMatch(/your own documents/i);
    }
  }, 60_000);

  it.skipIf(!existsSync(corpus))(`runs on real invoices from ../shared/corpus/invoices${existsSync(corpus) ? "" : " (skipped: ../shared is absent)"}`, async () => {
    const run = await runEval(["--json", "--schema", "invoice", "--model", modelPath, "--threads", "1", "--max-output-tokens", "768", "--limit", "2", corpus]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as EvalReport;
    expect(report.documents).toHaveLength(2);
    const { readFileSync } = await import("node:fs");
    expectHonestReport(report, (file) => JSON.parse(readFileSync(file.replace(/\.[a-z]+$/, ".json"), "utf8")));
    expect(report.summary.overall.total).toBeGreaterThan(5);
  }, 300_000);
});
