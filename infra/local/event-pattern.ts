/**
 * The local twin's one event-pattern matcher: the subset of EventBridge rule patterns and Lambda event-filtering
 * (FilterCriteria) patterns that this project can use, with AWS's semantics:
 *
 * - Pattern fields nest like the event; every field in the pattern must match (AND), and a leaf is an array of
 *   allowed values, any of which may match (OR).
 * - Plain values: strings, numbers (compared numerically, so 300 matches 3.0e2), booleans and null, by type: the
 *   number 5 does not match the string "5".
 * - `{ "prefix": "x" }`, `{ "anything-but": value | [values] | { "prefix": "x" } }`, `{ "exists": true | false }`,
 *   `{ "numeric": [">", 0, "<=", 5] }`.
 * - Arrays in the event: a leaf matches if any element matches; a nested pattern matches if one element matches all
 *   of its fields (AWS's "array-consistent" matching).
 * - Like AWS, only leaves (strings, numbers, booleans, null) count as present: `exists: true` does not match a field
 *   whose value is an object or an empty array, and `exists: false` does.
 *
 * Anything else (suffix, equals-ignore-case, wildcard, cidr, $or, a bare value where an array belongs, ...) throws an
 * Error naming it, and the whole pattern is checked before any event is looked at: a pattern the twin cannot honour
 * must fail loudly, never match by accident.
 *
 * Known simplification: `exists: false` on a field inside an array of objects is judged per element, so it matches
 * when some element lacks the field.
 */

type Leaf = string | number | boolean | null;

/** One entry of a pattern leaf array. */
export type PatternValue =
  | Leaf
  | { prefix: string }
  | { "anything-but": string | number | string[] | number[] | { prefix: string } }
  | { exists: boolean }
  | { numeric: Array<string | number> };

export interface EventPattern {
  [field: string]: EventPattern | PatternValue[];
}

/** Tests the leaf values found at one field (none when the field is absent). */
type LeafTest = (leaves: readonly Leaf[]) => boolean;

type CompiledNode = Array<{ field: string } & ({ tests: LeafTest[] } | { node: CompiledNode })>;

/** A checked pattern, ready to test events against. */
export type CompiledEventPattern = (event: unknown) => boolean;

/** Checks the whole pattern (throwing on anything unsupported) and returns its matcher; compile once to match many. */
export function compileEventPattern(pattern: object): CompiledEventPattern {
  if (!isPlainObject(pattern)) throw new Error(`An event pattern must be a JSON object, got ${formatValue(pattern)}`);
  const root = compileNode(pattern, "");
  return (event) => matchesNode(event, root);
}

export function matchesEventPattern(event: unknown, pattern: object): boolean {
  return compileEventPattern(pattern)(event);
}

/**
 * Lambda FilterCriteria: a record passes when ANY of the filters matches; without filters every record passes.
 * All filters are checked first, so an unsupported one fails even when an earlier one would match.
 */
export function matchesAnyFilter(event: unknown, patterns: readonly object[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.map(compileEventPattern).some((matches) => matches(event));
}

function compileNode(pattern: Record<string, unknown>, path: string): CompiledNode {
  return Object.entries(pattern).map(([field, expected]) => {
    const fieldPath = path ? `${path}.${field}` : field;
    if (field === "$or") throw new Error(`Unsupported event pattern operator "$or" at ${path || "the top level"}`);
    if (Array.isArray(expected)) {
      if (expected.length === 0) throw new Error(`Event pattern field "${fieldPath}" has an empty array of values`);
      return { field, tests: expected.map((value: unknown) => compileValue(value, fieldPath)) };
    }
    if (isPlainObject(expected)) return { field, node: compileNode(expected, fieldPath) };
    // AWS rejects `"field": "value"`; matching it as if it were ["value"] would hide a pattern that cannot deploy.
    throw new Error(`Event pattern field "${fieldPath}" must be an array of values or a nested pattern, got ${formatValue(expected)}`);
  });
}

function compileValue(value: unknown, path: string): LeafTest {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    // JSON numbers arrive as doubles, so === is the numeric comparison AWS makes (300 === 3.0e2).
    return (leaves) => leaves.some((leaf) => leaf === value);
  }
  if (!isPlainObject(value)) throw new Error(`Unsupported value ${formatValue(value)} in event pattern field "${path}"`);
  const operators = Object.keys(value);
  if (operators.length !== 1) {
    throw new Error(`Event pattern field "${path}": an operator object needs exactly one key, got ${formatValue(value)}`);
  }
  const operator = operators[0]!;
  const operand = value[operator];
  switch (operator) {
    case "prefix": {
      const prefix = expectString(operand, `${path}: prefix`);
      return (leaves) => leaves.some((leaf) => typeof leaf === "string" && leaf.startsWith(prefix));
    }
    case "anything-but": {
      const excluded = compileAnythingBut(operand, path);
      // Like every operator but exists:false, anything-but needs the field to be present.
      return (leaves) => leaves.some((leaf) => !excluded(leaf));
    }
    case "exists": {
      if (typeof operand !== "boolean") throw new Error(`Event pattern field "${path}": exists takes true or false, got ${formatValue(operand)}`);
      return operand ? (leaves) => leaves.length > 0 : (leaves) => leaves.length === 0;
    }
    case "numeric": {
      const inRange = compileNumeric(operand, path);
      return (leaves) => leaves.some((leaf) => typeof leaf === "number" && inRange(leaf));
    }
    default:
      throw new Error(`Unsupported event pattern operator "${operator}" in field "${path}"`);
  }
}

