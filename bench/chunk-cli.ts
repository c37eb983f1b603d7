/**
 * `npm run chunk -- [--json] [--text] [--ocr auto|scans|always|never] [--chunk-tokens N] [--no-limits] <files...>`: what the chunk
 * step makes of local files, one line per file (with --text, also each page's text and each chunk as the model will see
 * it). Pages the chunk step would send to OCR are OCR'd here, in this process, as the OCR function would. Exit status 0 even when files fail (their
 * outcome says why); 2 on a usage error. A development tool (it shows the chunker's output with the infer stage's
 * prompt), so it lives with the other tools here, not in a stage; bench/chunker.ts measures the chunker through it.
 */
import { parseArgs } from "node:util";
import { buildUserPrompt } from "../functions/infer/prompt.ts";
import { intInRange } from "../functions/shared/config.ts";
import { createCl100kTokenizer } from "../functions/chunk/tokenizer.ts";
import { ocrModes, type OcrMode } from "../functions/shared/contracts.ts";
import { chunkFile, type InspectedChunk, type InspectedPage } from "./chunk-file.ts";
import { IsolatedExtractor } from "../functions/chunk/isolated-extract.ts";
import { ConfigurationError } from "../functions/shared/errors.ts";
import {
  CHUNK_FUNCTION_MEMORY_MB,
  chunkTokensRange,
  LimitMaximums,
  readChunkLimits,
  type ChunkLimits,
} from "../functions/chunk/limits.ts";
import "../infra/dev-worker-bundle.ts"; // from source: the extraction worker is bundled in memory

/**
 * The chunk function's limits, read by its own rule (readChunkLimits) from this process's environment, with the
 * function's memory size for the worker's heap bound.
 */
function functionLimits(): ChunkLimits {
  return readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(CHUNK_FUNCTION_MEMORY_MB), ...process.env });
}

const defaults = (() => {
  try {
    return functionLimits();
  } catch {
    return readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(CHUNK_FUNCTION_MEMORY_MB) });
  }
})();

const usage = `Usage: npm run chunk -- [--json] [--text] [--ocr auto|scans|always|never] [--chunk-tokens N] [--no-limits] <file...>

Extracts and chunks each file as the chunk step does (PDF, .txt, .md, .jsonl, .csv, and images: .png, .jpg, .tif; PDFs
in a worker thread; pages without a usable text layer and images OCR'd here as the OCR function would, 300 dpi) with
the chunk function's limits, read by the same rule from the same LLAMBDA_* variables (docs/input-errors.md), so a
file over one ends as it would on Lambda (TOO_LARGE, naming the limit). With this environment:
  bytes ${defaults.maxBytes} (LLAMBDA_MAX_BYTES), PDF pages ${defaults.maxPages} (LLAMBDA_MAX_PAGES),
  chunks ${defaults.maxChunks} (LLAMBDA_MAX_CHUNKS; also the most records of a batch),
  bytes per record ${defaults.maxRecordBytes} (LLAMBDA_MAX_RECORD_BYTES),
  extraction ${defaults.extractionTimeoutMs} ms (LLAMBDA_EXTRACTION_TIMEOUT_MS) and ${defaults.extractionMemoryMb} MB of worker heap
  (LLAMBDA_EXTRACTION_MEMORY_MB; default 60% of the function's ${CHUNK_FUNCTION_MEMORY_MB} MB).
Set those variables to try other values. Prints one line per file:
{file, status: "ok"|"error", code?, message?, pages, chunks, tokens, ms, peakRssMb}.
peakRssMb is this process's peak resident memory after the file (it only grows), so a file's own peak shows as a jump.

  --no-limits        lift the size limits (bytes, pages, chunks, records, bytes per record) for experiments; the
                     extraction time and memory bounds stay. The chunk function would refuse what only passes so.

  --chunk-tokens N   most tokens per chunk, ${chunkTokensRange.min} to ${chunkTokensRange.max} (default 1000, as the chunk function)
  --ocr MODE         which pages are OCR'd: auto (default: pages without a usable text layer, and images), always (every
                     page: compare OCR with a PDF's own text layer), never (a scan ends NO_TEXT_LAYER)
  --text             also print each page's text under a "=== page N · text layer|OCR ===" line, then
                     each chunk as the model will see it: its index, page range (record id) and token
                     count, then the user message the inference function builds around its text (with --json: a
                     "pageList" array of {page, source, meanConfidence?, text} and a "chunkList" array of
                     {index, pageStart, pageEnd, recordId?, tokens, text} on each line)
  --json             one JSON object per line`;

