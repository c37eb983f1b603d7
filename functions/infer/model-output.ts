import { ModelOutputError } from "../shared/errors.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";

/**
 * Makes a parsed model answer storable. Grammar-constrained JSON is valid JSON, but numbers can still be ones that
 * JSON cannot round-trip (1e999 parses to Infinity) or that DynamoDB cannot hold (its range is 1e-130..1e126).
 * Such a number is replaced by null where the schema allows null; otherwise the answer is rejected.
 */
const dynamoDbMaxMagnitude = 1e125;
const dynamoDbMinMagnitude = 1e-129;

function allowsNull(schema: JsonSchemaNode | undefined): boolean {
  if (!schema) return false;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.includes("null") || (schema.enum?.includes(null) ?? false);
}

function isStorableNumber(value: number): boolean {
  const magnitude = Math.abs(value);
  return Number.isFinite(value) && magnitude <= dynamoDbMaxMagnitude && (magnitude === 0 || magnitude >= dynamoDbMinMagnitude);
}

export function sanitizeModelValue(value: unknown, schema: JsonSchemaNode | undefined, path = "$"): unknown {
  if (typeof value === "number") {
    if (isStorableNumber(value)) return value;
    if (allowsNull(schema)) return null;
    throw new ModelOutputError(`The model answered ${path} with a number outside the storable range (${value})`);
  }
  if (Array.isArray(value)) return value.map((item, i) => sanitizeModelValue(item, schema?.items, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, sanitizeModelValue(item, schema?.properties?.[key], `${path}.${key}`)]),
    );
  }
  return value;
}
