import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";
import { isArrayNode, isObjectNode, leavesOf, lookup, typesOf, type Leaf } from "./schema-fields.ts";
import { isEmptyValue, isPlainObject, parseDate, parseNumber, similarity, type DateOrder } from "./values.ts";

/**
 * Comparison of one field's expected and extracted values: the kind a leaf gets, scalar comparisons and lists (the
 * rules are in bench/eval/score.ts's module comment). Pure.
 */

/** Fuzzy strings are correct when their normalised similarity is at least this. */
export const FUZZY_THRESHOLD = 0.8;
/** Numbers are equal when they differ by at most this (absolute; plus 1e-9 of their magnitude). */
export const NUMBER_TOLERANCE = 0.005;

export type ComparisonKind = "exact" | "number" | "date" | "fuzzy";
export type FieldKind = ComparisonKind | "list";

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

/** Which comparison a leaf gets (rules 1–8 of score.ts's module comment). `name` is the property name. */
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

/** Scores a list field (the list rule of score.ts's module comment). */
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
