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
import { chunkFile, type ChunkOutcome } from "./chunk-file.ts";
import { IsolatedExtractor } from "../functions/chunk/isolated-extract.ts";
import "../infra/dev-worker-bundle.ts"; // from source: the extraction worker is bundled in memory
import { createCl100kTokenizer } from "../functions/chunk/tokenizer.ts";
import { corpusFiles, corpusMissingMessage, defaultCorpusDir, quantile, round } from "./corpus.ts";
import { syntheticPdf } from "./synthetic-pdf.ts";

const repoRoot = resolve(import.meta.dirname, "..");

export interface FileResult {
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
  const results: FileResult[] = [];
  for (const [i, file] of files.entries()) {
    const ours = await chunkFile(file, { maxTokens, tokenizer, extractor, timeoutMs: 120_000, ocrMode: "never" }); // the chunker, not OCR
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

  const corpus = summarizeCorpus(results, workerStarts);
  if (corpus === null) log(corpusMissingMessage(resolve(values.corpus), "the corpus comparison with pdftotext is skipped, only the synthetic document runs"));

  // ---- Synthetic document: each side in its own process, so peak RSS is its own.
  const syntheticPages = Number(values.pages);
  const dir = mkdtempSync(join(tmpdir(), "llambda-bench-"));
  const pdfPath = join(dir, `synthetic-${syntheticPages}.pdf`);
  writeFileSync(pdfPath, await syntheticPdf(syntheticPages));
  log(`Synthetic ${syntheticPages}-page PDF: ${(statSync(pdfPath).size / 1e6).toFixed(1)} MB`);
  const oursRun = measureProcess(process.execPath, ["--import", "tsx", join(repoRoot, "bench/chunk-cli.ts"), "--json", pdfPath]);
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
    corpus,
    synthetic: {
      pages: syntheticPages,
      ours: { status: oursLine.status, chunks: oursLine.chunks, tokens: oursLine.tokens, seconds: round(oursRun.ms / 1000), peakRssMb: oursRun.peakRssMb },
      pdftotext: { seconds: round(popplerRun.ms / 1000), peakRssMb: popplerRun.peakRssMb },
      oursIdlePeakRssMb: idleRun.peakRssMb,
    },
  };
  const targets = judgeTargets(corpus, report.synthetic);
  for (const line of describeCorpus(corpus)) log(line);
  log(`Synthetic ${syntheticPages} pages: ours ${report.synthetic.ours.seconds} s, peak ${report.synthetic.ours.peakRssMb} MB (process idle peak ${report.synthetic.oursIdlePeakRssMb} MB); pdftotext ${report.synthetic.pdftotext.seconds} s, peak ${report.synthetic.pdftotext.peakRssMb} MB`);
  log(describeTargets(targets, corpus !== null));
  if (values.json) process.stdout.write(`${JSON.stringify({ ...report, targets }, null, 2)}\n`);
  return 0;
}

export type CorpusSummary = NonNullable<ReturnType<typeof summarizeCorpus>>;

/** A rate, or null when nothing was timed (no files compared): never NaN or Infinity in the report. */
const rate = (amount: number, seconds: number): number | null => (seconds > 0 ? round(amount / seconds) : null);
const ratio = (numerator: number, denominator: number, digits: number): number | null => (denominator > 0 ? round(numerator / denominator, digits) : null);
const quantiles = (values: number[]) =>
  values.length === 0 ? null : { p10: round(quantile(values, 0.1), 3), p50: round(quantile(values, 0.5), 3), p90: round(quantile(values, 0.9), 3) };

