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
 */
import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";

/** Fuzzy strings are correct when their normalised similarity is at least this. */
export const FUZZY_THRESHOLD = 0.8;
/** Numbers are equal when they differ by at most this (absolute; plus 1e-9 of their magnitude). */
export const NUMBER_TOLERANCE = 0.005;

export type ComparisonKind = "exact" | "number" | "date" | "fuzzy";
export type FieldKind = ComparisonKind | "list";

/** How to read a numeric date whose first two parts are both ≤ 12 (03/08/2014): day first (dmy) or month first (mdy). */
export type DateOrder = "dmy" | "mdy";

export interface ScoreOptions {
  /** Default FUZZY_THRESHOLD. */
  fuzzyThreshold?: number;
  /** Default NUMBER_TOLERANCE. */
  numberTolerance?: number;
  /** Default "dmy": 03/08/2014 is 3 August 2014. Dates with dots (03.08.2014) are always day first. */
  dateOrder?: DateOrder;
  /** An expected key that is absent: "skip" (default) leaves the field unscored; "null" scores it like null. */
  absent?: "skip" | "null";
}

/** One comparison of an expected and an extracted value. */
export interface Comparison {
  kind: FieldKind;
  expected: unknown;
  extracted: unknown;
  /** 0..1: 1 or 0 for exact, number and date; the similarity for fuzzy; the share of correct units for a list. */
  score: number;
  correct: boolean;
  note?: string;
  /** Lists: expected items with their match, then unmatched extracted items. */
  items?: ItemMatch[];
  /** Lists: item fields compared (plus extra items' fields) and how many were correct. */
  units?: { correct: number; total: number };
}

export interface FieldResult extends Comparison {
  /** Field path, e.g. `issuer`, `lines`, `address.city`; within a list item, relative to the item. */
  path: string;
}

export interface ItemMatch {
  /** Index in the expected list (null for an extra extracted item). */
  expectedIndex: number | null;
  /** Index in the extracted list (null for an expected item nothing matched). */
  extractedIndex: number | null;
  /** Mean score of the item's annotated fields (0 when unmatched). */
  similarity: number;
  /** The item's annotated fields (empty for an extra item). */
  fields: FieldResult[];
}

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

// ---------------------------------------------------------------------------------------------------------------
// Values

/** null, undefined, a blank string or an empty array. */
export function isEmptyValue(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "") ||
    (Array.isArray(value) && value.length === 0);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stripDiacritics(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "");
}

/**
 * Text for fuzzy and exact comparison: Unicode NFKD without diacritics, lower case, a leading `http(s)://` and `www.`
 * and a trailing `/` removed (so `http://www.azure-interior.com` equals `azure-interior.com`), then every whitespace,
 * punctuation and symbol character removed. Non-strings are compared by their JSON text.
 */
export function normalizeText(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  return stripDiacritics(text)
    .toLowerCase()
    .trim()
    .replace(/^(https?:\/\/)?(www\.)?/, "")
    .replace(/\/+$/, "")
    .replace(/[\p{P}\p{S}\p{Z}\s]+/gu, "");
}

/** Levenshtein distance (insertions, deletions, substitutions), by code point. */
export function levenshtein(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  if (left.length === 0) return right.length;
  if (right.length === 0) return left.length;
  let previous = Array.from({ length: right.length + 1 }, (_, j) => j);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1]! + (left[i - 1] === right[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length]!;
}

/**
 * Similarity of two values in 0..1: 1 − Levenshtein distance / length of the longer, on `normalizeText` forms. Two
 * texts that normalise to nothing (only punctuation or symbols, e.g. "€" and "$") are compared case-insensitively as
 * written instead.
 */
export function similarity(a: unknown, b: unknown): number {
  let left = normalizeText(a);
  let right = normalizeText(b);
  if (left === "" && right === "") {
    left = String(a).trim().toLowerCase();
    right = String(b).trim().toLowerCase();
    if (left === right) return 1;
  }
  const longest = Math.max(Array.from(left).length, Array.from(right).length);
  return longest === 0 ? 1 : 1 - levenshtein(left, right) / longest;
}

