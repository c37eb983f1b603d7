import type { MergeConflict } from "./document-item.ts";
import { schemaTypes, type JsonSchemaNode } from "./json-schema.ts";

/**
 * The merge annotations an extraction schema may carry (`x-merge`, `x-merge-key`) and their validation. The schemas
 * (checked at synth), the result validation and the merge itself read them, so they live below all three; the merge
 * strategies themselves stay in functions/merge/merge.ts.
 */

export type MergeStrategy = MergeConflict["strategy"];
export const mergeStrategies: readonly MergeStrategy[] = ["first", "last", "concat", "union", "sum", "max", "min", "vote"];

/** Schema keywords read by the merge. */
export const MergeKeywords = {
  /** The field's MergeStrategy. */
  strategy: "x-merge",
  /** For `union` of an array of objects: the item field (or fields) that identify an item. */
  key: "x-merge-key",
} as const;

/** Problems with a schema's merge keywords (unknown strategies, strategies that do not fit the type, bad keys). */
export function mergeAnnotationProblems(schema: JsonSchemaNode, path = "$"): string[] {
  const problems: string[] = [];
  const declared = schema[MergeKeywords.strategy];
  const types = schemaTypes(schema);
  if (declared !== undefined) {
    if (typeof declared !== "string" || !(mergeStrategies as readonly string[]).includes(declared)) {
      problems.push(`${path}: ${MergeKeywords.strategy} ${JSON.stringify(declared)} is not one of ${mergeStrategies.join(", ")}`);
    } else if (declared === "union" && !types.includes("array")) {
      problems.push(`${path}: union needs an array`);
    } else if (declared === "concat" && !types.includes("array") && !types.includes("string")) {
      problems.push(`${path}: concat needs an array or a string`);
    } else if (declared === "sum" && !types.includes("number") && !types.includes("integer")) {
      problems.push(`${path}: sum needs a number`);
    } else if ((declared === "max" || declared === "min") && !["number", "integer", "string"].some((t) => types.includes(t))) {
      problems.push(`${path}: ${declared} needs a number or a string`);
    }
  }
  const key = schema[MergeKeywords.key];
  if (key !== undefined) {
    const keys = Array.isArray(key) ? key : [key];
    const itemFields = Object.keys(schema.items?.properties ?? {});
    if (keys.length === 0 || keys.some((k) => typeof k !== "string" || !itemFields.includes(k))) {
      problems.push(`${path}: ${MergeKeywords.key} ${JSON.stringify(key)} must name fields of the list's items (${itemFields.join(", ")})`);
    }
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) problems.push(...mergeAnnotationProblems(child, `${path}.${name}`));
  if (schema.items) problems.push(...mergeAnnotationProblems(schema.items, `${path}[]`));
  return problems;
}
