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

/**
 * `path` names where a refused number is in the schema's words: keys the schema does not name are the model's own
 * text, so they show as `*`, and the number itself is not shown (ModelOutputError).
 */
export function sanitizeModelValue(value: unknown, schema: JsonSchemaNode | undefined, path = "$"): unknown {
  if (typeof value === "number") {
    if (isStorableNumber(value)) return value;
    if (allowsNull(schema)) return null;
    throw new ModelOutputError(`The model answered ${path} with a number outside the storable range, where the schema does not allow null`);
  }
  if (Array.isArray(value)) return value.map((item, i) => sanitizeModelValue(item, schema?.items, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        const properties = schema?.properties;
        const named = properties !== undefined && Object.hasOwn(properties, key);
        return [key, sanitizeModelValue(item, named ? properties[key] : undefined, `${path}.${named ? key : "*"}`)];
      }),
    );
  }
  return value;
}

/**
 * The model's answer as storable data: `parse` (the schema's grammar) reads it and checks it against the schema. A
 * refusal names the problem and the answer's length; the parser's own message, which quotes the answer, is the cause.
 */
export function parseModelAnswer(text: string, parse: (text: string) => unknown, schema: JsonSchemaNode): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    const problem = error instanceof SyntaxError ? "is not JSON" : "does not match the schema";
    throw new ModelOutputError(`The model's answer (${text.length} characters) ${problem}`, { cause: error });
  }
  const data = sanitizeModelValue(parsed, schema);
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ModelOutputError("The model's answer is not a JSON object");
  }
  return data as Record<string, unknown>;
}
