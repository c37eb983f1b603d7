/**
 * OCR benchmark: pages of the corpus that have a real text layer are rendered at an OCR resolution and read back by
 * llambda's recogniser (tesseract.js) and, on the same renders in the same run, by native Tesseract (the `tesseract`
 * command, one thread) twice: with the very model file tesseract.js uses (4.0.0 best_int eng, from
 * @tesseract.js-data/eng) and with the system's own eng data (Debian: tessdata_fast). Each read is scored against the
 * page's own text layer on normalised text (see `scoreRead`). Rendering and recognition are timed separately, in wall
 * and CPU time; every step runs on one thread, so pages per CPU second is pages/s per core.
 *
 *   npm run bench -- ocr [--json] [--corpus <dir>] [--pages 20] [--dpi 300] [--min-chars 400]
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import { getDocument, OPS, type PDFDocumentProxy, type PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { Recognizer } from "../functions/ocr/recognizer.ts";
import { pdfjsRenderingOptions, renderPageGrey, type GreyImage } from "../functions/shared/page-render/render-page.ts";
import { textLayerVerdict } from "../functions/chunk/text-layer.ts";
import { editDistance } from "../functions/shared/edit-distance.ts";
import { corpusFiles, corpusMissingMessage, defaultCorpusDir, quantile, round, sum } from "./corpus.ts";

/** Lower case, compatibility forms folded, quotes and dashes unified, whitespace collapsed. */
export function normaliseForScoring(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    // Two single quotes are how some PDFs draw a double one.
    .replace(/''/g, '"')
    .replace(/[\u2018\u2019\u201A\u201B\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, "-")
    .replace(/\s+/g, " ")
    .trim();
}

/** How a read compares with the truth; rates are 0–1 (a CER can exceed 1 when the read adds much text). */
export interface ReadScore {
  /** Order-free character error rate: edits between the two texts' words, paired regardless of order (below). */
  cer: number;
  /** Ordinary character error rate: edit distance of the whole texts, in their reading orders, over the truth's length. */
  cerInOrder: number;
  /** Share of the truth's words (with repeats) found verbatim in the read. */
  wordRecall: number;
}

const words = (normalised: string): string[] => (normalised === "" ? [] : normalised.split(" "));

/**
 * The units the order-free CER pairs: runs of letters and digits, and every other character on its own. Spaces are
 * not text: a space OCR adds or drops next to a symbol ("€ 399,00" in the text layer, "€399,00" read) is not a misread
 * character, and pairing whitespace-separated words would charge it as a whole word deleted and another inserted.
 */
export const scoringTokens = (normalised: string): string[] => normalised.match(/[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu) ?? [];

/**
 * Scores a read against the truth (both normalised first).
 *
 * The order-free CER exists because a PDF's text layer and OCR often read a page in different orders (two columns,
 * tables read row by row or cell by cell, a header placed last in the content stream): the ordinary CER then counts
 * whole lines as deleted in one place and inserted in another and measures layout order, not recognition. Here the
 * tokens of the two texts (runs of letters and digits, and single other characters: `scoringTokens`) are paired one
 * to one, regardless of where they are: identical words first, then the
 * remaining pairs with the fewest edits between them. The errors are the edits within each pair (a misread character
 * costs 1, as in the ordinary CER), plus every character of a truth word left without a partner (deletions: an empty
 * read scores 100 %) and of a read word left without one (insertions: junk costs its length), over the number of the
 * truth's characters in words (spaces are not counted on either side). A word that OCR splits or merges costs more than
 * in the ordinary CER ("invoice" read as "in voice" costs 4 instead of 1), so the score errs on the strict side there.
 * The pairing is greedy (smallest edit distance first, ties in the truth's order), which can only overstate the optimum.
 */
export function scoreRead(read: string, truth: string): ReadScore {
  const [r, t] = [normaliseForScoring(read), normaliseForScoring(truth)];
  const readWords = scoringTokens(r);
  const truthWords = scoringTokens(t);

  // Identical words first: what is left over on each side is misread, missing or extra.
  const unpairedRead = new Map<string, number>();
  for (const word of readWords) unpairedRead.set(word, (unpairedRead.get(word) ?? 0) + 1);
  const leftTruth: string[] = [];
  for (const word of truthWords) {
    const left = unpairedRead.get(word) ?? 0;
    if (left > 0) unpairedRead.set(word, left - 1);
    else leftTruth.push(word);
  }
  const leftRead = [...unpairedRead].flatMap(([word, count]) => Array<string>(count).fill(word));

  // Then pair what is left, fewest edits first (a counting sort of all pairs by distance, stable so that ties go in
  // the truth's order). The distances fit in 16 bits for any word a page can hold.
  const columns = leftRead.length;
  const distances = new Uint16Array(leftTruth.length * columns);
  const perDistance = new Uint32Array(0x10001);
  for (let i = 0; i < leftTruth.length; i++) {
    for (let j = 0; j < columns; j++) {
      const distance = Math.min(editDistance(leftTruth[i]!, leftRead[j]!), 0xffff);
      distances[i * columns + j] = distance;
      perDistance[distance + 1]!++;
    }
  }
  for (let distance = 1; distance < perDistance.length; distance++) perDistance[distance]! += perDistance[distance - 1]!;
  const pairsByDistance = new Uint32Array(distances.length);
  distances.forEach((distance, pair) => (pairsByDistance[perDistance[distance]!++] = pair));
  const truthPaired = new Uint8Array(leftTruth.length);
  const readPaired = new Uint8Array(columns);
  let errors = 0;
  for (const pair of pairsByDistance) {
    const [i, j] = [Math.floor(pair / columns), pair % columns];
    if (truthPaired[i] || readPaired[j]) continue;
    truthPaired[i] = readPaired[j] = 1;
    errors += distances[pair]!;
  }
  leftTruth.forEach((word, i) => (errors += truthPaired[i] ? 0 : word.length));
  leftRead.forEach((word, j) => (errors += readPaired[j] ? 0 : word.length));

  const truthChars = truthWords.reduce((sum, word) => sum + word.length, 0);
  return {
    cer: truthChars === 0 ? (readWords.length === 0 ? 0 : 1) : errors / truthChars,
    cerInOrder: t.length === 0 ? (r.length === 0 ? 0 : 1) : editDistance(r, t) / t.length,
    wordRecall: wordRecall(words(r), words(t)),
  };
}

/** Share of the truth's whitespace-separated words (with repeats) found verbatim in the read. */
function wordRecall(read: readonly string[], truth: readonly string[]): number {
  if (truth.length === 0) return 1;
  const left = new Map<string, number>();
  for (const word of read) left.set(word, (left.get(word) ?? 0) + 1);
  let found = 0;
  for (const word of truth) {
    const count = left.get(word) ?? 0;
    if (count > 0) {
      left.set(word, count - 1);
      found++;
    }
  }
  return found / truth.length;
}

/**
 * Why a page's text layer is not fair ground truth for its render, or undefined when it is. Text drawn invisibly
 * (render modes 3 and 7: the searchable layer of a scan, which is another OCR's output) is in the text layer but not in
 * the picture, so OCR would be blamed for not reading it. Counted in glyphs other than spaces; a few (a hidden label)
 * are tolerated. (Text placed outside the page pdf.js already leaves out of the text layer.)
 */
export async function groundTruthProblem(page: PDFPageProxy): Promise<string | undefined> {
  const tolerated = 0.05;
  const operators = await page.getOperatorList();
  let mode = 0;
  const saved: number[] = [];
  let glyphs = 0;
  let invisible = 0;
  operators.fnArray.forEach((fn, index) => {
    const args = operators.argsArray[index] as unknown[] | null;
    if (fn === OPS.save) saved.push(mode);
    else if (fn === OPS.restore) mode = saved.pop() ?? 0;
    else if (fn === OPS.setTextRenderingMode) mode = Number(args?.[0]);
    else if (fn === OPS.showText && Array.isArray(args?.[0])) {
      // Glyph objects, with numbers between them for spacing; invisible spaces between words are common and harmless.
      const drawn = (args[0] as unknown[]).filter(
        (glyph) => typeof glyph === "object" && glyph !== null && String((glyph as { unicode?: unknown }).unicode ?? "x").trim() !== "",
      ).length;
      glyphs += drawn;
      if (mode === 3 || mode === 7) invisible += drawn;
    }
  });
  return glyphs > 0 && invisible / glyphs > tolerated ? `${round((100 * invisible) / glyphs, 1)} % of its glyphs are invisible` : undefined;
}

/**
 * Share of a text's letters that are Latin script: the benchmark reads with the English model, which has no other
 * script's letters, so pages in Arabic or Chinese (the corpus has a few font tests) would measure the language, not OCR.
 */
export function latinLetterShare(text: string): number {
  const letters = text.match(/\p{L}/gu) ?? [];
  return letters.length === 0 ? 0 : letters.filter((letter) => /\p{Script=Latin}/u.test(letter)).length / letters.length;
}

/** The engines, in the order they read each page. */
const engines = {
  "tesseract.js": "tesseract.js 7 (WebAssembly), best_int eng from @tesseract.js-data/eng",
  "native-same-model": "native Tesseract, the same best_int eng file",
  "native-system": "native Tesseract, the system's eng data",
} as const;
type EngineId = keyof typeof engines;

interface Read extends ReadScore {
  ms: number;
  /** CPU time, ms; undefined where the platform does not say. */
  cpuMs: number | undefined;
}

interface PageResult {
  file: string;
  page: number;
  chars: number;
  dpi: number;
  render: { ms: number; cpuMs: number };
  /** tesseract.js's mean word confidence, 0–100. */
  meanConfidence: number;
  reads: Partial<Record<EngineId, Read>>;
}

/** A text item as pdf.js gives it: its string, its matrix (origin at [4], [5], PDF points) and a line end after it. */
export interface TextLayerItem {
  str: string;
  transform: number[];
  hasEOL: boolean;
}

/**
 * A page's text as drawn: the items' strings in content order, except an item drawn again where the same string
 * already is (within 1.5 pt). Overprinting (a bold faked by drawing text twice, slightly shifted, or a shadow) shows
 * once on the page and once in OCR, but twice in the text layer.
 */
export function drawnText(items: readonly TextLayerItem[]): string {
  const nearby = 1.5;
  const drawn = new Map<string, [number, number][]>();
  let text = "";
  for (const item of items) {
    const [x, y] = [item.transform[4] ?? 0, item.transform[5] ?? 0];
    const key = item.str.trim();
    if (key !== "") {
      const at = drawn.get(key) ?? [];
      if (at.some(([px, py]) => Math.abs(px - x) <= nearby && Math.abs(py - y) <= nearby)) continue;
      drawn.set(key, [...at, [x, y]]);
    }
    text += item.str + (item.hasEOL ? "\n" : " ");
  }
  return text;
}

async function pageText(page: PDFPageProxy): Promise<string> {
  const content = await page.getTextContent();
  return drawnText(content.items.flatMap((item) => ("str" in item ? [item] : [])));
}

const cpuMsOfThisProcess = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * CPU time of this process's finished children, ms (Linux: cutime + cstime in /proc/self/stat, counted once a child
 * has been waited for, which spawnSync does); undefined elsewhere.
 */
function childCpuMsReader(): (() => number) | undefined {
  if (!existsSync("/proc/self/stat")) return undefined;
  const ticks = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;
  return () => {
    const fields = readFileSync("/proc/self/stat", "utf8").split(")").pop()!.trim().split(" ");
    // Fields 16 and 17 of the file; the split starts at field 3.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticks;
  };
}

/** Native Tesseract's command line for each native engine, or why there is none. */
interface NativeSetup {
  version: string;
  args: Partial<Record<EngineId, string[]>>;
  notes: string[];
}

/**
 * Finds the `tesseract` command and prepares a tessdata directory holding the model file tesseract.js uses,
 * gunzipped, with the system's `configs/` beside it (without them Tesseract ignores output config names).
 */
function setUpNative(scratch: string): NativeSetup | undefined {
  const version = spawnSync("tesseract", ["--version"]);
  if (version.error || version.status !== 0) return undefined;
  const notes: string[] = [];
  const common = ["-l", "eng", "--oem", "1", "--psm", "3"];
  const setup: NativeSetup = {
    version: version.stdout.toString().split("\n")[0]!.trim(),
    args: {},
    notes,
  };
  const listed = spawnSync("tesseract", ["--list-langs"]).stdout?.toString() ?? "";
  const systemTessdata = /"([^"]+)"/.exec(listed)?.[1];
  const modelDir = join(dirname(createRequire(import.meta.url).resolve("@tesseract.js-data/eng/package.json")), "4.0.0_best_int");
  const tessdata = join(scratch, "tessdata-best-int");
  mkdirSync(tessdata);
  writeFileSync(join(tessdata, "eng.traineddata"), gunzipSync(readFileSync(join(modelDir, "eng.traineddata.gz"))));
  if (systemTessdata && existsSync(join(systemTessdata, "configs"))) {
    cpSync(join(systemTessdata, "configs"), join(tessdata, "configs"), { recursive: true });
  } else {
    notes.push("the system's tessdata has no configs/ folder; the same-model run reads without it (plain text output needs none)");
  }
  setup.args["native-same-model"] = ["--tessdata-dir", tessdata, ...common];
  setup.args["native-system"] = common;
  return setup;
}

