/**
 * Chunker benchmark: extraction + chunking throughput over the shared corpus, side by side with poppler's pdftotext
 * on the same files in the same run, text yield and token totals against pdftotext's text, tokenizer throughput, and
 * a synthetic 1,000-page PDF (time and peak memory, each side in its own process).
 *
 *   npm run bench -- chunker [--json] [--corpus <dir>] [--pages 1000] [--limit <files>]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chunkFile, type ChunkOutcome } from "../functions/chunk/inspect.ts";
import { IsolatedExtractor } from "../functions/chunk/isolated-extract.ts";
import { createCl100kTokenizer } from "../functions/chunk/tokenizer.ts";
import { corpusFiles, defaultCorpusDir, quantile, round } from "./corpus.ts";
import { syntheticPdf } from "./synthetic-pdf.ts";

const repoRoot = resolve(import.meta.dirname, "..");

interface FileResult {
  file: string;
  bytes: number;
  ours: ChunkOutcome;
  pdftotext: { ok: boolean; ms: number; chars: number; tokens: number; tokenizeMs: number };
}

function runPdftotext(file: string): { ok: boolean; ms: number; text: string } {
  const started = performance.now();
  const result = spawnSync("pdftotext", ["-enc", "UTF-8", "-q", file, "-"], { timeout: 120_000, maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - started;
  return { ok: result.status === 0, ms, text: result.status === 0 ? result.stdout.toString("utf-8") : "" };
}

/** Peak RSS and wall time of a command in its own process, from GNU time. */
function measureProcess(command: string, args: string[]): { ms: number; peakRssMb: number; stdout: string } {
  const started = performance.now();
  const result = spawnSync("/usr/bin/time", ["-f", "MAXRSS_KB=%M", command, ...args], { maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - started;
  const match = /MAXRSS_KB=(\d+)/.exec(result.stderr.toString());
  if (result.status !== 0 || !match) throw new Error(`${command} failed: ${result.stderr.toString().slice(-500)}`);
  return { ms, peakRssMb: Math.round(Number(match[1]) / 1024), stdout: result.stdout.toString() };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      corpus: { type: "string", default: defaultCorpusDir },
      pages: { type: "string", default: "1000" },
      limit: { type: "string" },
      "chunk-tokens": { type: "string", default: "1000" },
    },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (spawnSync("pdftotext", ["-v"]).error) {
    log("pdftotext not found: install poppler-utils (Debian/Ubuntu: sudo apt-get install poppler-utils); it is the baseline.");
    return 2;
  }
  const maxTokens = Number(values["chunk-tokens"]);
  const tokenizer = createCl100kTokenizer();
  // A reused worker: extraction runs bounded in a worker thread, as in the chunk function, without paying a worker
  // start per file (the function starts one per document: measured separately below).
  const extractor = new IsolatedExtractor({ memoryMb: 1024, reuse: true });
  const workerStarts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = new IsolatedExtractor({ memoryMb: 1024 });
    const started = performance.now();
    await fresh.extract(await syntheticPdf(1), { key: "one.pdf", timeoutMs: 60_000 });
    workerStarts.push(performance.now() - started);
    await fresh.close();
  }

  // ---- Corpus: ours and pdftotext on the same files, alternating, one at a time.
  const files = corpusFiles(values.corpus, /\.pdf$/i).slice(0, values.limit ? Number(values.limit) : undefined);
  if (files.length === 0) log(`No corpus at ${values.corpus}: the corpus part is skipped.`);
  const results: FileResult[] = [];
  for (const [i, file] of files.entries()) {
    const ours = await chunkFile(file, { maxTokens, tokenizer, extractor, timeoutMs: 120_000 });
    const baseline = runPdftotext(file);
    const tokenizeStarted = performance.now();
    const tokens = baseline.text ? tokenizer.count(baseline.text) : 0;
    const tokenizeMs = performance.now() - tokenizeStarted;
    results.push({
      file,
      bytes: ours.bytes,
      ours,
      pdftotext: { ok: baseline.ok, ms: baseline.ms, chars: baseline.text.replace(/\s/g, "").length, tokens, tokenizeMs },
    });
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${files.length} files`);
  }

  const both = results.filter((r) => r.ours.status === "ok" && r.pdftotext.ok);
  const sum = (rs: FileResult[], f: (r: FileResult) => number) => rs.reduce((total, r) => total + f(r), 0);
  const pages = sum(both, (r) => r.ours.pages);
  const megabytes = sum(both, (r) => r.bytes) / 1e6;
  const oursSeconds = sum(both, (r) => r.ours.ms) / 1000;
  const popplerSeconds = sum(both, (r) => r.pdftotext.ms) / 1000;
  // "pdftotext extracts text": at least 20 non-space characters (a stray page number is not text).
  const withText = results.filter((r) => r.pdftotext.chars >= 20);
  const oursToo = withText.filter((r) => r.ours.status === "ok");
  const compared = oursToo.filter((r) => r.pdftotext.tokens > 0);
  const tokenRatios = compared.map((r) => r.ours.tokens / r.pdftotext.tokens);
  const tokenizedMb = sum(results, (r) => r.pdftotext.chars) / 1e6;
  const tokenizeSeconds = sum(results, (r) => r.pdftotext.tokenizeMs) / 1000;
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.ours.status === "ok" ? "ok" : (r.ours.code ?? "error")] = (outcomes[r.ours.status === "ok" ? "ok" : (r.ours.code ?? "error")] ?? 0) + 1;

  // ---- Synthetic document: each side in its own process, so peak RSS is its own.
  const syntheticPages = Number(values.pages);
  const dir = mkdtempSync(join(tmpdir(), "llambda-bench-"));
  const pdfPath = join(dir, `synthetic-${syntheticPages}.pdf`);
  writeFileSync(pdfPath, await syntheticPdf(syntheticPages));
  log(`Synthetic ${syntheticPages}-page PDF: ${(statSync(pdfPath).size / 1e6).toFixed(1)} MB`);
  const oursRun = measureProcess(process.execPath, ["--import", "tsx", join(repoRoot, "functions/chunk/cli.ts"), "--json", pdfPath]);
  const oursLine = JSON.parse(oursRun.stdout.trim()) as ChunkOutcome;
  const popplerRun = measureProcess("pdftotext", ["-enc", "UTF-8", "-q", pdfPath, join(dir, "out.txt")]);
  const idleRun = measureProcess(process.execPath, ["--import", "tsx", "-e", "await import('./functions/chunk/tokenizer.ts'); await import('./functions/chunk/isolated-extract.ts');"]);
  rmSync(dir, { recursive: true, force: true });
  tokenizer.dispose();
  await extractor.close();

  const report = {
    benchmark: "chunker",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: availableParallelism(), node: process.version, pdftotext: spawnSync("pdftotext", ["-v"], { encoding: "utf-8" }).stderr.split("\n")[0] || "unknown" },
    settings: { chunkTokens: maxTokens },
    corpus: {
      files: results.length,
      outcomes,
      comparedFiles: both.length,
      pages,
      megabytes: round(megabytes),
      ours: { seconds: round(oursSeconds), pagesPerSecond: round(pages / oursSeconds), megabytesPerSecond: round(megabytes / oursSeconds) },
      pdftotext: { seconds: round(popplerSeconds), pagesPerSecond: round(pages / popplerSeconds), megabytesPerSecond: round(megabytes / popplerSeconds) },
      throughputRatio: round(popplerSeconds / oursSeconds, 3),
      textYield: { pdftotextWithText: withText.length, oursAlso: oursToo.length, share: round(oursToo.length / Math.max(1, withText.length), 4) },
      tokens: {
        ours: sum(compared, (r) => r.ours.tokens),
        pdftotext: sum(compared, (r) => r.pdftotext.tokens),
        totalRatio: round(sum(compared, (r) => r.ours.tokens) / Math.max(1, sum(compared, (r) => r.pdftotext.tokens)), 4),
        perFileRatio: { p10: round(quantile(tokenRatios, 0.1), 3), p50: round(quantile(tokenRatios, 0.5), 3), p90: round(quantile(tokenRatios, 0.9), 3) },
      },
      freshWorkerOnePageMs: round(quantile(workerStarts, 0.5), 0),
      tokenizer: { megabytes: round(tokenizedMb), seconds: round(tokenizeSeconds), megabytesPerSecond: round(tokenizedMb / tokenizeSeconds), tokensPerSecond: Math.round(sum(results, (r) => r.pdftotext.tokens) / tokenizeSeconds) },
      missedText: withText.filter((r) => r.ours.status !== "ok").map((r) => ({ file: r.file, code: r.ours.code })),
    },
    synthetic: {
      pages: syntheticPages,
      ours: { status: oursLine.status, chunks: oursLine.chunks, tokens: oursLine.tokens, seconds: round(oursRun.ms / 1000), peakRssMb: oursRun.peakRssMb },
      pdftotext: { seconds: round(popplerRun.ms / 1000), peakRssMb: popplerRun.peakRssMb },
      oursIdlePeakRssMb: idleRun.peakRssMb,
    },
  };
  const targets = {
    textYieldAtLeast98Percent: report.corpus.textYield.share >= 0.98,
    tokensWithin15Percent: Math.abs(report.corpus.tokens.totalRatio - 1) <= 0.15,
    throughputAtLeastOneThirdOfPdftotext: report.corpus.throughputRatio >= 1 / 3,
    // Judged only on a document of at least 1,000 pages (null otherwise).
    thousandPagesUnder1GB: syntheticPages >= 1000 ? report.synthetic.ours.peakRssMb < 1024 : null,
  };
  log(`Corpus: ${results.length} files (${JSON.stringify(outcomes)}); compared ${both.length} files, ${pages} pages, ${report.corpus.megabytes} MB`);
  log(`  ours      ${report.corpus.ours.pagesPerSecond} pages/s, ${report.corpus.ours.megabytesPerSecond} MB/s`);
  log(`  pdftotext ${report.corpus.pdftotext.pagesPerSecond} pages/s, ${report.corpus.pdftotext.megabytesPerSecond} MB/s  (ours/pdftotext throughput ${report.corpus.throughputRatio})`);
  log(`  text yield: ${oursToo.length}/${withText.length} files with pdftotext text also yield text here (${(report.corpus.textYield.share * 100).toFixed(1)} %)`);
  log(`  tokens: ours/pdftotext ${report.corpus.tokens.totalRatio} in total; per file p10/p50/p90 ${JSON.stringify(report.corpus.tokens.perFileRatio)}`);
  log(`  a fresh worker + a one-page PDF (per-document overhead in the function): median ${report.corpus.freshWorkerOnePageMs} ms`);
  log(`  tokenizer: ${report.corpus.tokenizer.megabytesPerSecond} MB/s, ${report.corpus.tokenizer.tokensPerSecond} tokens/s`);
  log(`Synthetic ${syntheticPages} pages: ours ${report.synthetic.ours.seconds} s, peak ${report.synthetic.ours.peakRssMb} MB (process idle peak ${report.synthetic.oursIdlePeakRssMb} MB); pdftotext ${report.synthetic.pdftotext.seconds} s, peak ${report.synthetic.pdftotext.peakRssMb} MB`);
  log(`Targets: ${JSON.stringify(targets)}`);
  if (values.json) process.stdout.write(`${JSON.stringify({ ...report, targets }, null, 2)}\n`);
  return 0;
}
