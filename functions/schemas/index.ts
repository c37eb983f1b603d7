import { ConfigurationError } from "../shared/errors.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import { mergeAnnotationProblems } from "../shared/merge-keywords.ts";
import { reviewAnnotationProblems } from "../shared/review-keywords.ts";
import generic from "./generic.json" with { type: "json" };
import invoice from "./invoice.json" with { type: "json" };
import reviewSentiment from "./review-sentiment.json" with { type: "json" };

/** Extraction schemas shipped with llambda, by id. Imported (not read from disk) so bundles carry them. */
export const extractionSchemas: Record<string, JsonSchemaNode> = {
  generic: generic as JsonSchemaNode,
  invoice: invoice as JsonSchemaNode,
  "review-sentiment": reviewSentiment as JsonSchemaNode,
};

export const defaultSchemaId = "generic";

export function getExtractionSchema(id: string): JsonSchemaNode {
  const schema = extractionSchemas[id];
  if (!schema) {
    throw new ConfigurationError(`Unknown extraction schema "${id}"; known: ${Object.keys(extractionSchemas).join(", ")}`);
  }
  return schema;
}

/**
 * Problems with the shipped schemas' merge keywords (x-merge, x-merge-key) and review keywords (x-grounding,
 * x-review-below), by schema id. The stack refuses to synth with any, so a typo never reaches a document.
 */
export function extractionSchemaProblems(): string[] {
  return Object.entries(extractionSchemas).flatMap(([id, schema]) =>
    [...mergeAnnotationProblems(schema), ...reviewAnnotationProblems(schema)].map((p) => `${id}: ${p}`),
  );
}
