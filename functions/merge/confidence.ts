import type { GroundingMatch, MergeConflict } from "../shared/document-item.ts";
import { canonicalJson } from "./merge.ts";

/**
 * How far to trust a merged value, 0-1: the product of four factors, each 1 when it has nothing against the value.
 *
 *   confidence = grounding × agreement × ocr × model
 *
 * - grounding: how the value was found in the text it came from: exact 1, normalised 0.95, fuzzy 0.9 × similarity,
 *   not found 0.3, not groundable (enums, booleans, summaries: nothing to check) 0.85, no text to check against (no
 *   layout: executions and record batches from before layouts were written) 0.85. A value the schema required to be found and that was not is rejected: 0.
 * - agreement: when chunks disagreed about the field (a merge conflict), the share of the disagreeing chunks that gave
 *   the chosen value; else 1.
 * - ocr: on an OCR'd page, the mean Tesseract word confidence under the value's quote / 100; else 1.
 * - model: the model's own probability for the value's tokens (geometric mean, read while generating), averaged over the
 *   chunks that gave the value; 1 when the engine did not report it.
 * docs/stream-contract.md#confidence documents the same formula; test/unit/confidence.test.ts pins it.
 */
export const groundingFactor: Record<Exclude<GroundingMatch, "fuzzy">, number> & { fuzzy: (similarity: number) => number } = {
  exact: 1,
  normalised: 0.95,
  fuzzy: (similarity) => 0.9 * similarity,
  none: 0.3,
  ungroundable: 0.85,
};

/** The grounding factor when there is no document text to ground against. */
export const uncheckedFactor = 0.85;

export interface ConfidenceSignals {
  /** Absent: the value could not be checked against the document text. */
  match?: GroundingMatch;
  similarity?: number;
  rejected?: boolean;
  /** 0-1. */
  agreement: number;
  /** Mean OCR word confidence under the quote, 0-100. */
  ocrConfidence?: number;
  /** 0-1. */
  model?: number;
}

export function confidenceOf(signals: ConfidenceSignals): number {
  if (signals.rejected) return 0;
  const grounding =
    signals.match === undefined
      ? uncheckedFactor
      : signals.match === "fuzzy"
        ? groundingFactor.fuzzy(signals.similarity ?? 0)
        : groundingFactor[signals.match];
  const ocr = signals.ocrConfidence === undefined ? 1 : clamp01(signals.ocrConfidence / 100);
  const model = signals.model === undefined ? 1 : clamp01(signals.model);
  return round3(grounding * clamp01(signals.agreement) * ocr * model);
}

/**
 * The share of disagreeing chunks that gave the chosen value, for a field (or any field of a list item) with a merge
 * conflict; 1 without one. Only disagreements and key collisions count: an over-limit conflict drops other values, it
 * does not contradict the kept one.
 */
export function agreementOf(path: string, conflicts: readonly MergeConflict[]): number {
  let agreement = 1;
  for (const conflict of conflicts) {
    if (conflict.reason === "over-limit") continue;
    if (conflict.path !== path && !path.startsWith(`${conflict.path}.`)) continue;
    const chosen = canonicalJson(conflict.chosen);
    const total = conflict.candidates.reduce((sum, candidate) => sum + candidate.chunks.length, 0);
    const forChosen = conflict.candidates.find((candidate) => canonicalJson(candidate.value) === chosen)?.chunks.length ?? 0;
    if (total > 0) agreement = Math.min(agreement, forChosen / total);
  }
  return agreement;
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
