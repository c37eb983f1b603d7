import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { InferSettingRanges } from "../../functions/infer/config.ts";
import { defaultSchemaId, extractionSchemas } from "../../functions/schemas/index.ts";
import { schemaIdForKey } from "../../functions/start/schema-routing.ts";
import { checkKeysRouteTo, parseCliArgs, reviewPageFileNames, uploadKeys, uploadPrefixFor, UsageError } from "../../infra/local/cli-args.ts";
import { documentMs, documentReport, ProgressReporter, renderReport, resumeHint, UnfinishedCodes, unfinishedReport, withoutFloatNoise } from "../../infra/local/cli-output.ts";
import { cdkJsonSchemaRouting } from "../../infra/local/twin.ts";
import { resolveModelPath } from "../../models/paths.ts";
import type { DocumentItem } from "../../functions/shared/document-item.ts";

/** The local CLI's pure parts: arguments, object keys, schema routing, the summary and the progress line. */
const dir = mkdtempSync(join(tmpdir(), "llambda-cli-args-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(path: string, text = "x"): string {
  const full = join(dir, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, text);
  return full;
}

const routing = cdkJsonSchemaRouting();
const known = Object.keys(extractionSchemas);

describe("object keys of the given files", () => {
  it("keeps same-named files in different folders apart (as many folders as tell them apart)", () => {
    const a = file("keys/a/same.pdf");
    const b = file("keys/b/same.pdf");
    const keys = uploadKeys([a, b]);
    expect(keys).toEqual(["uploads/a/same.pdf", "uploads/b/same.pdf"]);
    expect(new Set(keys).size).toBe(2);
    expect(uploadKeys([a, b], "uploads/invoices/")).toEqual(["uploads/invoices/a/same.pdf", "uploads/invoices/b/same.pdf"]);
    // Uneven nesting still gives distinct keys; files with a name of their own keep just the name.
    const c = file("keys/b/deeper/same.pdf");
    const other = file("keys/b/other.pdf");
    expect(uploadKeys([a, b, c, other])).toEqual(["uploads/a/same.pdf", "uploads/b/same.pdf", "uploads/deeper/same.pdf", "uploads/other.pdf"]);
    // Same folder name too: one more level.
    const d = file("keys/x/b/same.pdf");
    expect(uploadKeys([b, d])).toEqual(["uploads/keys/b/same.pdf", "uploads/x/b/same.pdf"]);
    // One path the tail of another: the shorter one runs out of folders first and is whole.
    expect(new Set(uploadKeys([b, d, file("b/same.pdf")])).size).toBe(3);
  });

  it("uses the file names when the files share a folder", () => {
    expect(uploadKeys([file("flat/one.pdf"), file("flat/two.pdf")])).toEqual(["uploads/one.pdf", "uploads/two.pdf"]);
    expect(uploadKeys([file("flat/one.pdf")])).toEqual(["uploads/one.pdf"]);
  });

  it("refuses one file given twice, by any path that reaches it, instead of uploading the same key twice", () => {
    const original = file("twice/doc.pdf");
    const link = join(dir, "twice/link.pdf");
    symlinkSync(original, link);
    expect(() => uploadKeys([original, join(dir, "twice/../twice/doc.pdf")])).toThrow(UsageError);
    expect(() => uploadKeys([original, link])).toThrow(/given twice/);
  });
});

describe("schema choice, routed as on AWS", () => {
  it("--schema picks the upload prefix cdk.json routes to it; --prefix gets the schema its routes give", () => {
    for (const [prefix, schemaId] of Object.entries(routing.routes)) {
      expect(uploadPrefixFor({ schema: schemaId }, routing, known)).toBe(prefix);
      expect(uploadPrefixFor({ prefix }, routing, known)).toBe(prefix);
      expect(schemaIdForKey(routing, `${uploadPrefixFor({ schema: schemaId }, routing, known)}x.pdf`)).toBe(schemaId);
    }
    expect(routing.routes["uploads/invoices/"]).toBe("invoice");
    expect(uploadPrefixFor({}, routing, known)).toBe("uploads/");
    expect(uploadPrefixFor({ schema: routing.defaultSchemaId }, routing, known)).toBe("uploads/");
    expect(uploadPrefixFor({ prefix: "uploads/invoices" }, routing, known)).toBe("uploads/invoices/");
  });

  it("is a usage error for an unknown schema, an unrouted one, or a --prefix that routes elsewhere", () => {
    expect(() => uploadPrefixFor({ schema: "nope" }, routing, known)).toThrow(/Unknown schema "nope"; known: generic/);
    expect(() => uploadPrefixFor({ schema: "invoice" }, { routes: {}, defaultSchemaId }, known)).toThrow(/No upload prefix routes to schema invoice/);
    expect(() => uploadPrefixFor({ schema: "generic", prefix: "uploads/invoices/" }, routing, known)).toThrow(/gets schema invoice/);
    // A relative path that itself starts with a routed folder would change the schema: said, not silently done.
    expect(() => checkKeysRouteTo(["uploads/invoices/x.pdf"], "generic", routing)).toThrow(/would get schema invoice/);
    expect(() => checkKeysRouteTo(["uploads/x.pdf"], "generic", routing)).not.toThrow();
  });
});

describe("argument checks", () => {
  const pdf = file("args/doc.pdf");
  const usageError = (args: string[]) => {
    try {
      parseCliArgs(args);
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      return (error as Error).message;
    }
    throw new Error(`accepted: ${args.join(" ")}`);
  };

  it("applies the chunk function's own bounds to --chunk-tokens and the inference function's to the others", () => {
    const { min, max } = chunkTokensRange;
    expect(usageError(["--chunk-tokens", String(min - 1), pdf])).toBe(`--chunk-tokens must be an integer from ${min} to ${max}, got "${min - 1}"`);
    expect(usageError(["--chunk-tokens", String(max + 1), pdf])).toContain(`from ${min} to ${max}`);
    expect(usageError(["--chunk-tokens", "1e3x", pdf])).toContain("--chunk-tokens must be an integer");
    expect(parseCliArgs(["--chunk-tokens", String(min), pdf]).chunkTokens).toBe(min);
    expect(usageError(["--batch-size", String(InferSettingRanges.parallelSequences.max + 1), pdf])).toContain("--batch-size");
    expect(usageError(["--context-size", String(InferSettingRanges.contextSize.min - 1), pdf])).toContain("--context-size");
    expect(usageError(["--max-output-tokens", "0", pdf])).toContain("--max-output-tokens");
    expect(usageError(["--threads", "0", pdf])).toContain("--threads");
  });

  it("turns node:util's parse errors into one line, and checks files and the prefix", () => {
    expect(usageError(["--nope", pdf])).toBe("Unknown option '--nope'.");
    expect(usageError(["--chunk-tokens"])).toMatch(/^Option '--chunk-tokens <value>' argument missing$/);
    expect(usageError([])).toBe("No input files given.");
    expect(usageError([join(dir, "absent.pdf")])).toMatch(/^Not a file: /);
    expect(usageError(["--prefix", "incoming/", pdf])).toMatch(/--prefix must start with uploads\//);
  });

  it("--review takes a directory (made if missing), relative to the working directory; not a file", () => {
    expect(parseCliArgs(["--review", "pages", pdf], dir).review).toBe(join(dir, "pages"));
    expect(parseCliArgs([pdf]).review).toBeUndefined();
    expect(usageError(["--review", pdf, pdf])).toBe(`--review: not a directory: ${pdf}`);
    expect(usageError(["--review", "", pdf])).toBe("--review needs a directory");
    expect(usageError([pdf, "--review"])).toMatch(/^Option '--review <value>' argument missing$/);
  });
});

describe("review page files", () => {
  it("are named after the uploaded file, and after the folders its key keeps when names repeat", () => {
    expect(reviewPageFileNames(["uploads/acme-invoice.pdf", "uploads/scan.png"])).toEqual(["acme-invoice.pdf.review.html", "scan.png.review.html"]);
    const keys = uploadKeys([file("review/a/same.pdf"), file("review/b/same.pdf"), file("review/b/other.pdf")], "uploads/invoices/");
    const names = reviewPageFileNames(keys, "uploads/invoices/");
    expect(names).toEqual(["a_same.pdf.review.html", "b_same.pdf.review.html", "other.pdf.review.html"]);
    expect(new Set(names).size).toBe(keys.length);
  });
});

describe("model default", () => {
  it("falls back to the tiny model only when asked (the CLI and the soak ask; eval does not)", () => {
    const models = join(dir, "models");
    mkdirSync(models, { recursive: true });
    writeFileSync(join(models, "tiny.gguf"), "x");
    const env = { LLAMBDA_MODELS_DIR: models };
    expect(resolveModelPath({ env, allowTiny: true })).toEqual({ path: join(models, "tiny.gguf"), source: "tiny", modelId: "tiny" });
    expect(() => resolveModelPath({ env })).toThrow(/npm run model:pull/);
  });
});

describe("output", () => {
  const item = {
    documentId: "d1",
    kind: "document",
    status: "PARTIAL",
    schemaId: "invoice",
    source: { bucket: "b", key: "uploads/a/same.pdf", pages: 3 },
    chunks: { total: 4, succeeded: 3, failed: 1 },
    failedChunks: [{ index: 2, error: "OutputTruncated", cause: JSON.stringify({ errorType: "OutputTruncated", errorMessage: "cap reached" }) }],
    result: { total: 0.30000000000000004, tiny: 2.0000000000000002e-7, count: 3 },
    timings: { startedAt: "2026-01-01T00:00:00.000Z", completedAt: "2026-01-01T00:00:12.500Z" },
    cost: { total: 0.00061457558 },
    updatedAt: "2026-01-01T00:00:12.500Z",
  } as unknown as DocumentItem;

  it("numbers without float noise", () => {
    expect(withoutFloatNoise({ a: [0.1 + 0.2, 2.0000000000000002e-7, 7] })).toEqual({ a: [0.3, 2e-7, 7] });
  });

  it("a document's time is its own, from its item's timings", () => {
    expect(documentMs(item)).toBe(12_500);
    expect(documentMs({ ...item, timings: { startedAt: item.timings.startedAt, totalMs: 900 } })).toBe(900);
  });

  it("the plain summary has status, pages, chunks, time, failures and the result pretty-printed; --json keeps the item", () => {
    const report = documentReport({ file: "/x/a/same.pdf", key: "uploads/a/same.pdf", documentId: "d1" }, item, { result: item.result, failedChunks: item.failedChunks });
    const text = renderReport(report);
    expect(text).toContain("✓ a/same.pdf: PARTIAL");
    expect(text).toContain("3 pages · 4 chunks (3 succeeded, 1 failed) · 12.5 s");
    expect(text).toContain("failed chunk 2: OutputTruncated: cap reached\n");
    expect(text).toContain('"total": 0.3,');
    expect(text).toContain('"tiny": 2e-7');
    expect(text).not.toContain("0.30000000000000004");
    expect(text).toMatch(/\n {4}\{\n {6}"total"/);
    expect(report.item).toBe(item);
    const failed = renderReport(documentReport({ file: "f", key: "uploads/f.pdf", documentId: "d2" }, {
      ...item, status: "FAILED", result: undefined, failedChunks: undefined, error: "NOT_A_PDF", cause: "NOT_A_PDF: the file does not start with %PDF-",
    } as DocumentItem, undefined));
    expect(failed).toContain("✗ f.pdf: FAILED");
    expect(failed).toContain("error: NOT_A_PDF");
    expect(failed).toContain("cause: NOT_A_PDF: the file does not start with %PDF-");
    expect(failed).not.toContain("result:");
    // With --review: where the page was copied, or that there is none.
    expect(renderReport({ ...report, reviewPage: "/out/same.pdf.review.html" })).toContain("\n  review page: /out/same.pdf.review.html\n");
    expect(renderReport({ ...report, reviewPage: null })).toContain("\n  review page: none\n");
    expect(renderReport(report)).not.toContain("review page");
  });

  it("a document without an item says why and, when a stopped service cut it short, how to finish it; no counts", () => {
    const refused = unfinishedReport(
      { file: "/x/long.txt", key: "uploads/long.txt", documentId: null },
      { status: "FAILED", error: UnfinishedCodes.uploadFailed, cause: "KeyTooLongError: too long" },
    );
    expect(refused).toMatchObject({ documentId: null, status: "FAILED", error: "UPLOAD_FAILED", item: null, result: null });
    expect(renderReport(refused)).toBe("✗ long.txt: FAILED\n  file /x/long.txt · key uploads/long.txt\n  error: UPLOAD_FAILED\n  cause: KeyTooLongError: too long\n");
    const interrupted = unfinishedReport(
      { file: "/x/a.pdf", key: "uploads/a.pdf", documentId: "d6" },
      { status: "INTERRUPTED", error: UnfinishedCodes.serviceStopped, cause: "DynamoDB Local stopped (signal SIGKILL)", resume: resumeHint("/data") },
    );
    expect(interrupted.resume).toBe("run the same command again with --data-dir /data: it uploads the file again and completes the document");
    expect(resumeHint("/data", 2)).toContain("uploads the files again and completes the documents");
    const text = renderReport(interrupted);
    expect(text).toMatch(/^✗ a\.pdf: INTERRUPTED\n {2}file \/x\/a\.pdf · key uploads\/a\.pdf · document d6\n {2}error: LOCAL_SERVICE_STOPPED\n/);
    expect(text).toContain("\n  resume: run the same command again with --data-dir /data: ");
    expect(text).not.toContain("chunks");
  });

  it("a scanned document's summary says how many pages OCR read, which failed and which read with low confidence", () => {
    const scanned = {
      ...item,
      ocr: {
        pages: [1, 3],
        failedPages: [{ page: 2, error: "OCR_TIMEOUT", message: "page 2 was not read within its 120 s" }],
        lowConfidencePages: [3],
      },
    } as DocumentItem;
    const text = renderReport(documentReport({ file: "s.pdf", key: "uploads/s.pdf", documentId: "d3" }, scanned, { result: item.result }));
    expect(text).toContain("3 pages · 2 OCR'd · 4 chunks");
    expect(text).toContain("failed page 2: OCR_TIMEOUT: page 2 was not read within its 120 s\n");
    expect(text).toContain("low OCR confidence: page 3\n");
  });

  it("shows why a document needs review, and --json carries grounding, confidence and the flag, from S3 when offloaded", () => {
    const reviewed = {
      ...item,
      needsReview: true,
      reviewReasons: [{ code: "rejected", path: "total" }, { code: "failed-chunks", chunks: [2] }, { code: "low-confidence-ocr", pages: [1] }],
      resultLocation: { bucket: "b", key: "results/d4/x.json", bytes: 10 },
      result: undefined,
    } as DocumentItem;
    const offloaded = {
      result: item.result,
      provenance: { count: { chunks: [0], pages: [{ start: 1, end: 1 }] } },
      grounding: { count: { match: "exact" as const, page: 1, charStart: 4, charEnd: 5, quote: "3", boxes: [] } },
      confidence: { count: 1 },
    };
    const report = documentReport({ file: "r.pdf", key: "uploads/r.pdf", documentId: "d4" }, reviewed, offloaded);
    expect(report).toMatchObject({ needsReview: true, grounding: offloaded.grounding, confidence: { count: 1 }, provenance: offloaded.provenance });
    expect(report.reviewReasons).toHaveLength(3);
    expect(renderReport(report)).toContain("  needs review: rejected total; failed-chunks chunk 2; low-confidence-ocr page 1\n");
    expect(renderReport(documentReport({ file: "s.pdf", key: "uploads/s.pdf", documentId: "d5" }, { ...item, needsReview: false } as DocumentItem, { result: item.result }))).not.toContain("needs review");
  });

  it("progress shows each running document's state, batches, own elapsed time, tokens/s and an estimate", () => {
    let now = 1_000_000;
    let tokens = 0;
    const written: string[] = [];
    const progress = new ProgressReporter({ write: (text: string) => written.push(text) }, () => tokens, 10_000, () => now);
    progress.executionStarted("arn:1", "a/same.pdf", now);
    progress.stateEntered("arn:1", "Extract fields from chunks");
    progress.mapProgress("arn:1", { done: 0, failed: 0, total: 4 });
    expect(progress.lines()).toEqual(["a/same.pdf: Extract fields from chunks · 0/4 batches · 0.0 s · estimate after the first batch"]);
    now += 10_000;
    tokens += 250;
    progress.mapProgress("arn:1", { done: 1, failed: 0, total: 4 });
    expect(progress.lines()).toEqual(["a/same.pdf: Extract fields from chunks · 1/4 batches · 10.0 s · 25.0 tokens/s · ~30.0 s left"]);
    progress.executionFinished("arn:1");
    expect(progress.lines()).toEqual([]);
  });
});
