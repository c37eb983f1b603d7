import type { JsonSchemaNode } from "../infer/prompt.ts";
import { ConfigurationError } from "../shared/errors.ts";
import generic from "./generic.json" with { type: "json" };

/** Extraction schemas shipped with llambda, by id. Imported (not read from disk) so bundles carry them. */
export const extractionSchemas: Record<string, JsonSchemaNode> = {
  generic: generic as JsonSchemaNode,
};

export const defaultSchemaId = "generic";

export function getExtractionSchema(id: string): JsonSchemaNode {
  const schema = extractionSchemas[id];
  if (!schema) {
    throw new ConfigurationError(`Unknown extraction schema "${id}"; known: ${Object.keys(extractionSchemas).join(", ")}`);
  }
  return schema;
}
