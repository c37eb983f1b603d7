import { schemaTypes, type JsonSchemaNode } from "./json-schema.ts";

/**
 * The schema keywords that say how far to trust a value: whether it must be found in the document (`x-grounding`) and
 * below which confidence a person should look (`x-review-below`). The schemas (checked at synth), the merge and the
 * review page read them, so they live below all three.
 */
export const ReviewKeywords = {
  /**
   * `required`: a value not found in the document is replaced by null (the item keeps what the model gave, with the
   * reason); `optional` (the default): it is kept and flagged for review; `none`: the value need not appear as written
   * (a summary, a code the model derives), so it is not looked for.
   */
  grounding: "x-grounding",
  /** A confidence (0-1): a field below it needs review. On the schema's root it applies to every field without its own. */
  reviewBelow: "x-review-below",
} as const;

export type GroundingRule = "required" | "optional" | "none";
export const groundingRules: readonly GroundingRule[] = ["required", "optional", "none"];

/** The confidence under which a field needs review when its schema says nothing. */
export const defaultReviewBelow = 0.5;

/** A node's grounding rule: its `x-grounding`, else `none` for enums, consts and booleans (nothing to quote), else `optional`. */
export function groundingRuleOf(schema: JsonSchemaNode): GroundingRule {
  const declared = schema[ReviewKeywords.grounding];
  if (typeof declared === "string" && (groundingRules as readonly string[]).includes(declared)) return declared as GroundingRule;
  if (schema.enum !== undefined || schema.const !== undefined) return "none";
  const types = schemaTypes(schema).filter((type) => type !== "null");
  if (types.length > 0 && types.every((type) => type === "boolean")) return "none";
  return "optional";
}

/** A node's review threshold: its own `x-review-below`, else the root's, else the default. */
export function reviewBelowOf(schema: JsonSchemaNode, root: JsonSchemaNode): number {
  const own = schema[ReviewKeywords.reviewBelow] ?? root[ReviewKeywords.reviewBelow];
  return typeof own === "number" ? own : defaultReviewBelow;
}

/** Problems with a schema's review keywords: unknown rules, a required value that cannot be null, thresholds outside 0-1. */
export function reviewAnnotationProblems(schema: JsonSchemaNode, path = "$"): string[] {
  const problems: string[] = [];
  const rule = schema[ReviewKeywords.grounding];
  if (rule !== undefined) {
    if (typeof rule !== "string" || !(groundingRules as readonly string[]).includes(rule)) {
      problems.push(`${path}: ${ReviewKeywords.grounding} ${JSON.stringify(rule)} is not one of ${groundingRules.join(", ")}`);
    } else if (rule === "required") {
      const types = schemaTypes(schema);
      if (!["string", "number", "integer"].some((type) => types.includes(type))) {
        problems.push(`${path}: ${ReviewKeywords.grounding} "required" needs a string or a number`);
      } else if (!types.includes("null")) {
        // An ungrounded value becomes null: the result must stay valid against the schema.
        problems.push(`${path}: ${ReviewKeywords.grounding} "required" needs a type that allows null`);
      }
    }
  }
  const below = schema[ReviewKeywords.reviewBelow];
  if (below !== undefined && (typeof below !== "number" || !(below >= 0 && below <= 1))) {
    problems.push(`${path}: ${ReviewKeywords.reviewBelow} ${JSON.stringify(below)} must be a number from 0 to 1`);
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) problems.push(...reviewAnnotationProblems(child, `${path}.${name}`));
  if (schema.items) problems.push(...reviewAnnotationProblems(schema.items, `${path}[]`));
  return problems;
}
