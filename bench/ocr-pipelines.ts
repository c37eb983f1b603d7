/**
 * OCR pipelines: how many pages the OCR function reads per second with one page at a time (its default on 2,048 MB)
 * and with two (what two vCPUs, 3,584 MB, would run), on the same pages in one run. A scan is made from the repository's sample invoice (each page
 * rendered and put back as a picture), repeated to --pages pages, then read by `ocrPages` (functions/ocr) at 300 dpi
 * with each concurrency in turn, in the order 1, 2, 2, 1 so that a drift of the machine's speed falls on both.
 *
 *   npm run bench -- ocr-pipelines [--json] [--pages 8] [--dpi 300]
 *
 * Prints a summary on stderr; with --json one JSON document on stdout. Needs no corpus. Takes a minute or two.
 */
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PDFDocument } from "pdf-lib";
import { ocrPages } from "../functions/ocr/ocr-pages.ts";
import { REPO_ROOT } from "../infra/repo-root.ts";
import { round } from "./corpus.ts";
import { scanOf } from "./scans.ts";
import "../infra/dev-worker-bundle.ts"; // from source: the render worker is bundled in memory

/** A scan of `pages` pages: the sample invoice's pages, scanned at 150 dpi, repeated. */
async function sampleScan(pages: number): Promise<Uint8Array> {
  const scan = await PDFDocument.load(await scanOf(new Uint8Array(readFileSync(join(REPO_ROOT, "samples", "acme-invoice.pdf"))), 150));
  const out = await PDFDocument.create();
  for (let i = 0; i < pages; i++) {
    const [page] = await out.copyPages(scan, [i % scan.getPageCount()]);
    out.addPage(page!);
  }
  return out.save();
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "boolean", default: false }, pages: { type: "string", default: "8" }, dpi: { type: "string", default: "300" } },
  });
  const pageCount = Number(values.pages);
  const dpi = Number(values.dpi);
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);
  const bytes = await sampleScan(pageCount);
  const pages = Array.from({ length: pageCount }, (_, i) => i + 1);
  const runs: Array<{ concurrency: number; seconds: number; pagesPerSecond: number; failed: number }> = [];
  for (const concurrency of [1, 2, 2, 1]) {
    const started = performance.now();
    const { outcomes } = await ocrPages({ kind: "pdf", bytes }, pages, {
      dpi,
      maxPixels: 40_000_000,
      language: "eng",
      pageTimeoutMs: 300_000,
      deadline: Number.MAX_SAFE_INTEGER,
      concurrency,
    });
    const seconds = (performance.now() - started) / 1000;
    const failed = outcomes.filter((outcome) => "error" in outcome).length;
    runs.push({ concurrency, seconds: round(seconds, 2), pagesPerSecond: round(pageCount / seconds, 3), failed });
    log(`concurrency ${concurrency}: ${pageCount} pages in ${seconds.toFixed(1)} s (${(pageCount / seconds).toFixed(3)} pages/s), ${failed} failed`);
  }
  const mean = (c: number) => runs.filter((run) => run.concurrency === c).reduce((sum, run) => sum + run.pagesPerSecond, 0) / 2;
  const summary = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    pages: pageCount,
    dpi,
    runs,
    pagesPerSecond: { one: round(mean(1), 3), two: round(mean(2), 3) },
    speedup: round(mean(2) / mean(1), 2),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  log(`two pipelines read ${summary.speedup}× the pages per second of one (${summary.cores} cores); peak RSS ${summary.peakRssMb} MB`);
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
