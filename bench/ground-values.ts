/**
 * The parts of `npm run ground` that need no document: its arguments, and the walk from a values JSON to the scalar
 * values it grounds, each under its path in the item's notation (`invoice_number`, `lines[0].name`).
 */
import { parseArgs } from "node:util";
import { intInRange } from "../functions/shared/config.ts";
import { chunkTokensRange } from "../functions/chunk/limits.ts";
import { listItemOf, type TextSpan } from "../functions/merge/field-trust.ts";
import { groundValue } from "../functions/merge/grounding.ts";
import { ocrModes, type DocumentLayout, type OcrMode } from "../functions/shared/contracts.ts";
import type { FieldGrounding } from "../functions/shared/document-item.ts";

export const groundUsage = `Usage: npm run ground -- <file> <values.json> [--json] [--ocr auto|scans|always|never] [--chunk-tokens N]

Grounds given values against a document, without a model: chunks the file as the chunk step does (PDF, .txt, .md,
images; pages without a usable text layer and images OCR'd here as the OCR function would), builds its layout, and
looks for every scalar of values.json (a JSON object, or an array whose first element is used) in all its chunks, as
the merge does for extracted values. Prints, per path: the match (exact, normalised, fuzzy, none; ungroundable for a
boolean), the page, the quote and the boxes (x, y, width, height in PDF points from the page's top-left corner).

  --json             one JSON object: {file, pages, chunks, fields: [{path, value, grounding, ocrConfidence?}]}
  --ocr MODE         which pages are OCR'd: auto (default), always, never
  --chunk-tokens N   most tokens per chunk, ${chunkTokensRange.min} to ${chunkTokensRange.max} (default 1000, as the chunk function)`;

export interface GroundArguments {
  file: string;
  valuesFile: string;
  json: boolean;
  ocrMode: OcrMode;
  maxTokens: number;
}

/** The arguments, or the problem to print with the usage (exit 2), or a request for help. */
export function parseGroundArguments(argv: readonly string[]): GroundArguments | { problem: string } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        ocr: { type: "string" },
        "chunk-tokens": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return { problem: (error as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 2) {
    return { problem: `Expected a file and a values JSON file, got ${positionals.length} argument(s).` };
  }
  const ocrMode = (values.ocr ?? "auto") as OcrMode;
  if (!ocrModes.includes(ocrMode)) return { problem: `--ocr must be one of ${ocrModes.join(", ")}, got ${JSON.stringify(values.ocr)}` };
  const maxTokens = values["chunk-tokens"] === undefined ? 1000 : intInRange(values["chunk-tokens"], chunkTokensRange);
  if (maxTokens === undefined) {
    return {
      problem: `--chunk-tokens must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}, got ${JSON.stringify(values["chunk-tokens"])}`,
    };
  }
  return { file: positionals[0]!, valuesFile: positionals[1]!, json: Boolean(values.json), ocrMode, maxTokens };
}

export interface ScalarAtPath {
  path: string;
  value: string | number | boolean;
}

/**
 * Every scalar of a values JSON with its path, in document order: `a`, `a.b`, `lines[0].name`. A top-level array
 * stands for its first element (the corpus invoices' expected JSON is `[ {...} ]`). Nulls and empty strings are not
 * values and are left out.
 */
export function scalarPaths(values: unknown): ScalarAtPath[] {
  const root = Array.isArray(values) ? values[0] : values;
  const out: ScalarAtPath[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${path}[${i}]`));
    else if (node !== null && typeof node === "object") {
      for (const [key, item] of Object.entries(node)) walk(item, path === "" ? key : `${path}.${key}`);
    } else if (typeof node === "number" || typeof node === "boolean" || (typeof node === "string" && node.trim() !== "")) {
      out.push({ path, value: node });
    }
  };
  walk(root, "");
  return out;
}

export interface GroundedField {
  path: string;
  value: string | number | boolean;
  grounding: FieldGrounding;
  ocrConfidence?: number;
}

/**
 * Each scalar grounded in the whole document (all its chunks), as the merge grounds an extracted value in the chunks
 * it came from. A boolean is not text of the document: ungroundable, not looked for.
 */
export function groundScalars(layout: DocumentLayout, scalars: readonly ScalarAtPath[]): GroundedField[] {
  const chunks = layout.chunks.map((chunk) => chunk.index);
  // As the merge does: a list item's fields are looked for near where its first field was found.
  const itemAnchors = new Map<string, TextSpan>();
  return scalars.map(({ path, value }) => {
    if (typeof value === "boolean") return { path, value, grounding: { match: "ungroundable" } };
    const item = listItemOf(path);
    const grounded = groundValue(value, layout, chunks, item === undefined ? undefined : itemAnchors.get(item));
    const { charStart, charEnd } = grounded.grounding;
    if (item !== undefined && !itemAnchors.has(item) && charStart !== undefined && charEnd !== undefined) itemAnchors.set(item, { charStart, charEnd });
    return { path, value, ...grounded };
  });
}
