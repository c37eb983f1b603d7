/**
 * Scoring of extracted JSON against expected JSON, field by field, guided by the extraction schema. Pure: no I/O.
 *
 * Fields. Every leaf property of the schema is a field, named by its path (`issuer`, `address.city`); object properties
 * recurse, everything else (strings, numbers, enums, arrays) is a leaf. An array (e.g. `lines`) is one field scored as
 * a list (see below). Keys of the expected JSON that the schema does not have are not scored; they are listed in
 * `DocumentScore.unscored`. Keys of the extraction that the schema does not have are ignored.
 *
 * Expected JSON given as an array (as in invoice corpora: `[{...}]`) is scored by its first element.
 *
 * Expected value null, "" or [] ("empty"): correct when the extracted value is empty too (null, absent, blank string or
 * empty array); kind "exact". Expected key absent: by default the field is not scored for that document (`absent:
 * "skip"`, listed in `DocumentScore.skipped`), because real annotations are partial (an invoice whose expected JSON has
 * no `partner_name` usually has one on paper); `absent: "null"` scores it like an expected null instead.
 *
 * Comparison kind of a leaf, chosen from its schema node, its name and the expected value, first rule that applies:
 *   1. an `enum` node → "exact";
 *   2. a node typed number/integer → "number";
 *   3. a date field (format date/date-time, a name with the word "date", or a description with YYYY-MM-DD) whose
 *      expected value parses as a date → "date";
 *   4. an identifier or code: a name with a word such as number, id, code, ref, iban, vat, currency, or a description
 *      that says "code" or "ISO <n>" → "exact";
 *   5. expected boolean → "exact"; expected number (even where the schema says string) → "number";
 *   6. any other expected string in ISO form YYYY-MM-DD → "date";
 *   7. an expected numeric string ("1,234.50", "€ 4.11", "4,11") → "number";
 *   8. anything else → "fuzzy".
 *
 *   exact  — equal after normalisation (Unicode NFKD, diacritics, case, whitespace and punctuation removed); score 1/0.
 *   number — both sides parsed by `parseNumber`, equal within NUMBER_TOLERANCE (absolute, plus 1e-9 relative); 1/0.
 *   date   — both sides parsed by `parseDate` to YYYY-MM-DD and equal; 1/0.
 *   fuzzy  — `similarity` (normalised Levenshtein on normalised text, see `normalizeText`); score = the similarity,
 *            correct when it is ≥ FUZZY_THRESHOLD.
 *
 * Lists (kind "list"). Expected items that have none of the item schema's properties (e.g. section headers or notes
 * among invoice lines) are dropped; if the expected list is not empty but no item is left, the field is skipped (not
 * annotated in the schema's terms). Extracted items whose schema properties are all empty are ignored. Each remaining
 * expected item is matched to at most one extracted item, greedily: all pairs are ranked by their similarity (the mean
 * score of the item's annotated fields, compared as above) and taken best first while both are free; pairs of
 * similarity 0 are not matched (ties: lower expected index, then lower extracted index). Units: every annotated field
 * of every expected item is one unit, correct when its comparison with the matched item's field is correct (a failed
 * unit when the item is unmatched); every unmatched extracted item adds a failed unit per non-empty schema property
 * (extra items cost precision). Score = correct units / units; the field is correct only when the score is 1.
 *
 * Totals. A field is correct or not (`correct`), and has a score in 0..1 (`score`). Accuracy = correct fields / scored
 * fields: per field over documents, per document over fields, and overall as a micro-average over every scored field of
 * every document. Mean scores are reported beside accuracies (partial credit: fuzzy similarity, list units).
 *
 * Where the rules live: values (values.ts), schema fields (schema-fields.ts), comparisons and lists (compare.ts);
 * documents and totals here.
 */
import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";
import { compareField, type FieldKind, type FieldResult, type ScoreOptions } from "./compare.ts";
import { leavesOf, lookup } from "./schema-fields.ts";
import { isPlainObject } from "./values.ts";

export interface DocumentScore {
  /** Set by the caller (e.g. the file name). */
  name?: string;
  fields: FieldResult[];
  /** Schema fields not scored: absent from the expected JSON, or a list with no annotated item. */
  skipped: string[];
  /** Top-level keys of the expected JSON that the schema does not have. */
  unscored: string[];
  correct: number;
  total: number;
  /** correct / total; null when nothing was scored. */
  accuracy: number | null;
  meanScore: number | null;
  /** Set for a document whose extraction failed (every field scores 0). */
  error?: string;
}

export interface FieldSummary {
  path: string;
  /** Kinds used for this field across documents. */
  kinds: FieldKind[];
  correct: number;
  total: number;
  accuracy: number | null;
  meanScore: number | null;
  /** Documents in which the field was not scored. */
  skipped: number;
  /** Lists: units summed over documents. */
  units?: { correct: number; total: number };
}

export interface DocumentSummary {
  name: string;
  correct: number;
  total: number;
  accuracy: number | null;
  meanScore: number | null;
  error?: string;
}