/**
 * A number from a JSON number or a numeric string; null when it is not one. Strings may carry a currency symbol or a
 * code of up to three letters before or after ("€ 4.11", "4.11 EUR", "USD 4.11", "zł 5"), a sign or accounting
 * parentheses, "4,-" for 4.00, and thousands separators (space, no-break space, apostrophe, "," or "."). Separators:
 *   - both "." and "," present: the later one is the decimal separator ("1,234.50" and "1.234,50" are 1234.5);
 *   - only ",": one comma followed by exactly three digits, after a non-zero integer part, is a thousands separator
 *     ("1,234" is 1234); otherwise one comma is the decimal separator ("4,11", "0,500"); several commas are thousands;
 *   - only ".": one dot is the decimal separator ("1.234" is 1.234); several dots are thousands ("1.234.567").
 */
export function parseNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  let text = value.normalize("NFKC").trim();
  let negative = false;
  const parenthesised = /^\((.*)\)$/s.exec(text);
  if (parenthesised) {
    negative = true;
    text = parenthesised[1]!.trim();
  }
  text = text
    .replace(/\p{Sc}/gu, " ")
    .trim()
    .replace(/^\p{L}{1,3}\.?(?=[\s\d.,+\-\u2212]|$)\s*/u, "")
    .replace(/\s*\p{L}{1,3}\.?$/u, "")
    .replace(/[.,]-$/, "")
    .trim();
  const sign = /^[+\-\u2212]\s*/.exec(text);
  if (sign) {
    if (sign[0].trim() !== "+") negative = !negative;
    text = text.slice(sign[0].length);
  }
  if (!/^(\d|[.,]\d)[\d.,'\s]*$/.test(text) || !/\d$/.test(text)) return null;
  text = text.replace(/['\s]/g, "");
  const dots = (text.match(/\./g) ?? []).length;
  const commas = (text.match(/,/g) ?? []).length;
  if (dots > 0 && commas > 0) {
    const decimal = text.lastIndexOf(".") > text.lastIndexOf(",") ? "." : ",";
    const thousands = decimal === "." ? "," : ".";
    if ((decimal === "." ? dots : commas) !== 1) return null;
    text = text.split(thousands).join("").replace(decimal, ".");
  } else if (commas > 0) {
    const [integer, fraction] = text.split(",") as [string, string];
    const thousandsComma = commas > 1 || (fraction.length === 3 && !/^0*$/.test(integer) && integer !== "");
    text = thousandsComma ? text.split(",").join("") : text.replace(",", ".");
  } else if (dots > 1) {
    text = text.split(".").join("");
  }
  const number = Number(text);
  if (!Number.isFinite(number)) return null;
  return negative ? -number : number;
}

const MONTHS: Record<number, string[]> = {
  1: ["january", "januar", "januari", "janvier", "janner"],
  2: ["february", "februar", "februari", "fevrier"],
  3: ["march", "marz", "maart", "mars"],
  4: ["april", "avril"],
  5: ["may", "mai", "mei"],
  6: ["june", "juni", "juin"],
  7: ["july", "juli", "juillet"],
  8: ["august", "augustus", "aout"],
  9: ["september", "septembre"],
  10: ["october", "oktober", "octobre"],
  11: ["november", "novembre"],
  12: ["december", "dezember", "decembre"],
};
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const FILLER_WORDS = new Set(["of", "the", "de", "den", "der", "le"]);

/** Month number of an English, German, Dutch or French month name or an unambiguous prefix of ≥ 3 letters. */
function monthOf(word: string): number | null {
  if (word.length < 3) return null;
  const found = new Set<number>();
  for (const [month, names] of Object.entries(MONTHS)) {
    if (names.some((name) => name.startsWith(word))) found.add(Number(month));
  }
  return found.size === 1 ? [...found][0]! : null;
}

function fullYear(text: string): number {
  const year = Number(text);
  if (text.length !== 2) return year;
  return year < 70 ? 2000 + year : 1900 + year;
}

function isoDate(year: number, month: number, day: number): string | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  if (month < 1 || month > 12 || day < 1 || year < 1000 || year > 9999) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/**
 * A date as YYYY-MM-DD, or null. Reads:
 *   - ISO and year-first forms: 2014-08-03, 2014/8/3, 2014.08.03, 2014-08-03T10:00:00Z (the time is ignored);
 *   - day.month.year with dots: 03.08.2014, 3.8.14 (always day first);
 *   - numeric with "/" or "-": 03/08/2014, 3-8-14. When one of the first two parts is over 12 it is the day
 *     (13/08/2014, 08/13/2014); when both are ≤ 12 the `order` decides (default "dmy": 03/08/2014 is 3 August);
 *   - a month name (English, German, Dutch or French, full or a prefix of ≥ 3 letters) with a day and a year in either
 *     order: 3 Aug 2014, 3rd August 2014, August 3, 2014, 03-Aug-2014, 3. August 2014, Sunday, 3 August 2014,
 *     18 april 2014.
 * Two-digit years are 2000–2069 below 70, else 1900–1999. Impossible dates (2014-02-30) are null.
 */
export function parseDate(value: unknown, order: DateOrder = "dmy"): string | null {
  if (typeof value !== "string") return null;
  const text = stripDiacritics(value).toLowerCase().trim();
  let match = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t\s].*)?$/.exec(text);
  if (match) return isoDate(Number(match[1]), Number(match[2]), Number(match[3]));
  match = /^(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})$/.exec(text);
  if (match) return isoDate(fullYear(match[3]!), Number(match[2]), Number(match[1]));
  match = /^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})$/.exec(text);
  if (match) {
    const first = Number(match[1]);
    const second = Number(match[3]);
    const dayFirst = first > 12 ? true : second > 12 ? false : order === "dmy";
    return isoDate(fullYear(match[4]!), dayFirst ? second : first, dayFirst ? first : second);
  }
  const words = text.split(/[\s,.\-/]+/).filter((word) => word !== "");
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  for (const word of words) {
    const dayWord = /^(\d{1,2})(st|nd|rd|th|e|er|ste|de)?$/.exec(word);
    if (/^\d{4}$/.test(word)) {
      if (year !== undefined) return null;
      year = Number(word);
    } else if (dayWord && day === undefined) {
      day = Number(dayWord[1]);
    } else if (/^\d{2}$/.test(word) && day !== undefined && year === undefined && month !== undefined) {
      year = fullYear(word);
    } else if (/^\p{L}+$/u.test(word)) {
      const monthNumber = monthOf(word);
      if (monthNumber !== null && month === undefined) month = monthNumber;
      else if (!(FILLER_WORDS.has(word) || (word.length >= 3 && WEEKDAYS.some((name) => name.startsWith(word))))) return null;
    } else {
      return null;
    }
  }
  if (day === undefined || month === undefined || year === undefined) return null;
  return isoDate(year, month, day);
}

