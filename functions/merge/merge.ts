import type { ChunkResult } from "../shared/contracts.ts";
import type { MergeConflict, PageRange, Provenance } from "../shared/document-item.ts";
import { schemaTypes, type JsonSchemaNode } from "../shared/json-schema.ts";
import { MergeKeywords, type MergeStrategy } from "../shared/merge-keywords.ts";

/**
 * Merges per-chunk extractions into one result, walking the schema. Each field merges by the strategy its schema node
 * declares with the `x-merge` keyword (functions/shared/merge-keywords.ts), or by its type's default:
 * - objects: field by field;
 * - arrays: `union` — items of all chunks in page order, duplicates dropped (same `x-merge-key` fields, else same JSON);
 * - everything else: `first` — the first non-empty value in page order.
 * Every merged value records where it came from (chunk indexes and page ranges), and chunks that disagree are kept
 * as conflicts instead of being dropped silently.
 */

export interface MergedResult {
  value: Record<string, unknown>;
  /** Provenance per field path with a value (empty values have none); list items per item (`lines[0]`). */
  provenance: Record<string, Provenance>;
  conflicts: MergeConflict[];
}

/** The chunk a value comes from. */
export interface ChunkRef {
  index: number;
  part?: string;
  pageStart: number;
  pageEnd: number;
}

interface Contribution {
  value: unknown;
  chunk: ChunkRef;
}

function isEmpty(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    (typeof value === "string" && value.trim() === "") ||
    (Array.isArray(value) && value.length === 0)
  );
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function allowsNull(schema: JsonSchemaNode): boolean {
  return schemaTypes(schema).includes("null") || (schema.enum?.includes(null) ?? false);
}

/** The strategy a schema node merges by: its `x-merge`, else its type's default. */
export function strategyOf(schema: JsonSchemaNode): MergeStrategy | "fields" {
  const declared = schema[MergeKeywords.strategy];
  if (typeof declared === "string") return declared as MergeStrategy;
  if (schemaTypes(schema).includes("array")) return "union";
  if (schema.properties) return "fields";
  return "first";
}

/** Chunk indexes (distinct, ascending) and their page ranges, consecutive and overlapping ranges joined. */
export function provenanceOf(chunks: readonly ChunkRef[]): Provenance {
  const indexes = [...new Set(chunks.map((chunk) => chunk.index))].sort((a, b) => a - b);
  const ranges = chunks.map((chunk) => ({ start: chunk.pageStart, end: chunk.pageEnd })).sort((a, b) => a.start - b.start);
  const pages: PageRange[] = [];
  for (const range of ranges) {
    const last = pages[pages.length - 1];
    if (last && range.start <= last.end + 1) last.end = Math.max(last.end, range.end);
    else pages.push({ ...range });
  }
  return { chunks: indexes, pages };
}

/** Non-empty values grouped by equal JSON, in order of first appearance. */
function groupByValue(contributions: Contribution[]): Array<{ value: unknown; chunks: ChunkRef[] }> {
  const groups = new Map<string, { value: unknown; chunks: ChunkRef[] }>();
  for (const { value, chunk } of contributions) {
    if (isEmpty(value)) continue;
    const key = canonicalJson(value);
    const group = groups.get(key);
    if (group) group.chunks.push(chunk);
    else groups.set(key, { value, chunks: [chunk] });
  }
  return [...groups.values()];
}

const chunkIndexes = (chunks: ChunkRef[]) => provenanceOf(chunks).chunks;

class Merger {
  readonly provenance: Record<string, Provenance> = {};
  readonly conflicts: MergeConflict[] = [];

  merge(contributions: Contribution[], schema: JsonSchemaNode, path: string): unknown {
    const strategy = strategyOf(schema);
    switch (strategy) {
      case "fields":
        return this.mergeFields(contributions, schema, path);
      case "union":
        return this.mergeUnion(contributions, schema, path);
      case "concat":
        return this.mergeConcat(contributions, schema, path);
      case "sum":
        return this.mergeSum(contributions, schema, path);
      default:
        return this.choose(contributions, schema, path, strategy);
    }
  }

