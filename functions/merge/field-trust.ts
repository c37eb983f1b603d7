import type { ChunkResult } from "../shared/contracts.ts";
import type { DocumentItem, FieldGrounding, MergeConflict, Provenance, ReviewReason } from "../shared/document-item.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import { groundingRuleOf, reviewBelowOf, type GroundingRule } from "../shared/review-keywords.ts";
import { agreementOf, confidenceOf } from "./confidence.ts";
import { canonicalJson } from "./merge.ts";

/**
 * What the merge adds to a merged result so that a consumer can trust it or send it to a person: each value's place in
 * the document (grounding), a confidence per field (functions/merge/confidence.ts), values the schema requires to be
 * found and that were not replaced by null, and the reasons the item needs review.
 */

/**
 * Finds a value in the text of the given chunks (functions/merge/grounding.ts `groundValue`, bound to the layout);
 * `near`: where the value's list item's first field was found, to prefer the occurrence on that item's line.
 */
export type Grounder = (
  value: string | number,
  chunkIndexes: number[],
  near?: TextSpan,
) => { grounding: FieldGrounding; ocrConfidence?: number };

/** A span of the document text (UTF-16). */
export interface TextSpan {
  charStart: number;
  charEnd: number;
}

/** A scalar of the result with a value, and its schema node. */
interface Leaf {
  path: string;
  value: unknown;
  node: JsonSchemaNode;
  rule: GroundingRule;
}

export interface FieldTrust {
  /** The result with rejected values replaced by null. */
  result: Record<string, unknown>;
  /** Absent when there was no text to ground against. */
  grounding?: Record<string, FieldGrounding>;
  confidence: Record<string, number>;
  needsReview: boolean;
  reviewReasons: ReviewReason[];
}

/** At most this many reasons on an item (they stay in the item when its result is offloaded); the first ones in path order. */
export const maxReviewReasons = 100;

export function assessFieldTrust(args: {
  result: Record<string, unknown>;
  provenance: Record<string, Provenance>;
  conflicts: readonly MergeConflict[];
  schema: JsonSchemaNode;
  /** The chunk results merged into `result` (for the model's token confidences). */
  chunkResults: readonly ChunkResult[];
  /** Absent when the text is not available (executions from before layouts were written, batches from before they had one). */
  ground?: Grounder;
  failedChunks?: DocumentItem["failedChunks"];
  ocr?: DocumentItem["ocr"];
}): FieldTrust {
  const result = structuredClone(args.result);
  const grounding: Record<string, FieldGrounding> = {};
  const confidence: Record<string, number> = {};
  const fieldReasons: ReviewReason[] = [];
  const modelConfidence = modelConfidenceIndex(args.chunkResults);
  // Where each list item's first grounded field was found: its other fields are looked for near it.
  const itemAnchors = new Map<string, TextSpan>();
  for (const leaf of leavesOf(result, args.schema, "")) {
    const chunks = provenanceFor(leaf.path, args.provenance)?.chunks ?? [];
    const item = listItemOf(leaf.path);
    let found: ReturnType<Grounder> | undefined;
    if (leaf.rule === "none" || typeof leaf.value === "boolean") found = { grounding: { match: "ungroundable" } };
    else if (args.ground && (typeof leaf.value === "string" || typeof leaf.value === "number")) {
      const near = item === undefined ? undefined : itemAnchors.get(item);
      found = near === undefined ? args.ground(leaf.value, chunks) : args.ground(leaf.value, chunks, near);
      const { charStart, charEnd } = found.grounding;
      if (item !== undefined && !itemAnchors.has(item) && charStart !== undefined && charEnd !== undefined) {
        itemAnchors.set(item, { charStart, charEnd });
      }
    }
    const rejected = found?.grounding.match === "none" && leaf.rule === "required";
    if (found) {
      grounding[leaf.path] = rejected ? { ...found.grounding, rejected: { value: leaf.value, reason: "ungrounded" } } : found.grounding;
    }
    if (rejected) setAt(result, leaf.path, null);
    const score = confidenceOf({
      ...(found ? { match: found.grounding.match } : {}),
      ...(found?.grounding.similarity !== undefined ? { similarity: found.grounding.similarity } : {}),
      rejected,
      agreement: agreementOf(leaf.path, args.conflicts),
      ...(found?.ocrConfidence !== undefined ? { ocrConfidence: found.ocrConfidence } : {}),
      ...optional("model", modelConfidence(leaf.path, leaf.value, chunks)),
    });
    confidence[leaf.path] = score;
    const threshold = reviewBelowOf(leaf.node, args.schema);
    if (rejected) fieldReasons.push({ code: "rejected", path: leaf.path });
    else if (found?.grounding.match === "none") fieldReasons.push({ code: "ungrounded", path: leaf.path });
    else if (score < threshold) fieldReasons.push({ code: "low-confidence", path: leaf.path, confidence: score, threshold });
  }
  const reasons: ReviewReason[] = [
    ...fieldReasons,
    ...args.conflicts.map((conflict): ReviewReason => ({ code: "conflict", path: conflict.path })),
  ];
  if (args.failedChunks?.length) reasons.push({ code: "failed-chunks", chunks: [...new Set(args.failedChunks.map((f) => f.index))] });
  if (args.ocr?.failedPages.length) reasons.push({ code: "failed-pages", pages: args.ocr.failedPages.map((f) => f.page) });
  if (args.ocr?.lowConfidencePages.length) reasons.push({ code: "low-confidence-ocr", pages: [...args.ocr.lowConfidencePages] });
  return {
    result,
    ...(args.ground ? { grounding } : {}),
    confidence,
    needsReview: reasons.length > 0,
    reviewReasons: reasons.slice(0, maxReviewReasons),
  };
}

