import type { JsonSchemaNode } from "../../functions/shared/json-schema.ts";
import { isPlainObject } from "./values.ts";

/** The fields an extraction schema defines for scoring (bench/eval/score.ts), and the values at their paths. */

export function typesOf(node: JsonSchemaNode): string[] {
  if (typeof node.type === "string") return [node.type];
  if (Array.isArray(node.type)) return node.type;
  if (Array.isArray(node.enum)) return [...new Set(node.enum.map((v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)))];
  if (node.properties) return ["object"];
  if (node.items) return ["array"];
  return [];
}

export function isObjectNode(node: JsonSchemaNode): boolean {
  return node.properties !== undefined && (node.type === undefined || typesOf(node).includes("object"));
}

export function isArrayNode(node: JsonSchemaNode): boolean {
  return typesOf(node).includes("array");
}

export interface Leaf {
  /** Path segments from the root. */
  segments: string[];
  node: JsonSchemaNode;
}

/** The leaf fields of a schema, in property order: object properties recurse; arrays and scalars are leaves. */
export function schemaFields(schema: JsonSchemaNode): string[] {
  return leavesOf(schema).map((leaf) => leaf.segments.join("."));
}

export function leavesOf(node: JsonSchemaNode, prefix: string[] = []): Leaf[] {
  const leaves: Leaf[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const segments = [...prefix, name];
    if (isObjectNode(child)) leaves.push(...leavesOf(child, segments));
    else leaves.push({ segments, node: child });
  }
  return leaves;
}

/** The value at a path: `present` is false when a key on the way is missing (a null on the way is a present null). */
export function lookup(value: unknown, segments: string[]): { present: boolean; value: unknown } {
  let current: unknown = value;
  for (const segment of segments) {
    if (current === null) return { present: true, value: null };
    if (!isPlainObject(current) || !(segment in current)) return { present: false, value: undefined };
    current = current[segment];
  }
  return { present: true, value: current };
}