  private emptyValue(contributions: Contribution[], schema: JsonSchemaNode): unknown {
    if (schemaTypes(schema).includes("array")) return [];
    if (allowsNull(schema)) return null;
    // Nothing found and null not allowed: a chunk's own (empty) value keeps the result schema-valid.
    return contributions.find((c) => c.value !== undefined)?.value ?? (schemaTypes(schema).includes("string") ? "" : null);
  }

  private record(path: string, chunks: ChunkRef[]): void {
    this.provenance[path] = provenanceOf(chunks);
  }

  private mergeFields(contributions: Contribution[], schema: JsonSchemaNode, path: string): unknown {
    const objects = contributions.filter(
      (c): c is Contribution & { value: Record<string, unknown> } =>
        c.value !== null && typeof c.value === "object" && !Array.isArray(c.value),
    );
    if (objects.length === 0 && allowsNull(schema)) return null;
    return Object.fromEntries(
      Object.entries(schema.properties ?? {}).map(([name, node]) => [
        name,
        this.merge(
          objects.map((c) => ({ value: c.value[name], chunk: c.chunk })),
          node,
          path ? `${path}.${name}` : name,
        ),
      ]),
    );
  }

  /** first / last / vote / max / min: one chunk's value wins; the others, when different, are conflicts. */
  private choose(contributions: Contribution[], schema: JsonSchemaNode, path: string, strategy: MergeStrategy): unknown {
    let groups = groupByValue(contributions);
    if (strategy === "max" || strategy === "min") {
      // Only comparable values compete: numbers, or strings (ISO dates compare as strings).
      const numeric = groups.filter((g) => typeof g.value === "number");
      groups = numeric.length > 0 ? numeric : groups.filter((g) => typeof g.value === "string");
    }
    if (groups.length === 0) return this.emptyValue(contributions, schema);
    let chosen = groups[0]!;
    if (strategy === "last") {
      const lastChunk = contributions.filter((c) => !isEmpty(c.value)).at(-1)!.chunk;
      chosen = groups.find((g) => g.chunks.includes(lastChunk))!;
    } else if (strategy === "vote") {
      // Most chunks win; a tie goes to the value seen first.
      for (const group of groups) if (group.chunks.length > chosen.chunks.length) chosen = group;
    } else if (strategy === "max" || strategy === "min") {
      const sign = strategy === "max" ? 1 : -1;
      for (const group of groups) {
        const a = group.value as number | string;
        const b = chosen.value as number | string;
        if ((a > b ? 1 : a < b ? -1 : 0) * sign > 0) chosen = group;
      }
    }
    this.record(path, chosen.chunks);
    if (groups.length > 1) {
      this.conflicts.push({
        path,
        strategy,
        reason: "disagreement",
        chosen: chosen.value,
        candidates: groups.map((g) => ({ value: g.value, chunks: chunkIndexes(g.chunks) })),
      });
    }
    return chosen.value;
  }

  private mergeSum(contributions: Contribution[], schema: JsonSchemaNode, path: string): unknown {
    const numbers = contributions.filter((c): c is Contribution & { value: number } => typeof c.value === "number");
    if (numbers.length === 0) return this.emptyValue(contributions, schema);
    this.record(path, numbers.map((c) => c.chunk));
    // Rounded to 15 significant digits: 0.1 + 0.2 is 0.3 in a document.
    return Number(numbers.reduce((sum, c) => sum + c.value, 0).toPrecision(15));
  }