// ---------------------------------------------------------------------------------------------------------------
// Schema

function typesOf(node: JsonSchemaNode): string[] {
  if (typeof node.type === "string") return [node.type];
  if (Array.isArray(node.type)) return node.type;
  if (Array.isArray(node.enum)) return [...new Set(node.enum.map((v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)))];
  if (node.properties) return ["object"];
  if (node.items) return ["array"];
  return [];
}

function isObjectNode(node: JsonSchemaNode): boolean {
  return node.properties !== undefined && (node.type === undefined || typesOf(node).includes("object"));
}

function isArrayNode(node: JsonSchemaNode): boolean {
  return typesOf(node).includes("array");
}

interface Leaf {
  /** Path segments from the root. */
  segments: string[];
  node: JsonSchemaNode;
}

/** The leaf fields of a schema, in property order: object properties recurse; arrays and scalars are leaves. */
export function schemaFields(schema: JsonSchemaNode): string[] {
  return leavesOf(schema).map((leaf) => leaf.segments.join("."));
}

function leavesOf(node: JsonSchemaNode, prefix: string[] = []): Leaf[] {
  const leaves: Leaf[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const segments = [...prefix, name];
    if (isObjectNode(child)) leaves.push(...leavesOf(child, segments));
    else leaves.push({ segments, node: child });
  }
  return leaves;
}

/** The value at a path: `present` is false when a key on the way is missing (a null on the way is a present null). */
function lookup(value: unknown, segments: string[]): { present: boolean; value: unknown } {
  let current: unknown = value;
  for (const segment of segments) {
    if (current === null) return { present: true, value: null };
    if (!isPlainObject(current) || !(segment in current)) return { present: false, value: undefined };
    current = current[segment];
  }
  return { present: true, value: current };
}

const IDENTIFIER_WORDS = new Set([
  "number", "no", "nr", "num", "id", "code", "ref", "reference", "iban", "bic", "swift", "vat", "currency", "sku", "zip",
  "postcode",
]);

function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== "");
}

