/**
 * What `npm run eval` reports about the items' trust fields: how many extracted values were found in their documents
 * (the grounding rate), and whether the confidences are honest: the accuracy of the scored fields in each confidence
 * bucket, which should rise with the bucket. Pure: no I/O.
 */
import type { DocumentItem, GroundingMatch } from "../../functions/shared/document-item.ts";
import type { FieldResult } from "./compare.ts";

export interface TrustInput {
  grounding?: DocumentItem["grounding"];
  confidence?: DocumentItem["confidence"];
  needsReview?: boolean;
  /** The document's scored fields (bench/eval/score.ts); lists with their item matches. */
  fields: FieldResult[];
}

export interface ConfidenceBucket {
  /** Lower bound (inclusive) and upper bound (exclusive; the last includes 1). */
  from: number;
  to: number;
  fields: number;
  correct: number;
  accuracy: number | null;
  meanConfidence: number | null;
}

export interface TrustSummary {
  /** Values looked for in their documents, by how they were found; `rate`: found (exact, normalised, fuzzy) / looked for. */
  grounding: Record<Exclude<GroundingMatch, "ungroundable">, number> & { ungroundable: number; rejected: number; rate: number | null };
  /** Scored fields with a confidence, by bucket of 0.2. */
  calibration: ConfidenceBucket[];
  documents: number;
  needsReview: number;
}

const bucketEdges = [0, 0.2, 0.4, 0.6, 0.8, 1];

/** Each scored scalar with the confidence of the value it was scored on: top-level fields, and list items' fields. */
export function scoredConfidences(input: TrustInput): Array<{ confidence: number; correct: boolean }> {
  const pairs: Array<{ confidence: number; correct: boolean }> = [];
  const confidence = input.confidence ?? {};
  for (const field of input.fields) {
    if (field.items) {
      for (const item of field.items) {
        if (item.extractedIndex === null) continue;
        for (const itemField of item.fields) {
          const value = confidence[`${field.path}[${item.extractedIndex}].${itemField.path}`];
          if (value !== undefined) pairs.push({ confidence: value, correct: itemField.correct });
        }
      }
    } else if (confidence[field.path] !== undefined) {
      pairs.push({ confidence: confidence[field.path]!, correct: field.correct });
    }
  }
  return pairs;
}

export function summarizeTrust(inputs: readonly TrustInput[]): TrustSummary {
  const grounding = { exact: 0, normalised: 0, fuzzy: 0, none: 0, ungroundable: 0, rejected: 0 };
  const buckets = bucketEdges.slice(0, -1).map((from, i) => ({ from, to: bucketEdges[i + 1]!, fields: 0, correct: 0, sum: 0 }));
  for (const input of inputs) {
    for (const entry of Object.values(input.grounding ?? {})) {
      grounding[entry.match]++;
      if (entry.rejected) grounding.rejected++;
    }
    for (const { confidence, correct } of scoredConfidences(input)) {
      const bucket = buckets.find((b) => confidence < b.to) ?? buckets.at(-1)!;
      bucket.fields++;
      bucket.sum += confidence;
      if (correct) bucket.correct++;
    }
  }
  const lookedFor = grounding.exact + grounding.normalised + grounding.fuzzy + grounding.none;
  return {
    grounding: { ...grounding, rate: lookedFor === 0 ? null : (grounding.exact + grounding.normalised + grounding.fuzzy) / lookedFor },
    calibration: buckets.map(({ sum, ...bucket }) => ({
      ...bucket,
      accuracy: bucket.fields === 0 ? null : bucket.correct / bucket.fields,
      meanConfidence: bucket.fields === 0 ? null : sum / bucket.fields,
    })),
    documents: inputs.length,
    needsReview: inputs.filter((input) => input.needsReview).length,
  };
}
