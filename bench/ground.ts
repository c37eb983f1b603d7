/**
 * `npm run ground -- <file> <values.json> [--json] [--ocr auto|scans|always|never] [--chunk-tokens N]`: grounds given values
 * against a document without a model, with the code the chunk step (layout) and the merge (groundValue) run, and
 * prints per path the match, page, quote and boxes. Exit status 0; 1 when the file cannot be read as a document
 * (its input error is printed); 2 on a usage error.
 */
import { readFile } from "node:fs/promises";
import { createCl100kTokenizer } from "../functions/chunk/tokenizer.ts";
import { IsolatedExtractor } from "../functions/chunk/isolated-extract.ts";
import { CHUNK_FUNCTION_MEMORY_MB, readChunkLimits } from "../functions/chunk/limits.ts";
import type { PageBox } from "../functions/shared/document-item.ts";
import { chunkFile } from "./chunk-file.ts";
import { groundScalars, groundUsage, parseGroundArguments, scalarPaths, type GroundedField } from "./ground-values.ts";
import "../infra/dev-worker-bundle.ts"; // from source: the extraction worker is bundled in memory

async function main(): Promise<number> {
  const parsed = parseGroundArguments(process.argv.slice(2));
  if ("help" in parsed) {
    process.stdout.write(`${groundUsage}\n`);
    return 0;
  }
  if ("problem" in parsed) {
    process.stderr.write(`${parsed.problem}\n\n${groundUsage}\n`);
    return 2;
  }
  let values: unknown;
  try {
    values = JSON.parse(await readFile(parsed.valuesFile, "utf8"));
  } catch (error) {
    process.stderr.write(`Cannot read ${parsed.valuesFile} as JSON: ${(error as Error).message}\n`);
    return 2;
  }
  const limits = readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(CHUNK_FUNCTION_MEMORY_MB) });
  const tokenizer = createCl100kTokenizer();
  const extractor = new IsolatedExtractor({ memoryMb: limits.extractionMemoryMb });
  try {
    const outcome = await chunkFile(parsed.file, {
      maxTokens: parsed.maxTokens,
      tokenizer,
      extractor,
      timeoutMs: limits.extractionTimeoutMs,
      limits,
      ocrMode: parsed.ocrMode,
      withLayout: true,
    });
    if (outcome.status === "error" || outcome.layout === undefined) {
      process.stderr.write(`${parsed.file}: ${outcome.code ?? "NOT_A_DOCUMENT"}: ${outcome.message ?? "a record batch has no document layout"}\n`);
      return 1;
    }
    const fields = groundScalars(outcome.layout, scalarPaths(values));
    if (parsed.json) {
      process.stdout.write(`${JSON.stringify({ file: parsed.file, pages: outcome.pages, chunks: outcome.chunks, fields })}\n`);
    } else {
      process.stdout.write(`${parsed.file}: ${outcome.pages} page(s), ${outcome.chunks} chunk(s)\n`);
      for (const field of fields) process.stdout.write(`${renderField(field)}\n`);
      const found = fields.filter((field) => field.grounding.match === "exact" || field.grounding.match === "normalised").length;
      process.stdout.write(`${found} of ${fields.length} value(s) found exact or normalised\n`);
    }
    return 0;
  } finally {
    tokenizer.dispose();
    await extractor.close();
  }
}

/** One line per path: match, page, quote, boxes. */
export function renderField(field: GroundedField): string {
  const { grounding } = field;
  const head = `${field.path}: ${grounding.match}`;
  if (grounding.page === undefined) return `${head} (value ${JSON.stringify(field.value)})`;
  const similarity = grounding.similarity === undefined ? "" : ` (similarity ${grounding.similarity})`;
  const ocr = field.ocrConfidence === undefined ? "" : ` · OCR confidence ${field.ocrConfidence}`;
  const boxes = (grounding.boxes ?? []).map(renderBox).join(" ");
  return `${head}${similarity} · page ${grounding.page} · ${JSON.stringify(grounding.quote)} · ${boxes === "" ? "no boxes" : boxes}${ocr}`;
}

function renderBox(box: PageBox): string {
  return `[p${box.page} ${box.x},${box.y} ${box.width}x${box.height}]`;
}

process.stdout.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 0 : 2));
process.exit(await main());
