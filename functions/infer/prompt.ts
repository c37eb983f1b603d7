import type { JsonSchemaNode } from "../shared/json-schema.ts";

/**
 * Prompts for schema-constrained extraction. The system prompt depends only on the schema and instructions, so it is
 * identical for every chunk and llama.cpp reuses its KV cache between chunks; the chunk text goes in the user turn.
 */

export const defaultInstructions =
  "You extract facts from documents. Read the text the user gives you, which is one part of a longer document, " +
  "and answer with a single JSON object that follows the field guide. Use only what this part of the text says; " +
  "use null or an empty list for anything it does not say. Copy names, dates and amounts exactly as written.";

/** One line per field: `path (type): description`, so the model knows what each field means. */
export function describeFields(schema: JsonSchemaNode, path = ""): string[] {
  const lines: string[] = [];
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    const fieldPath = path ? `${path}.${name}` : name;
    const kind = node.enum
      ? `one of ${node.enum.map((value) => JSON.stringify(value)).join(", ")}`
      : Array.isArray(node.type)
        ? node.type.join(" or ")
        : (node.type ?? "value");
    lines.push(`- ${fieldPath} (${kind})${node.description ? `: ${node.description}` : ""}`);
    if (node.properties) lines.push(...describeFields(node, fieldPath));
    if (node.items?.properties) lines.push(...describeFields(node.items, `${fieldPath}[]`));
  }
  return lines;
}

export function buildSystemPrompt(schema: JsonSchemaNode, instructions: string = defaultInstructions): string {
  const heading = schema.title ? `Field guide for "${schema.title}":` : "Field guide:";
  return [instructions, "", heading, ...describeFields(schema)].join("\n");
}

export interface ChunkPromptInput {
  text: string;
  pageStart: number;
  pageEnd: number;
  /** The answer's token budget for this chunk, when not the engine's (a retry after OutputTruncated). */
  maxOutputTokens?: number;
}

export function buildUserPrompt(chunk: ChunkPromptInput): string {
  const pages = chunk.pageStart === chunk.pageEnd ? `page ${chunk.pageStart}` : `pages ${chunk.pageStart}-${chunk.pageEnd}`;
  return `Text from ${pages}:\n"""\n${chunk.text}\n"""\nAnswer with the JSON object.`;
}