/** Which comparison a leaf gets (rules 1–8 of the module comment). `name` is the property name. */
export function chooseKind(node: JsonSchemaNode, name: string, expected: unknown, options: ScoreOptions = {}): ComparisonKind {
  const types = typesOf(node);
  const words = nameWords(name);
  const description = typeof node.description === "string" ? node.description : "";
  if (Array.isArray(node.enum)) return "exact";
  if (node.type !== undefined && (types.includes("number") || types.includes("integer"))) return "number";
  const dateField = node.format === "date" || node.format === "date-time" || words.includes("date") || /YYYY-MM-DD/.test(description);
  const parsesAsDate = typeof expected === "string" && parseDate(expected, options.dateOrder) !== null;
  if (dateField && parsesAsDate) return "date";
  if (words.some((word) => IDENTIFIER_WORDS.has(word)) || /\bcode\b|\bISO[ -]?\d+/i.test(description)) return "exact";
  if (typeof expected === "boolean") return "exact";
  if (typeof expected === "number") return "number";
  if (typeof expected === "string") {
    if (parsesAsDate && /^\d{4}-\d{2}-\d{2}$/.test(expected.trim())) return "date";
    if (parseNumber(expected) !== null) return "number";
  }
  return "fuzzy";
}

// ---------------------------------------------------------------------------------------------------------------
// Comparisons

/** Compares two non-empty-expected scalar values with the given kind. */
export function compareScalar(kind: ComparisonKind, expected: unknown, extracted: unknown, options: ScoreOptions = {}): Comparison {
  const base = { kind, expected, extracted };
  if (isEmptyValue(extracted)) return { ...base, score: 0, correct: false, note: "nothing extracted" };
  switch (kind) {
    case "number": {
      const want = parseNumber(expected);
      const got = parseNumber(extracted);
      if (want === null) return { ...base, score: 0, correct: false, note: "expected value is not a number" };
      if (got === null) return { ...base, score: 0, correct: false, note: "extracted value is not a number" };
      const tolerance = (options.numberTolerance ?? NUMBER_TOLERANCE) + 1e-9 * Math.max(Math.abs(want), Math.abs(got));
      const correct = Math.abs(want - got) <= tolerance;
      return { ...base, score: correct ? 1 : 0, correct };
    }
    case "date": {
      const want = parseDate(expected, options.dateOrder);
      const got = parseDate(extracted, options.dateOrder);
      if (want === null) return { ...base, score: 0, correct: false, note: "expected value is not a date" };
      if (got === null) return { ...base, score: 0, correct: false, note: "extracted value is not a date" };
      return { ...base, score: want === got ? 1 : 0, correct: want === got, ...(want === got ? {} : { note: `${got} ≠ ${want}` }) };
    }
    case "exact": {
      const correct = typeof expected === typeof extracted && typeof expected !== "string"
        ? JSON.stringify(expected) === JSON.stringify(extracted)
        : similarity(String(expected), String(extracted)) === 1;
      return { ...base, score: correct ? 1 : 0, correct };
    }
    case "fuzzy": {
      const score = similarity(expected, extracted);
      return { ...base, score, correct: score >= (options.fuzzyThreshold ?? FUZZY_THRESHOLD) };
    }
  }
}

/**
 * Compares one field: the empty-expected rule, then a list or a scalar comparison. Returns null when the field is not
 * scored (a list with no annotated item).
 */
export function compareField(
  node: JsonSchemaNode,
  name: string,
  expected: unknown,
  extracted: unknown,
  options: ScoreOptions = {},
): Comparison | null {
  if (isEmptyValue(expected)) {
    const correct = isEmptyValue(extracted);
    return { kind: "exact", expected, extracted, score: correct ? 1 : 0, correct, note: "expected empty: correct when nothing is extracted" };
  }
  if (Array.isArray(expected) && isArrayNode(node)) return compareList(node.items ?? {}, expected, extracted, options);
  return compareScalar(chooseKind(node, name, expected, options), expected, extracted, options);
}

function itemLeaves(itemNode: JsonSchemaNode): Leaf[] {
  return isObjectNode(itemNode) ? leavesOf(itemNode) : [{ segments: [], node: itemNode }];
}

/** The fields of an item to score, with the expected values; null for an item with no annotated field. */
function annotatedFields(leaves: Leaf[], item: unknown, options: ScoreOptions): Array<{ leaf: Leaf; value: unknown }> {
  if (leaves.length === 1 && leaves[0]!.segments.length === 0) return isEmptyValue(item) ? [] : [{ leaf: leaves[0]!, value: item }];
  if (!isPlainObject(item)) return [];
  const found = leaves.map((leaf) => ({ leaf, ...lookup(item, leaf.segments) }));
  if (!found.some((entry) => entry.present)) return [];
  return found
    .filter((entry) => entry.present || options.absent === "null")
    .map(({ leaf, value }) => ({ leaf, value: value ?? null }));
}

