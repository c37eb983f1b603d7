import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chunkFile } from "../../bench/chunk-file.ts";
import { boxesHoldQuote, notInDocumentByNature } from "../../bench/ground-check.ts";
import { groundScalars, scalarPaths, type GroundedField } from "../../bench/ground-values.ts";
import { IsolatedExtractor } from "../../functions/chunk/isolated-extract.ts";
import { readChunkLimits } from "../../functions/chunk/limits.ts";
import { createCl100kTokenizer } from "../../functions/chunk/tokenizer.ts";
import type { DocumentLayout } from "../../functions/shared/contracts.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import "../../infra/dev-worker-bundle.ts";

/**
 * The grounding target: the expected JSON of each corpus invoice (../shared/corpus/invoices, beside the clone; never
 * copied into the repository; LLAMBDA_SHARED_CORPUS points elsewhere) grounded against its document, as `npm run
 * ground` does: its PDF (its .txt or .png when that is the only source), chunked by the chunk step's code, every
 * scalar looked for in all chunks. A value counts as found when its match is exact or normalised and the boxes on its
 * page hold its quote (the runs under them contain it; a text upload has no positions, only its page). Values not in
 * the document by nature are left out (bench/ground-check.ts `notInDocumentByNature`: the JSON's summary, code-list
 * codes, booleans); the raw rate counts everything.
 *
 * A PDF is read as the chunk step reads it by default (`ocr: auto`): its text layer, and OCR of the images on pages
 * whose text layer is usable (saeco's issuer block is such an image), run here in this process as bench/chunk-file.ts
 * does. The rate printed and asserted is that mode's alone; how many values only the images' OCR gave is printed too.
 */
const corpus = resolve(process.env.LLAMBDA_SHARED_CORPUS ?? resolve(repoRoot, "../shared/corpus"));
const invoices = join(corpus, "invoices");
const present = existsSync(invoices);
const title = present ? "grounding the corpus invoices' expected values" : `grounding the corpus invoices' expected values (SKIPPED: ${invoices} not found)`;

/** The share of counted values that must be found, in the default mode. */
const TARGET = 0.95;

const limits = readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "2048" });
const tokenizer = createCl100kTokenizer();
const extractor = new IsolatedExtractor({ memoryMb: limits.extractionMemoryMb, reuse: true });
afterAll(async () => {
  tokenizer.dispose();
  await extractor.close();
});

async function layoutOf(file: string): Promise<DocumentLayout> {
  const outcome = await chunkFile(file, { maxTokens: 1000, tokenizer, extractor, timeoutMs: 60_000, limits, withLayout: true });
  if (outcome.layout === undefined) throw new Error(`${file}: ${outcome.code ?? "no layout"} ${outcome.message ?? ""}`);
  return outcome.layout;
}

function isFound(layout: DocumentLayout, field: GroundedField): boolean {
  const { grounding } = field;
  if (grounding.match !== "exact" && grounding.match !== "normalised") return false;
  const page = layout.pages[grounding.page! - 1]!;
  return page.runs.length === 0 ? true : boxesHoldQuote(layout, grounding);
}

/** Whether a found value is drawn by OCR'd words (a hybrid page's images; its runs with a confidence). */
function inImageText(layout: DocumentLayout, field: GroundedField): boolean {
  const page = layout.pages[(field.grounding.page ?? 0) - 1];
  if (page === undefined || page.source !== "text-layer") return false;
  const ocrRuns = page.runs.filter((run) => run.confidence !== undefined);
  return (field.grounding.boxes ?? []).some(({ x, y, width, height }) =>
    ocrRuns.some(({ box: [x0, y0, x1, y1] }) => x < x1 && x + width > x0 && y < y1 && y + height > y0),
  );
}

describe(title, () => {
  it.skipIf(!present)(
    `finds at least ${TARGET * 100} % of the expected values exact or normalised, with boxes that hold them`,
    async () => {
      const tally = { counted: 0, inImages: 0, found: 0, raw: 0, rawFound: 0 };
      const report: string[] = [];
      for (const name of readdirSync(invoices).filter((file) => file.endsWith(".json")).sort()) {
        const base = name.slice(0, -".json".length);
        const source = [".pdf", ".txt", ".png"].map((extension) => join(invoices, base + extension)).find((file) => existsSync(file));
        if (source === undefined) continue;
        const values = scalarPaths(JSON.parse(readFileSync(join(invoices, name), "utf8")));
        const layout = await layoutOf(source);
        const fields = groundScalars(layout, values);
        const found = fields.map((field) => isFound(layout, field));
        const misses: string[] = [];
        fields.forEach((field, i) => {
          tally.raw++;
          if (found[i]) tally.rawFound++;
          if (notInDocumentByNature(field.path, field.value)) return;
          tally.counted++;
          if (found[i] && inImageText(layout, field)) tally.inImages++;
          if (found[i]) tally.found++;
          else misses.push(`${field.path}=${JSON.stringify(field.value)} (${field.grounding.match})`);
        });
        report.push(`${base}: ${fields.length} values, ${misses.length} missed${misses.length ? `: ${misses.join("; ")}` : ""}`);
      }
      const percent = (part: number, whole: number) => `${part}/${whole} = ${((100 * part) / whole).toFixed(1)} %`;
      report.push(
        `counted: ${percent(tally.found, tally.counted)} (${tally.inImages} of them in images' OCR text); ` +
          `raw, every scalar: ${percent(tally.rawFound, tally.raw)}`,
      );
      console.log(report.join("\n"));
      expect(tally.counted).toBeGreaterThan(250);
      expect(tally.found / tally.counted).toBeGreaterThanOrEqual(TARGET);
    },
    600_000,
  );
});
