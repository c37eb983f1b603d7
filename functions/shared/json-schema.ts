/**
 * The JSON-Schema vocabulary every stage reads: the extraction schemas (functions/schemas), the prompt and grammar
 * (infer) and the merge walk the same nodes, so the node type lives here, below all of them.
 */

export interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  maxItems?: number;
  maxLength?: number;
  [keyword: string]: unknown;
}

/** A node's types: its `type`, or for an enum without one the types of its values. */
export function schemaTypes(schema: JsonSchemaNode): string[] {
  if (schema.type !== undefined) return Array.isArray(schema.type) ? schema.type : [schema.type];
  return [...new Set((schema.enum ?? []).map((value) => (value === null ? "null" : typeof value)))];
}