export interface Summary {
  fields: FieldSummary[];
  documents: DocumentSummary[];
  /** Micro-average over every scored field of every document. */
  overall: { correct: number; total: number; accuracy: number | null; meanScore: number | null; documents: number; failed: number };
}

function totals(fields: FieldResult[]): Pick<DocumentScore, "correct" | "total" | "accuracy" | "meanScore"> {
  const correct = fields.filter((field) => field.correct).length;
  const total = fields.length;
  return {
    correct,
    total,
    accuracy: total === 0 ? null : correct / total,
    meanScore: total === 0 ? null : fields.reduce((sum, field) => sum + field.score, 0) / total,
  };
}

/** The object an expected JSON file stands for: itself, or the first element of an array. */
export function expectedObject(expected: unknown): Record<string, unknown> {
  const value = Array.isArray(expected) ? expected[0] : expected;
  if (!isPlainObject(value)) {
    throw new TypeError("Expected JSON must be an object, or an array whose first element is an object");
  }
  return value;
}

/**
 * Scores one document: every leaf field of `schema` (see the module comment). `expected` may be an object or an array
 * whose first element is used; `extracted` that is not an object is scored as `{}`.
 */
export function scoreDocument(expected: unknown, extracted: unknown, schema: JsonSchemaNode, options: ScoreOptions = {}): DocumentScore {
  const want = expectedObject(expected);
  const got = isPlainObject(extracted) ? extracted : {};
  const fields: FieldResult[] = [];
  const skipped: string[] = [];
  for (const leaf of leavesOf(schema)) {
    const path = leaf.segments.join(".");
    const found = lookup(want, leaf.segments);
    if (!found.present && options.absent !== "null") {
      skipped.push(path);
      continue;
    }
    const comparison = compareField(leaf.node, leaf.segments.at(-1)!, found.value ?? null, lookup(got, leaf.segments).value, options);
    if (comparison) fields.push({ path, ...comparison });
    else skipped.push(path);
  }
  const known = new Set(Object.keys(schema.properties ?? {}));
  const unscored = Object.keys(want).filter((key) => !known.has(key));
  return { fields, skipped, unscored, ...totals(fields) };
}

/**
 * Scores a document whose extraction failed or produced no result: the fields the document would have been scored on,
 * every one 0 and incorrect (empty-expected fields included), with the error.
 */
export function scoreFailedDocument(expected: unknown, schema: JsonSchemaNode, error: string, options: ScoreOptions = {}): DocumentScore {
  const scored = scoreDocument(expected, {}, schema, options);
  const fields = scored.fields.map((field): FieldResult => {
    const failed: FieldResult = { ...field, extracted: undefined, score: 0, correct: false, note: `document failed: ${error}` };
    delete failed.items;
    if (field.units) failed.units = { correct: 0, total: field.units.total };
    return failed;
  });
  return { ...scored, fields, ...totals(fields), error };
}

/**
 * Per-field accuracy (correct / scored, over documents), per-document accuracy, and the overall micro-average.
 * Fields are listed in `fieldOrder` (e.g. `schemaFields(schema)`), then any others in order of first appearance.
 */
export function summarize(documents: DocumentScore[], fieldOrder: string[] = []): Summary {
  const byPath = new Map<string, FieldSummary>();
  for (const path of fieldOrder) byPath.set(path, { path, kinds: [], correct: 0, total: 0, accuracy: null, meanScore: null, skipped: 0 });
  const entry = (path: string): FieldSummary => {
    let summary = byPath.get(path);
    if (!summary) {
      summary = { path, kinds: [], correct: 0, total: 0, accuracy: null, meanScore: null, skipped: 0 };
      byPath.set(path, summary);
    }
    return summary;
  };
  const scoreSums = new Map<string, number>();
  for (const document of documents) {
    for (const field of document.fields) {
      const summary = entry(field.path);
      if (!summary.kinds.includes(field.kind)) summary.kinds.push(field.kind);
      summary.total++;
      if (field.correct) summary.correct++;
      scoreSums.set(field.path, (scoreSums.get(field.path) ?? 0) + field.score);
      if (field.units) {
        summary.units ??= { correct: 0, total: 0 };
        summary.units.correct += field.units.correct;
        summary.units.total += field.units.total;
      }
    }
    for (const path of document.skipped) entry(path).skipped++;
  }
  for (const summary of byPath.values()) {
    summary.accuracy = summary.total === 0 ? null : summary.correct / summary.total;
    summary.meanScore = summary.total === 0 ? null : (scoreSums.get(summary.path) ?? 0) / summary.total;
  }
  const allFields = documents.flatMap((document) => document.fields);
  const overall = totals(allFields);
  return {
    fields: [...byPath.values()].filter((field) => field.total > 0 || field.skipped > 0),
    documents: documents.map((document, index) => ({
      name: document.name ?? `#${index + 1}`,
      correct: document.correct,
      total: document.total,
      accuracy: document.accuracy,
      meanScore: document.meanScore,
      ...(document.error === undefined ? {} : { error: document.error }),
    })),
    overall: { ...overall, documents: documents.length, failed: documents.filter((document) => document.error !== undefined).length },
  };
}