async function main(): Promise<number> {
  let values: { json?: boolean; text?: boolean; ocr?: string; "chunk-tokens"?: string; "no-limits"?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        text: { type: "boolean" },
        ocr: { type: "string" },
        "chunk-tokens": { type: "string" },
        "no-limits": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  // The chunk function's own bounds (LLAMBDA_CHUNK_TOKENS).
  const maxTokens = values["chunk-tokens"] === undefined ? 1000 : intInRange(values["chunk-tokens"], chunkTokensRange);
  const ocrMode = (values.ocr ?? "auto") as OcrMode;
  if (files.length === 0 || maxTokens === undefined || !ocrModes.includes(ocrMode)) {
    const problem =
      files.length === 0
        ? "No input files given."
        : maxTokens === undefined
          ? `--chunk-tokens must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}, got ${JSON.stringify(values["chunk-tokens"])}`
          : `--ocr must be one of ${ocrModes.join(", ")}, got ${JSON.stringify(values.ocr)}`;
    process.stderr.write(`${problem}\n\n${usage}\n`);
    return 2;
  }
  let limits: ChunkLimits;
  try {
    limits = functionLimits();
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (values["no-limits"]) limits = { ...limits, ...LimitMaximums };
  await run(files, maxTokens, limits, ocrMode, Boolean(values.json), Boolean(values.text));
  return 0;
}

/** A page's text under a separator line saying where it came from. */
export function renderPage(page: InspectedPage): string {
  const confidence = page.meanConfidence === undefined ? "" : ` (mean word confidence ${page.meanConfidence})`;
  return `=== page ${page.page} · ${page.source}${confidence} ===\n${page.text}\n`;
}

/** A chunk as the model sees it: a header line, then the user message built around its text. */
export function renderChunk(chunk: InspectedChunk): string {
  const pages = chunk.pageStart === chunk.pageEnd ? `page ${chunk.pageStart}` : `pages ${chunk.pageStart}-${chunk.pageEnd}`;
  const record = chunk.recordId === undefined ? "" : ` · record ${chunk.recordId}`;
  return `--- chunk ${chunk.index} · ${pages}${record} · ${chunk.tokens} tokens ---\n${buildUserPrompt(chunk)}\n`;
}

async function run(files: string[], maxTokens: number, limits: ChunkLimits, ocrMode: OcrMode, json: boolean, text: boolean): Promise<void> {
  const tokenizer = createCl100kTokenizer();
  // One worker for all files, replaced after a timeout or crash; the chunk function starts one per document.
  const extractor = new IsolatedExtractor({ memoryMb: limits.extractionMemoryMb, reuse: true });
  for (const file of files) {
    let line: Record<string, unknown>;
    try {
      const { bytes: _bytes, ...outcome } = await chunkFile(file, {
        maxTokens,
        tokenizer,
        extractor,
        timeoutMs: limits.extractionTimeoutMs,
        withChunks: text,
        limits,
        ocrMode,
      });
      line = { ...outcome, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
    } catch (error) {
      // Not a typed input error: report it (a bug to fix) and go on with the other files.
      line = { file, status: "error", code: "INTERNAL", message: String(error), pages: 0, chunks: 0, tokens: 0, ms: 0 };
    }
    if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
    else {
      const detail = line.status === "ok" ? `${line.pages} pages, ${line.chunks} chunks, ${line.tokens} tokens` : `${line.code}: ${line.message}`;
      process.stdout.write(`${line.status === "ok" ? "ok   " : "error"} ${file}: ${detail} (${line.ms} ms, peak ${line.peakRssMb ?? "?"} MB)\n`);
      for (const page of (line.pageList as InspectedPage[] | undefined) ?? []) process.stdout.write(renderPage(page));
      for (const chunk of (line.chunkList as InspectedChunk[] | undefined) ?? []) process.stdout.write(renderChunk(chunk));
    }
  }
  tokenizer.dispose();
  await extractor.close();
}

// A reader that leaves early (`| head`) ends the run: nothing more can be shown. process.exit runs the 'exit' hooks
// that remove the extraction worker's temporary files.
process.stdout.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 0 : 2));
process.exit(await main());