/** The corpus part of the report; null when no corpus file was read (no corpus: nothing to report, not zeros). */
export function summarizeCorpus(results: FileResult[], workerStarts: number[]) {
  if (results.length === 0) return null;
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
  for (const r of results) {
    const outcome = r.ours.status === "ok" ? "ok" : (r.ours.code ?? "error");
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  const oursTokens = sum(compared, (r) => r.ours.tokens);
  const popplerTokens = sum(compared, (r) => r.pdftotext.tokens);
  return {
    files: results.length,
    outcomes,
    comparedFiles: both.length,
    pages,
    megabytes: round(megabytes),
    ours: { seconds: round(oursSeconds), pagesPerSecond: rate(pages, oursSeconds), megabytesPerSecond: rate(megabytes, oursSeconds) },
    pdftotext: { seconds: round(popplerSeconds), pagesPerSecond: rate(pages, popplerSeconds), megabytesPerSecond: rate(megabytes, popplerSeconds) },
    throughputRatio: ratio(popplerSeconds, oursSeconds, 3),
    textYield: { pdftotextWithText: withText.length, oursAlso: oursToo.length, share: ratio(oursToo.length, withText.length, 4) },
    tokens: { ours: oursTokens, pdftotext: popplerTokens, totalRatio: ratio(oursTokens, popplerTokens, 4), perFileRatio: quantiles(tokenRatios) },
    freshWorkerOnePageMs: workerStarts.length > 0 ? round(quantile(workerStarts, 0.5), 0) : null,
    tokenizer: {
      megabytes: round(tokenizedMb),
      seconds: round(tokenizeSeconds),
      megabytesPerSecond: rate(tokenizedMb, tokenizeSeconds),
      tokensPerSecond: tokenizeSeconds > 0 ? Math.round(sum(results, (r) => r.pdftotext.tokens) / tokenizeSeconds) : null,
    },
    missedText: withText.filter((r) => r.ours.status !== "ok").map((r) => ({ file: r.file, code: r.ours.code })),
  };
}

/** The goals the chunker is held to; null where the run measured nothing to judge (no corpus, or a short document). */
export function judgeTargets(corpus: CorpusSummary | null, synthetic: { pages: number; ours: { peakRssMb: number } }) {
  const judged = (value: number | null | undefined, test: (n: number) => boolean) => (value === null || value === undefined ? null : test(value));
  return {
    textYieldAtLeast98Percent: judged(corpus?.textYield.share, (share) => share >= 0.98),
    tokensWithin15Percent: judged(corpus?.tokens.totalRatio, (r) => Math.abs(r - 1) <= 0.15),
    throughputAtLeastOneThirdOfPdftotext: judged(corpus?.throughputRatio, (r) => r >= 1 / 3),
    // Judged only on a document of at least 1,000 pages.
    thousandPagesUnder1GB: synthetic.pages >= 1000 ? synthetic.ours.peakRssMb < 1024 : null,
  };
}

const shown = (value: number | null, unit = ""): string => (value === null ? "n/a (nothing compared)" : `${value}${unit}`);

/** The human summary of the corpus part; one line saying it did not run when there is no corpus. */
export function describeCorpus(corpus: CorpusSummary | null): string[] {
  if (corpus === null) return ["Corpus: not measured (no corpus, see above)."];
  return [
    `Corpus: ${corpus.files} files (${JSON.stringify(corpus.outcomes)}); compared ${corpus.comparedFiles} files, ${corpus.pages} pages, ${corpus.megabytes} MB`,
    `  ours      ${shown(corpus.ours.pagesPerSecond, " pages/s")}, ${shown(corpus.ours.megabytesPerSecond, " MB/s")}`,
    `  pdftotext ${shown(corpus.pdftotext.pagesPerSecond, " pages/s")}, ${shown(corpus.pdftotext.megabytesPerSecond, " MB/s")}  (ours/pdftotext throughput ${shown(corpus.throughputRatio)})`,
    `  text yield: ${corpus.textYield.oursAlso}/${corpus.textYield.pdftotextWithText} files with pdftotext text also yield text here` +
      (corpus.textYield.share === null ? "" : ` (${(corpus.textYield.share * 100).toFixed(1)} %)`),
    `  tokens: ours/pdftotext ${shown(corpus.tokens.totalRatio)} in total; per file p10/p50/p90 ${corpus.tokens.perFileRatio ? JSON.stringify(corpus.tokens.perFileRatio) : "n/a"}`,
    `  a fresh worker + a one-page PDF (per-document overhead in the function): median ${shown(corpus.freshWorkerOnePageMs, " ms")}`,
    `  tokenizer: ${shown(corpus.tokenizer.megabytesPerSecond, " MB/s")}, ${shown(corpus.tokenizer.tokensPerSecond, " tokens/s")}`,
  ];
}

/** One line per goal: met, missed, or not judged (and why), instead of a bare `false` for what was never measured. */
export function describeTargets(targets: ReturnType<typeof judgeTargets>, corpusRead = false): string {
  const names: Record<keyof typeof targets, string> = {
    textYieldAtLeast98Percent: "text yield ≥ 98 % of pdftotext's files",
    tokensWithin15Percent: "tokens within 15 % of pdftotext's",
    throughputAtLeastOneThirdOfPdftotext: "throughput ≥ 1/3 of pdftotext's",
    thousandPagesUnder1GB: "1,000 pages under 1 GB peak memory",
  };
  const lines = (Object.keys(names) as Array<keyof typeof targets>).map((key) => {
    const value = targets[key];
    const notJudged =
      key === "thousandPagesUnder1GB"
        ? "not judged (needs --pages 1000 or more)"
        : corpusRead
          ? "not judged (no file of the corpus to compare it on)"
          : "not judged (no corpus)";
    const verdict = value === null ? notJudged : value ? "met" : "MISSED";
    return `  ${names[key]}: ${verdict}`;
  });
  return ["Goals:", ...lines].join("\n");
}