  private mergeConcat(contributions: Contribution[], schema: JsonSchemaNode, path: string): unknown {
    if (schemaTypes(schema).includes("array")) {
      const items = contributions.flatMap((c) => (Array.isArray(c.value) ? c.value.map((value) => ({ value, chunks: [c.chunk] })) : []));
      return this.emitItems(items, schema, path, "concat");
    }
    const texts = contributions.filter((c) => typeof c.value === "string" && !isEmpty(c.value));
    if (texts.length === 0) return this.emptyValue(contributions, schema);
    this.record(path, texts.map((c) => c.chunk));
    const joined = texts.map((c) => (c.value as string).trim()).join("\n");
    if (schema.maxLength !== undefined && joined.length > schema.maxLength) {
      const kept = joined.slice(0, schema.maxLength);
      this.conflicts.push({
        path,
        strategy: "concat",
        reason: "over-limit",
        chosen: kept,
        candidates: [{ value: joined.slice(schema.maxLength), chunks: chunkIndexes(texts.map((c) => c.chunk)) }],
      });
      return kept;
    }
    return joined;
  }

  /** Items of every chunk in page order; an item already seen (by key, else whole) adds its chunk to the first's. */
  private mergeUnion(contributions: Contribution[], schema: JsonSchemaNode, path: string): unknown {
    const keyFields = schema[MergeKeywords.key];
    const keys = keyFields === undefined ? undefined : Array.isArray(keyFields) ? (keyFields as string[]) : [keyFields as string];
    const identity = (item: unknown): string =>
      keys && item !== null && typeof item === "object"
        ? canonicalJson(keys.map((k) => (item as Record<string, unknown>)[k]))
        : canonicalJson(item);
    const items = new Map<string, { value: unknown; chunks: ChunkRef[]; variants: Map<string, { value: unknown; chunks: ChunkRef[] }> }>();
    for (const { value, chunk } of contributions) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        const id = identity(item);
        const whole = canonicalJson(item);
        const known = items.get(id);
        if (!known) {
          items.set(id, { value: item, chunks: [chunk], variants: new Map([[whole, { value: item, chunks: [chunk] }]]) });
          continue;
        }
        if (!known.chunks.includes(chunk)) known.chunks.push(chunk);
        const variant = known.variants.get(whole);
        if (variant) variant.chunks.push(chunk);
        else known.variants.set(whole, { value: item, chunks: [chunk] });
      }
    }
    const merged = [...items.values()];
    const result = this.emitItems(merged, schema, path, "union");
    merged.slice(0, (result as unknown[]).length).forEach((item, i) => {
      if (item.variants.size > 1) {
        this.conflicts.push({
          path: `${path}[${i}]`,
          strategy: "union",
          reason: "key-collision",
          chosen: item.value,
          candidates: [...item.variants.values()].map((v) => ({ value: v.value, chunks: chunkIndexes(v.chunks) })),
        });
      }
    });
    return result;
  }

  private emitItems(items: Array<{ value: unknown; chunks: ChunkRef[] }>, schema: JsonSchemaNode, path: string, strategy: MergeStrategy): unknown[] {
    const limit = schema.maxItems ?? Infinity;
    const kept = items.slice(0, limit);
    kept.forEach((item, i) => this.record(`${path}[${i}]`, item.chunks));
    if (items.length > kept.length) {
      this.conflicts.push({
        path,
        strategy,
        reason: "over-limit",
        chosen: kept.length,
        candidates: items.slice(kept.length).map((item) => ({ value: item.value, chunks: chunkIndexes(item.chunks) })),
      });
    }
    return kept.map((item) => item.value);
  }
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

/** Merges chunk results (any order) into one result, in page order, with provenance and conflicts. */
export function mergeChunkResults(results: ChunkResult[], schema: JsonSchemaNode): MergedResult {
  const ordered = [...results].sort(compareChunkOrder);
  const merger = new Merger();
  const value = merger.merge(
    ordered.map((result) => ({
      value: result.data,
      chunk: { index: result.index, pageStart: result.pageStart, pageEnd: result.pageEnd, ...(result.part ? { part: result.part } : {}) },
    })),
    schema,
    "",
  ) as Record<string, unknown>;
  return { value, provenance: merger.provenance, conflicts: merger.conflicts };
}

/** One record's merged result in a record batch. */
export interface RecordResult extends MergedResult {
  recordId: string;
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
  return [...groups].map(([recordId, group]) => ({ recordId, ...mergeChunkResults(group, schema) }));
}