/** Returns whether a leaf is excluded; AWS allows one string or number, a list of all strings or all numbers, or a prefix. */
function compileAnythingBut(operand: unknown, path: string): (leaf: Leaf) => boolean {
  if (typeof operand === "string" || typeof operand === "number") return (leaf) => leaf === operand;
  if (Array.isArray(operand)) {
    const allStrings = operand.every((item) => typeof item === "string");
    const allNumbers = operand.every((item) => typeof item === "number");
    if (operand.length === 0 || !(allStrings || allNumbers)) {
      throw new Error(`Event pattern field "${path}": anything-but needs a non-empty list of all strings or all numbers, got ${formatValue(operand)}`);
    }
    const values = new Set<unknown>(operand);
    return (leaf) => values.has(leaf);
  }
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length === 1 && keys[0] === "prefix") {
      const prefix = expectString(operand.prefix, `${path}: anything-but prefix`);
      return (leaf) => typeof leaf === "string" && leaf.startsWith(prefix);
    }
    throw new Error(`Unsupported event pattern operator "anything-but" with ${formatValue(operand)} in field "${path}"`);
  }
  throw new Error(`Event pattern field "${path}": unsupported anything-but value ${formatValue(operand)}`);
}

const comparisons: Record<string, (actual: number, bound: number) => boolean> = {
  "=": (actual, bound) => actual === bound,
  "<": (actual, bound) => actual < bound,
  "<=": (actual, bound) => actual <= bound,
  ">": (actual, bound) => actual > bound,
  ">=": (actual, bound) => actual >= bound,
};

/** `["op", n]` or `["op", n, "op", m]`; every comparison must hold. */
function compileNumeric(operand: unknown, path: string): (value: number) => boolean {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
    throw new Error(`Event pattern field "${path}": numeric takes [op, number] or [op, number, op, number], got ${formatValue(operand)}`);
  }
  const checks: Array<(value: number) => boolean> = [];
  for (let i = 0; i < operand.length; i += 2) {
    const op: unknown = operand[i];
    const bound: unknown = operand[i + 1];
    const compare = typeof op === "string" ? comparisons[op] : undefined;
    if (!compare) throw new Error(`Unsupported numeric operator ${formatValue(op)} in event pattern field "${path}"`);
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      throw new Error(`Event pattern field "${path}": numeric bound must be a number, got ${formatValue(bound)}`);
    }
    checks.push((value) => compare(value, bound));
  }
  return (value) => checks.every((check) => check(value));
}

function matchesNode(event: unknown, node: CompiledNode): boolean {
  if (Array.isArray(event)) {
    // Array-consistent: all fields of this nested pattern must come from the same element.
    const elements = event.flat(Infinity) as unknown[];
    if (elements.length > 0) return elements.some((element) => matchesNode(element, node));
    event = undefined;
  }
  return node.every((entry) => {
    const actual = isPlainObject(event) ? event[entry.field] : undefined;
    if ("node" in entry) return matchesNode(actual, entry.node);
    const leaves = leafValues(actual);
    return entry.tests.some((test) => test(leaves));
  });
}

/** The values AWS sees at a field: the value itself if it is a leaf, the leaves of an array, nothing otherwise. */
function leafValues(value: unknown): Leaf[] {
  const values = Array.isArray(value) ? (value.flat(Infinity) as unknown[]) : [value];
  return values.filter(
    (item): item is Leaf => item === null || typeof item === "string" || typeof item === "number" || typeof item === "boolean",
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function expectString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new Error(`Event pattern ${what} must be a string, got ${formatValue(value)}`);
  return value;
}

function formatValue(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value);
}
