/**
 * OCR benchmark: pages of the corpus that have a real text layer are rendered at an OCR resolution and read back by
 * llambda's recogniser (tesseract.js) and, on the same renders in the same run, by native Tesseract (Debian
 * `tesseract-ocr`, one thread) as the baseline. Each is scored against the page's own text layer on normalised text:
 * character error rate (edit distance over the text layer's length) and word recall (text-layer words found).
 * Rendering and recognition are timed separately; every step runs on one core, so pages/s is per core.
 *
 *   npm run bench -- ocr [--json] [--corpus <dir>] [--pages 20] [--dpi 300] [--min-chars 400]
 *
 * Reading order differs between a text layer and OCR on multi-column pages, which raises the CER of both sides
 * alike; word recall does not depend on order.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { getDocument, type PDFDocumentProxy, type PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { Recognizer } from "../functions/ocr/recognizer.ts";
import { pdfjsRenderingOptions, renderPageGrey, type GreyImage } from "../functions/ocr/render-page.ts";
import { textLayerVerdict } from "../functions/chunk/text-layer.ts";
import { corpusFiles, corpusMissingMessage, defaultCorpusDir, quantile, round } from "./corpus.ts";

/** Lower case, compatibility forms folded, quotes and dashes unified, whitespace collapsed. */
export function normaliseForScoring(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\u2018\u2019\u201A\u201B\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, "-")
    .replace(/\s+/g, " ")
    .trim();
}

/** Levenshtein distance (insertions, deletions, substitutions of UTF-16 units), two rows. */
export function editDistance(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = new Uint32Array(b.length + 1).map((_, index) => index);
  let current = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    const code = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (code === b.charCodeAt(j - 1) ? 0 : 1);
      current[j] = Math.min(substitution, previous[j]! + 1, current[j - 1]! + 1);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** Character error rate of `read` against `truth` (both normalised) and the share of truth's words found in `read`. */
export function scoreRead(read: string, truth: string): { cer: number; wordRecall: number } {
  const [r, t] = [normaliseForScoring(read), normaliseForScoring(truth)];
  const readWords = new Map<string, number>();
  for (const word of r.split(" ")) readWords.set(word, (readWords.get(word) ?? 0) + 1);
  const truthWords = t.split(" ").filter((word) => word !== "");
  let found = 0;
  for (const word of truthWords) {
    const left = readWords.get(word) ?? 0;
    if (left > 0) {
      found++;
      readWords.set(word, left - 1);
    }
  }
  return { cer: t.length === 0 ? 0 : editDistance(r, t) / t.length, wordRecall: truthWords.length === 0 ? 1 : found / truthWords.length };
}

interface PageResult {
  file: string;
  page: number;
  chars: number;
  dpi: number;
  renderMs: number;
  ours: { ms: number; cer: number; wordRecall: number; meanConfidence: number };
  native?: { ms: number; cer: number; wordRecall: number };
}

async function pageText(page: PDFPageProxy): Promise<string> {
  const content = await page.getTextContent();
  return content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : " ") : "")).join("");
}

