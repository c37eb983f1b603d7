import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { extractionSchemas, getExtractionSchema } from "../../functions/schemas/index.ts";
import { ConfigurationError } from "../../functions/shared/errors.ts";
import { type JsonSchemaNode } from "../../functions/shared/json-schema.ts";

/** Problems that would let constrained decoding run on, or leave a field out: unbounded strings and lists, optional keys. */
function boundednessProblems(node: JsonSchemaNode, path = "$"): string[] {
  const problems: string[] = [];
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  if (types.includes("string") && node.maxLength === undefined) problems.push(`${path}: string without maxLength`);
  if (types.includes("array")) {
    if (node.maxItems === undefined) problems.push(`${path}: array without maxItems`);
    if (node.items) problems.push(...boundednessProblems(node.items, `${path}[]`));
  }
  if (types.includes("object")) {
    const keys = Object.keys(node.properties ?? {});
    const required = (node.required as string[] | undefined) ?? [];
    for (const key of keys) if (!required.includes(key)) problems.push(`${path}.${key}: not required`);
    if (node.additionalProperties !== false) problems.push(`${path}: additionalProperties is not false`);
    for (const [key, child] of Object.entries(node.properties ?? {})) problems.push(...boundednessProblems(child, `${path}.${key}`));
  }
  if (types.length === 0 && !node.enum) problems.push(`${path}: neither a type nor an enum`);
  return problems;
}

describe("shipped extraction schemas", () => {

  it("ships generic, invoice and review-sentiment, and names the known ids for an unknown one", () => {
    expect(Object.keys(extractionSchemas).sort()).toEqual(["generic", "invoice", "review-sentiment"]);
    expect(() => getExtractionSchema("receipt")).toThrow(ConfigurationError);
    expect(() => getExtractionSchema("receipt")).toThrow(/generic, invoice, review-sentiment/);
  });

  it.each(Object.keys(extractionSchemas))("%s: valid JSON Schema, every key required, every string and list bounded", (id) => {
    const schema = getExtractionSchema(id);
    expect(() => new Ajv2020.default({ strict: false }).compile(schema)).not.toThrow();
    expect(boundednessProblems(schema)).toEqual([]);
  });
});