function nonEmptyFieldCount(leaves: Leaf[], item: unknown): number {
  if (leaves.length === 1 && leaves[0]!.segments.length === 0) return isEmptyValue(item) ? 0 : 1;
  if (!isPlainObject(item)) return 0;
  return leaves.filter((leaf) => !isEmptyValue(lookup(item, leaf.segments).value)).length;
}

function compareItem(
  fields: Array<{ leaf: Leaf; value: unknown }>,
  extractedItem: unknown,
  options: ScoreOptions,
): FieldResult[] {
  const results: FieldResult[] = [];
  for (const { leaf, value } of fields) {
    const got = leaf.segments.length === 0 ? extractedItem : lookup(extractedItem, leaf.segments).value;
    const comparison = compareField(leaf.node, leaf.segments.at(-1) ?? "", value, got, options);
    if (comparison) results.push({ path: leaf.segments.join("."), ...comparison });
  }
  return results;
}

/** Scores a list field (the list rule of the module comment). */
export function compareList(itemNode: JsonSchemaNode, expected: unknown[], extracted: unknown, options: ScoreOptions = {}): Comparison | null {
  const leaves = itemLeaves(itemNode);
  const expectedItems = expected
    .map((item, index) => ({ index, fields: annotatedFields(leaves, item, options) }))
    .filter((entry) => entry.fields.length > 0);
  if (expectedItems.length === 0) return null;
  const extractedList = Array.isArray(extracted) ? extracted : [];
  const extractedItems = extractedList
    .map((item, index) => ({ index, item }))
    .filter((entry) => nonEmptyFieldCount(leaves, entry.item) > 0);

  const pairs: Array<{ e: number; x: number; similarity: number; fields: FieldResult[] }> = [];
  for (const e of expectedItems) {
    for (const x of extractedItems) {
      const fields = compareItem(e.fields, x.item, options);
      const score = fields.length === 0 ? 0 : fields.reduce((sum, field) => sum + field.score, 0) / fields.length;
      if (score > 0) pairs.push({ e: e.index, x: x.index, similarity: score, fields });
    }
  }
  pairs.sort((a, b) => b.similarity - a.similarity || a.e - b.e || a.x - b.x);
  const byExpected = new Map<number, (typeof pairs)[number]>();
  const usedExtracted = new Set<number>();
  for (const pair of pairs) {
    if (byExpected.has(pair.e) || usedExtracted.has(pair.x)) continue;
    byExpected.set(pair.e, pair);
    usedExtracted.add(pair.x);
  }

  const items: ItemMatch[] = [];
  let correctUnits = 0;
  let totalUnits = 0;
  for (const e of expectedItems) {
    const pair = byExpected.get(e.index);
    const fields = pair?.fields ?? compareItem(e.fields, undefined, options).map((field) => ({ ...field, score: 0, correct: false }));
    totalUnits += fields.length;
    correctUnits += fields.filter((field) => field.correct).length;
    items.push({ expectedIndex: e.index, extractedIndex: pair?.x ?? null, similarity: pair?.similarity ?? 0, fields });
  }
  let extra = 0;
  for (const x of extractedItems) {
    if (usedExtracted.has(x.index)) continue;
    extra++;
    totalUnits += nonEmptyFieldCount(leaves, x.item);
    items.push({ expectedIndex: null, extractedIndex: x.index, similarity: 0, fields: [] });
  }
  const score = totalUnits === 0 ? 0 : correctUnits / totalUnits;
  const unmatched = expectedItems.length - byExpected.size;
  const notes = [`${correctUnits}/${totalUnits} item fields`];
  if (unmatched > 0) notes.push(`${unmatched} expected item${unmatched === 1 ? "" : "s"} unmatched`);
  if (extra > 0) notes.push(`${extra} extra item${extra === 1 ? "" : "s"}`);
  if (extracted !== undefined && extracted !== null && !Array.isArray(extracted)) notes.push("extracted value is not a list");
  return {
    kind: "list",
    expected,
    extracted,
    score,
    correct: correctUnits === totalUnits,
    note: notes.join("; "),
    items,
    units: { correct: correctUnits, total: totalUnits },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Documents

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