function runNativeTesseract(image: GreyImage, dir: string): { ms: number; text: string } | undefined {
  const file = join(dir, "page.pgm");
  const header = Buffer.from(`P5\n${image.width} ${image.height}\n255\n`, "ascii");
  writeFileSync(file, Buffer.concat([header, image.pixels]));
  const started = performance.now();
  const result = spawnSync("tesseract", [file, "-", "--dpi", String(image.dpi), "-l", "eng", "--oem", "1", "--psm", "3"], {
    env: { ...process.env, OMP_THREAD_LIMIT: "1" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  const ms = performance.now() - started;
  return result.status === 0 ? { ms, text: result.stdout.toString("utf8") } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      corpus: { type: "string", default: defaultCorpusDir },
      pages: { type: "string", default: "20" },
      dpi: { type: "string", default: "300" },
      "min-chars": { type: "string", default: "400" },
    },
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!existsSync(values.corpus)) {
    log(corpusMissingMessage(values.corpus, "no pages to OCR"));
    return 2;
  }
  const wanted = Number(values.pages);
  const dpi = Number(values.dpi);
  const minChars = Number(values["min-chars"]);
  const nativeAvailable = !spawnSync("tesseract", ["--version"]).error;
  if (!nativeAvailable) log("tesseract not found: install tesseract-ocr (Debian: sudo apt-get install tesseract-ocr) for the baseline.");
  const passwordsFile = join(values.corpus, "pdfjs-passwords.json");
  const passwords = existsSync(passwordsFile) ? (JSON.parse(readFileSync(passwordsFile, "utf8")) as Record<string, string>) : {};
  // Real documents first (reports, forms, invoices), then pdf.js's regression files; at most two pages of a file.
  const files = [
    ...corpusFiles(values.corpus, /\.pdf$/i).filter((file) => !file.includes(`${join(values.corpus, "pdfjs")}`)),
    ...corpusFiles(values.corpus, /\.pdf$/i).filter((file) => file.includes(`${join(values.corpus, "pdfjs")}`)),
  ];
  const recognizer = await Recognizer.create();
  const scratch = mkdtempSync(join(tmpdir(), "llambda-bench-ocr-"));
  const results: PageResult[] = [];
  try {
    for (const file of files) {
      if (results.length >= wanted) break;
      const name = relative(values.corpus, file);
      if (passwords[name.split("/").pop()!] !== undefined) continue;
      let doc: PDFDocumentProxy;
      try {
        doc = await getDocument({ data: new Uint8Array(readFileSync(file)), ...pdfjsRenderingOptions() }).promise;
      } catch {
        continue;
      }
      const canvasFactory = (doc as unknown as { canvasFactory: Parameters<typeof renderPageGrey>[1] }).canvasFactory;
      let taken = 0;
      for (let number = 1; number <= doc.numPages && taken < 2 && results.length < wanted; number++) {
        const page = await doc.getPage(number);
        const { width, height } = page.getViewport({ scale: 1 });
        const truth = await pageText(page);
        if (textLayerVerdict(truth, { widthPt: width, heightPt: height }) !== "usable") continue;
        if (truth.replace(/\s/g, "").length < minChars) continue;
        const renderStarted = performance.now();
        const image = await renderPageGrey(page, canvasFactory, { dpi });
        const renderMs = performance.now() - renderStarted;
        const oursStarted = performance.now();
        const read = await recognizer.recognize(image);
        const oursMs = performance.now() - oursStarted;
        const native = nativeAvailable ? runNativeTesseract(image, scratch) : undefined;
        const result: PageResult = {
          file: name,
          page: number,
          chars: normaliseForScoring(truth).length,
          dpi: image.dpi,
          renderMs: Math.round(renderMs),
          ours: { ms: Math.round(oursMs), ...scoreRead(read.text, truth), meanConfidence: Math.round(read.meanConfidence) },
          ...(native ? { native: { ms: Math.round(native.ms), ...scoreRead(native.text, truth) } } : {}),
        };
        results.push(result);
        taken++;
        log(
          `${name} p${number}: render ${result.renderMs} ms; ours CER ${round(result.ours.cer * 100, 1)} % in ${result.ours.ms} ms` +
            (result.native ? `; native CER ${round(result.native.cer * 100, 1)} % in ${result.native.ms} ms` : ""),
        );
        page.cleanup();
      }
      await doc.destroy();
    }
  } finally {
    await recognizer.close();
    rmSync(scratch, { recursive: true, force: true });
  }

  const median = (pick: (result: PageResult) => number | undefined) =>
    quantile(results.map(pick).filter((value): value is number => value !== undefined), 0.5);
  const perSecond = (ms: number) => (Number.isFinite(ms) && ms > 0 ? round(1000 / ms, 3) : null);
  const summary = {
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length },
    pages: results.length,
    dpi,
    ours: {
      medianCer: round(median((r) => r.ours.cer), 4),
      medianWordRecall: round(median((r) => r.ours.wordRecall), 4),
      pagesPerSecondPerCore: perSecond(median((r) => r.ours.ms)),
    },
    native: nativeAvailable
      ? {
          medianCer: round(median((r) => r.native?.cer), 4),
          medianWordRecall: round(median((r) => r.native?.wordRecall), 4),
          pagesPerSecondPerCore: perSecond(median((r) => r.native?.ms)),
        }
      : null,
    renderPagesPerSecondPerCore: perSecond(median((r) => r.renderMs)),
  };
  log(
    `\n${summary.pages} pages at ${dpi} dpi. Rendering: ${summary.renderPagesPerSecondPerCore} pages/s per core.\n` +
      `tesseract.js: median CER ${round(summary.ours.medianCer * 100, 2)} %, word recall ${round(summary.ours.medianWordRecall * 100, 1)} %, ` +
      `${summary.ours.pagesPerSecondPerCore} pages/s per core.` +
      (summary.native
        ? `\nnative Tesseract (baseline, same renders): median CER ${round(summary.native.medianCer * 100, 2)} %, word recall ` +
          `${round(summary.native.medianWordRecall * 100, 1)} %, ${summary.native.pagesPerSecondPerCore} pages/s per core.`
        : ""),
  );
  if (values.json) process.stdout.write(`${JSON.stringify({ summary, pages: results }, null, 1)}\n`);
  return results.length > 0 ? 0 : 1;
}
