import type { ChunkResult } from "../shared/contracts.ts";
import type { JsonSchemaNode } from "../infer/prompt.ts";

/**
 * Merges per-chunk extractions into one document result, walking the schema. Chunks are taken in chunk order:
 * - arrays: concatenated, duplicates (same JSON) dropped, cut to the schema's maxItems;
 * - objects: merged field by field;
 * - everything else: the first chunk's non-empty value (null when no chunk has one).
 */
function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function allowsType(schema: JsonSchemaNode, type: string): boolean {
  return Array.isArray(schema.type) ? schema.type.includes(type) : schema.type === type;
}

export function mergeValues(values: unknown[], schema: JsonSchemaNode): unknown {
  if (allowsType(schema, "array")) {
    const seen = new Set<string>();
    const merged: unknown[] = [];
    for (const value of values) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        const key = canonicalJson(item);
        if (seen.has(key)) continue;
        seen.add(key);
        merged.push(item);
      }
    }
    return schema.maxItems === undefined ? merged : merged.slice(0, schema.maxItems);
  }
  if (schema.properties) {
    const objects = values.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v));
    if (objects.length === 0) return allowsType(schema, "null") ? null : {};
    return Object.fromEntries(
      Object.entries(schema.properties).map(([name, node]) => [name, mergeValues(objects.map((o) => o[name]), node)]),
    );
  }
  const first = values.find((value) => !isEmpty(value));
  if (first !== undefined) return first;
  // Nothing found anywhere: null where allowed, else the first chunk's (empty) value so the result stays schema-valid.
  return allowsType(schema, "null") || schema.enum?.includes(null) ? null : (values.find((v) => v !== undefined) ?? null);
}

/** Document order of chunk results: by chunk index, then by split part ("1" < "1.2" < "2"). */
export function compareChunkOrder(a: Pick<ChunkResult, "index" | "part">, b: Pick<ChunkResult, "index" | "part">): number {
  if (a.index !== b.index) return a.index - b.index;
  const pa = a.part?.split(".").map(Number) ?? [];
  const pb = b.part?.split(".").map(Number) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** One record's merged result in a record batch. */
export interface RecordResult {
  recordId: string;
  data: Record<string, unknown>;
}

/**
 * Record batches: merges chunk results (any order) per record (by recordId), each record's chunks in chunk order;
 * records in the order of their first chunk. Every result must carry a recordId.
 */
export function mergeRecordResults(results: ChunkResult[], schema: JsonSchemaNode): RecordResult[] {
  const groups = new Map<string, ChunkResult[]>();
  for (const result of [...results].sort(compareChunkOrder)) {
    if (result.recordId === undefined) throw new TypeError(`Chunk ${result.index} of a record batch has no recordId`);
    const group = groups.get(result.recordId);
    if (group) group.push(result);
    else groups.set(result.recordId, [result]);
  }
  return [...groups].map(([recordId, group]) => ({ recordId, data: mergeChunkResults(group, schema) }));
}

/** Merges chunk results (any order) into one result for the document, in chunk order. */
export function mergeChunkResults(results: ChunkResult[], schema: JsonSchemaNode): Record<string, unknown> {
  const ordered = [...results].sort(compareChunkOrder);
  return mergeValues(
    ordered.map((result) => result.data),
    schema,
  ) as Record<string, unknown>;
}
