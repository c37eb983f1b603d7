import { documentTransitions as transitionsOfDocument } from "../functions/shared/cost.ts";
import { buildDocumentWorkflow } from "./definition.ts";
import { countTransitions, type WorkflowTransitions } from "./happy-path.ts";

/**
 * The deployed workflow's state transitions, for `npm run cost` and the tests. The definition carries the same counts
 * in the merge task's payload (statemachine/definition.ts), which is where the merge reads them.
 */

export function workflowTransitions(): WorkflowTransitions {
  return countTransitions(
    buildDocumentWorkflow({
      chunkFunctionArn: "chunk",
      ocrFunctionArn: "ocr",
      inferFunctionArn: "infer",
      mergeFunctionArn: "merge",
      reviewFunctionArn: "review",
      tableName: "table",
      bucketName: "bucket",
    }),
  );
}

/** Transitions of one document's execution: the parent's, and each child's passes (retries not counted). */
export function documentTransitions(childPasses: number[], shape: WorkflowTransitions = workflowTransitions()): number {
  return transitionsOfDocument(childPasses, shape);
}
