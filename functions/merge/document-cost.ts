import { documentCost, documentTransitions, type DocumentCost, type LambdaUsage, type WorkflowTransitionCounts } from "../shared/cost.ts";
import type { FunctionUsage } from "../shared/invocation-usage.ts";

/**
 * A document's cost, from what its execution measured: each function's billed milliseconds, memory and architecture
 * (reported by the functions themselves), the workflow's state transitions (counted on the definition, which passes the
 * counts in the merge's payload, for the passes each batch took), and the S3, DynamoDB and SQS requests it made. Not included, and said so in docs/cost.md:
 * retried attempts (their output is lost), the start function (shared by up to 10 uploads), the consumer, storage.
 */
export interface DocumentCostInput {
  chunk?: FunctionUsage;
  /** The OCR invocations of a document with OCR'd pages (its successful OCR child executions). */
  ocr?: FunctionUsage;
  /** Every inference invocation of the batches that succeeded. */
  infer?: FunctionUsage;
  merge: FunctionUsage;
  /** Invocations (passes) of each batch child execution; a failed batch counts one. */
  childPasses: number[];
  /** Objects the Distributed Map's ResultWriter wrote (result files and manifest), which the merge read back. */
  resultObjects: number;
  /** Bytes of each item the workflow wrote for the document: the final item, its record items. */
  itemBytes: number[];
  /** The workflow's transition counts, from the merge's payload; absent for an execution started before it had them. */
  transitions?: WorkflowTransitionCounts;
}

/**
 * The counts of the workflow that ran before the merge's payload carried them (7 parent states, 3 per batch, 2 per
 * extra pass): a redrive of such an execution still gets its cost. Fixed numbers, not the current definition's, because
 * they describe executions already started.
 */
export const transitionsBeforePayload: Readonly<WorkflowTransitionCounts> = { fixed: 7, perBatch: 3, perExtraPass: 2 };

/** DynamoDB on-demand bills one write unit per KB of item written. */
const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** The workflow's two small writes before the merge (PROCESSING, chunk count): one write unit each. */
const progressWrites = 2;

/** The upload's message: sent by EventBridge, received and deleted by the start function. */
const uploadQueueRequests = 3;

/**
 * The OCR branch's transitions: the OCR Map and the second chunk run, and per OCR invocation its task and Choice, plus
 * each child's Succeed (counted as if every child took one pass: an upper bound by one per child of several passes).
 */
function ocrTransitions(ocr: FunctionUsage | undefined): number {
  return ocr === undefined ? 0 : 2 + 3 * ocr.invocations;
}

function lambdaUsage(usage: FunctionUsage): LambdaUsage {
  return { memoryMb: usage.memoryMb, billedDurationMs: usage.billedMs, architecture: usage.architecture, invocations: usage.invocations };
}

export function costOfDocument(input: DocumentCostInput): DocumentCost {
  const functions: Record<string, LambdaUsage> = { merge: lambdaUsage(input.merge) };
  if (input.chunk) functions.chunk = lambdaUsage(input.chunk);
  if (input.ocr) functions.ocr = lambdaUsage(input.ocr);
  if (input.infer) functions.infer = lambdaUsage(input.infer);
  const measured = [input.chunk, input.ocr, input.infer, input.merge].filter((usage): usage is FunctionUsage => usage !== undefined);
  return documentCost({
    functions,
    stateTransitions:
      documentTransitions(input.childPasses, input.transitions ?? transitionsBeforePayload) + ocrTransitions(input.ocr),
    requests: {
      // The Map's ItemReader reads the manifest; the merge reads the result objects.
      s3Gets: measured.reduce((sum, usage) => sum + usage.s3Gets, 0) + 1 + input.resultObjects,
      s3Puts: measured.reduce((sum, usage) => sum + usage.s3Puts, 0) + input.resultObjects,
      dynamoDbWriteUnits: progressWrites + input.itemBytes.reduce((sum, bytes) => sum + writeUnits(bytes), 0),
      dynamoDbReadUnits: 0,
      sqsRequests: uploadQueueRequests,
    },
  });
}