/** The scalars of a value that hold something (not null, not an empty string), with their schema nodes, in path order. */
function* leavesOf(value: unknown, node: JsonSchemaNode, path: string): Generator<Leaf> {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (!node.items) return;
    for (let i = 0; i < value.length; i++) yield* leavesOf(value[i], node.items, `${path}[${i}]`);
    return;
  }
  if (typeof value === "object") {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      yield* leavesOf((value as Record<string, unknown>)[name], child, path ? `${path}.${name}` : name);
    }
    return;
  }
  if (typeof value === "string" && value.trim() === "") return;
  yield { path, value, node, rule: groundingRuleOf(node) };
}

/** A field's provenance, or its nearest ancestor's (fields of a list item share the item's). */
function provenanceFor(path: string, provenance: Record<string, Provenance>): Provenance | undefined {
  for (let at = path; at !== ""; at = parentPath(at)) if (provenance[at]) return provenance[at];
  return undefined;
}

/** The list item a path is inside (`lines[3]` for `lines[3].qty`), if any. */
export function listItemOf(path: string): string | undefined {
  const cut = path.lastIndexOf("]");
  return cut < 0 || cut === path.length - 1 ? undefined : path.slice(0, cut + 1);
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
  return cut <= 0 ? "" : path.slice(0, cut);
}

/** `lines[3].name` → ["lines", 3, "name"]. */
function pathSegments(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

function getAt(value: unknown, path: string): unknown {
  let at = value;
  for (const segment of pathSegments(path)) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string | number, unknown>)[segment];
  }
  return at;
}

function setAt(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = pathSegments(path);
  let at: Record<string | number, unknown> = target;
  for (const segment of segments.slice(0, -1)) at = at[segment] as Record<string | number, unknown>;
  at[segments.at(-1)!] = value;
}

/** A path with its list indexes dropped: the same field of any list item. */
const shapeOf = (path: string) => path.replace(/\[\d+\]/g, "[]");

/**
 * The model's confidence for a merged value: a chunk's confidence for a path of the same shape holding the same value
 * (list items move between a chunk's answer and the merged list), averaged over the chunks the value came from.
 */
function modelConfidenceIndex(results: readonly ChunkResult[]): (path: string, value: unknown, chunks: number[]) => number | undefined {
  // chunk index → shape → canonical value → best confidence
  const byChunk = new Map<number, Map<string, Map<string, number>>>();
  for (const result of results) {
    if (!result.confidence) continue;
    const shapes = byChunk.get(result.index) ?? new Map<string, Map<string, number>>();
    for (const [path, confidence] of Object.entries(result.confidence)) {
      const values = shapes.get(shapeOf(path)) ?? new Map<string, number>();
      const value = canonicalJson(getAt(result.data, path));
      values.set(value, Math.max(values.get(value) ?? 0, confidence));
      shapes.set(shapeOf(path), values);
    }
    byChunk.set(result.index, shapes);
  }
  return (path, value, chunks) => {
    const shape = shapeOf(path);
    const wanted = canonicalJson(value);
    const perChunk = chunks.flatMap((chunk) => byChunk.get(chunk)?.get(shape)?.get(wanted) ?? []);
    return perChunk.length === 0 ? undefined : perChunk.reduce((sum, c) => sum + c, 0) / perChunk.length;
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