function writePgm(image: GreyImage, file: string): void {
  writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${image.width} ${image.height}\n255\n`, "ascii"), image.pixels]));
}

/** Runs native Tesseract on one thread (it uses OpenMP otherwise) and times it. */
function runNative(
  file: string,
  dpi: number,
  args: string[],
  childCpuMs: (() => number) | undefined,
): { ms: number; cpuMs: number | undefined; text: string } | undefined {
  const cpuBefore = childCpuMs?.();
  const started = performance.now();
  const result = spawnSync("tesseract", [file, "-", "--dpi", String(dpi), ...args], {
    env: { ...process.env, OMP_THREAD_LIMIT: "1" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  const ms = performance.now() - started;
  const cpuMs = cpuBefore === undefined ? undefined : childCpuMs!() - cpuBefore;
  return result.status === 0 ? { ms, cpuMs, text: result.stdout.toString("utf8") } : undefined;
}

interface EngineSummary {
  label: string;
  pages: number;
  medianCer: number;
  medianCerInOrder: number;
  medianWordRecall: number;
  /** Pages whose order-free CER is at most 3 %. */
  pagesCerAtMost3Percent: number;
  medianMsPerPage: number;
  /** Pages over the summed wall time. */
  pagesPerSecondWall: number | null;
  /** Pages over the summed CPU time: pages/s per core, as each engine uses one thread. */
  pagesPerSecondCpu: number | null;
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
  const percent = (rate: number) => `${round(rate * 100, 1)} %`;
  if (!existsSync(values.corpus)) {
    log(corpusMissingMessage(values.corpus, "no pages to OCR"));
    return 2;
  }
  const wanted = Number(values.pages);
  const dpi = Number(values.dpi);
  const minChars = Number(values["min-chars"]);
  const scratch = mkdtempSync(join(tmpdir(), "llambda-bench-ocr-"));
  const native = setUpNative(scratch);
  if (native) {
    log(`Baseline: ${native.version}, one thread, --oem 1 --psm 3, with the same model as tesseract.js and with the system's eng data.`);
    native.notes.forEach((note) => log(`Note: ${note}.`));
  } else {
    log(
      "No `tesseract` command: measuring tesseract.js alone, without the native baseline " +
        "(Debian: sudo apt-get install tesseract-ocr).",
    );
  }
  const childCpuMs = childCpuMsReader();
  // Native Tesseract starts a process and loads its model for every page, and that is in its times; what it costs
  // alone is measured on a blank image.
  const nativeStartup: Partial<Record<EngineId, { ms: number; cpuMs: number | undefined }>> = {};
  if (native) {
    const blank = join(scratch, "blank.pgm");
    writePgm({ width: 64, height: 64, pixels: new Uint8Array(64 * 64).fill(255), dpi }, blank);
    for (const [engine, args] of Object.entries(native.args) as [EngineId, string[]][]) {
      const run = runNative(blank, dpi, args, childCpuMs);
      if (run) nativeStartup[engine] = { ms: Math.round(run.ms), cpuMs: run.cpuMs === undefined ? undefined : Math.round(run.cpuMs) };
    }
  }
  const passwordsFile = join(values.corpus, "pdfjs-passwords.json");
  const passwords = existsSync(passwordsFile) ? (JSON.parse(readFileSync(passwordsFile, "utf8")) as Record<string, string>) : {};
  // Real documents first (reports, forms, invoices), then pdf.js's regression files; at most two pages of a file, the
  // first that qualify, so the selection is the same in every run.
  const pdfjsFolder = join(values.corpus, "pdfjs");
  const files = [
    ...corpusFiles(values.corpus, /\.pdf$/i).filter((file) => !file.startsWith(pdfjsFolder)),
    ...corpusFiles(values.corpus, /\.pdf$/i).filter((file) => file.startsWith(pdfjsFolder)),
  ];
  const recognizer = await Recognizer.create();
  const pgm = join(scratch, "page.pgm");
  const results: PageResult[] = [];
  const excluded: { file: string; page: number; why: string }[] = [];
  const loadAtStart = loadavg();
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
        // A page pdf.js cannot read is not the benchmark's business: it is skipped, and said so.
        try {
          const page = await doc.getPage(number);
          const { width, height } = page.getViewport({ scale: 1 });
          const truth = await pageText(page);
          if (textLayerVerdict(truth, { widthPt: width, heightPt: height }) !== "usable") continue;
          if (truth.replace(/\s/g, "").length < minChars) continue;
          if (latinLetterShare(truth) < 0.9) {
            excluded.push({ file: name, page: number, why: "not in Latin script (the eng model's)" });
            log(`${name} p${number}: left out, not in Latin script`);
            continue;
          }
          const renderCpuBefore = cpuMsOfThisProcess();
          const renderStarted = performance.now();
          const image = await renderPageGrey(page, canvasFactory, { dpi });
          const render = { ms: Math.round(performance.now() - renderStarted), cpuMs: Math.round(cpuMsOfThisProcess() - renderCpuBefore) };
          // Checked after the timed render, whose font loading it would otherwise do in advance.
          const problem = await groundTruthProblem(page);
          if (problem) {
            excluded.push({ file: name, page: number, why: problem });
            log(`${name} p${number}: left out, ${problem}`);
            continue;
          }

          // WebAssembly code is optimised while it first runs: tesseract.js reads the first page once untimed, so its
          // times are those of a warm worker (what each page after the first of a document gets).
          if (results.length === 0) await recognizer.recognize(image);
          const reads: PageResult["reads"] = {};
          const oursCpuBefore = cpuMsOfThisProcess();
          const oursStarted = performance.now();
          const ours = await recognizer.recognize(image);
          reads["tesseract.js"] = {
            ms: Math.round(performance.now() - oursStarted),
            // The recogniser's worker thread is part of this process; the main thread only waits meanwhile.
            cpuMs: Math.round(cpuMsOfThisProcess() - oursCpuBefore),
            ...scoreRead(ours.text, truth),
          };
          if (native) {
            writePgm(image, pgm);
            for (const [engine, args] of Object.entries(native.args) as [EngineId, string[]][]) {
              const run = runNative(pgm, image.dpi, args, childCpuMs);
              if (!run) {
                log(`${name} p${number}: ${engine} failed`);
                continue;
              }
              const cpuMs = run.cpuMs === undefined ? undefined : Math.round(run.cpuMs);
              reads[engine] = { ms: Math.round(run.ms), cpuMs, ...scoreRead(run.text, truth) };
            }
          }
          const result: PageResult = {
            file: name,
            page: number,
            chars: normaliseForScoring(truth).length,
            dpi: image.dpi,
            render,
            meanConfidence: Math.round(ours.meanConfidence),
            reads,
          };
          results.push(result);
          taken++;
          log(
            `${name} p${number}: render ${render.ms} ms; ` +
              Object.entries(reads)
                .map(([engine, read]) => `${engine} CER ${percent(read.cer)} (in order ${percent(read.cerInOrder)}) in ${read.ms} ms`)
                .join("; "),
          );
          page.cleanup();
        } catch (error) {
          log(`${name} p${number}: skipped, ${String(error)}`);
        }
      }
      await doc.destroy();
    }
  } finally {
    await recognizer.close();
    rmSync(scratch, { recursive: true, force: true });
  }

  const perSecond = (pages: number, totalMs: number) => (pages > 0 && totalMs > 0 ? round((1000 * pages) / totalMs, 3) : null);
  const summarise = (engine: EngineId): EngineSummary | null => {
    const reads = results.flatMap((result) => result.reads[engine] ?? []);
    if (reads.length === 0) return null;
    const cpu = reads.map((read) => read.cpuMs);
    return {
      label: engines[engine],
      pages: reads.length,
      medianCer: round(quantile(reads.map((read) => read.cer), 0.5), 4),
      medianCerInOrder: round(quantile(reads.map((read) => read.cerInOrder), 0.5), 4),
      medianWordRecall: round(quantile(reads.map((read) => read.wordRecall), 0.5), 4),
      pagesCerAtMost3Percent: reads.filter((read) => read.cer <= 0.03).length,
      medianMsPerPage: Math.round(quantile(reads.map((read) => read.ms), 0.5)),
      pagesPerSecondWall: perSecond(reads.length, sum(reads.map((read) => read.ms))),
      pagesPerSecondCpu: cpu.every((ms) => ms !== undefined) ? perSecond(reads.length, sum(cpu as number[])) : null,
    };
  };
  const summaries = Object.fromEntries((Object.keys(engines) as EngineId[]).map((engine) => [engine, summarise(engine)])) as Record<
    EngineId,
    EngineSummary | null
  >;
  const ours = summaries["tesseract.js"];
  // tesseract.js against each native run: CER ratio (lower is better) and throughput ratio (higher is better).
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? round(a / b, 2) : null);
  const against = (engine: EngineId) => {
    const baseline = summaries[engine];
    if (!ours || !baseline) return null;
    return {
      cer: ratio(ours.medianCer, baseline.medianCer),
      cerInOrder: ratio(ours.medianCerInOrder, baseline.medianCerInOrder),
      throughputCpu: ratio(ours.pagesPerSecondCpu, baseline.pagesPerSecondCpu),
      throughputWall: ratio(ours.pagesPerSecondWall, baseline.pagesPerSecondWall),
    };
  };
  const summary = {
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      // Other work on the machine shows in wall times; CPU times are the fairer comparison then.
      loadAverageAtStart: loadAtStart.map((value) => round(value, 2)),
      loadAverageAtEnd: loadavg().map((value) => round(value, 2)),
    },
    native: native ? native.version : null,
    pages: results.length,
    excluded: excluded.length,
    dpi,
    minChars,
    nativeStartup,
    rendering: {
      medianMsPerPage: Math.round(quantile(results.map((result) => result.render.ms), 0.5)),
      pagesPerSecondWall: perSecond(results.length, sum(results.map((result) => result.render.ms))),
      pagesPerSecondCpu: perSecond(results.length, sum(results.map((result) => result.render.cpuMs))),
    },
    engines: summaries,
    tesseractJsAgainst: { "native-same-model": against("native-same-model"), "native-system": against("native-system") },
  };

  log(
    `\n${summary.pages} pages at ${dpi} dpi (${excluded.length} left out, listed above), ` +
      `${summary.machine.cores} × ${summary.machine.cpu}, load ${loadAtStart[0]!.toFixed(2)} at start.\n` +
      `rendering: ${summary.rendering.pagesPerSecondCpu} pages/s per core (CPU), ${summary.rendering.pagesPerSecondWall} wall.`,
  );
  for (const engine of Object.keys(engines) as EngineId[]) {
    const s = summaries[engine];
    if (!s) continue;
    log(
      `${s.label}: median CER ${percent(s.medianCer)} (in order ${percent(s.medianCerInOrder)}), word recall ` +
        `${percent(s.medianWordRecall)}, ${s.pagesCerAtMost3Percent}/${s.pages} pages ≤ 3 %; ` +
        `${s.pagesPerSecondCpu ?? "?"} pages/s per core (CPU), ${s.pagesPerSecondWall} wall` +
        (nativeStartup[engine] ? ` (including ${nativeStartup[engine].ms} ms a page to start and load the model).` : "."),
    );
  }
  for (const [engine, ratios] of Object.entries(summary.tesseractJsAgainst)) {
    if (!ratios) continue;
    log(
      `tesseract.js / ${engine}: CER ${ratios.cer}× (target ≤ 1.5×; in order ${ratios.cerInOrder}×), ` +
        `throughput ${ratios.throughputCpu ?? ratios.throughputWall}× (target ≥ 0.8×).`,
    );
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ summary, excluded, pages: results }, null, 1)}\n`);
  return results.length > 0 ? 0 : 1;
}
