import { buildDocumentWorkflow } from "./definition.ts";

/**
 * The workflow's state transitions, counted on the definition itself: Standard workflows bill one transition per
 * state entered. Used by the merge to record a document's cost and by `npm run cost` to estimate it.
 */

/**
 * States entered on the happy path from `startAt`: each state's `Next`, or a Choice's `Default`, until a terminal
 * state. Retries add transitions; failures take other paths.
 */
export function happyPathStates(states: Record<string, Record<string, unknown>>, startAt: string): string[] {
  const path: string[] = [];
  let name: string | undefined = startAt;
  while (name !== undefined) {
    if (path.includes(name)) throw new Error(`The happy path loops at "${name}"`);
    const state = states[name];
    if (!state) throw new Error(`No state "${name}" in the workflow`);
    path.push(name);
    if (state.Type === "Succeed" || state.Type === "Fail" || state.End === true) break;
    name = (state.Type === "Choice" ? state.Default : state.Next) as string | undefined;
  }
  return path;
}

export interface WorkflowTransitions {
  /** Parent execution: every state from marking the item PROCESSING to success, the Map state included. */
  fixed: number;
  /** One Distributed Map child execution (a batch of chunks) whose chunks all finish in one invocation. */
  perBatch: number;
  /** Each further pass of a child (chunks left for a fresh invocation): the inference task and the Choice again. */
  perExtraPass: number;
  parentStates: string[];
  batchStates: string[];
}

export function workflowTransitions(): WorkflowTransitions {
  const definition = buildDocumentWorkflow({
    chunkFunctionArn: "chunk",
    inferFunctionArn: "infer",
    mergeFunctionArn: "merge",
    tableName: "table",
    bucketName: "bucket",
  });
  const parentStates = happyPathStates(definition.States, definition.StartAt);
  const map = Object.values(definition.States).find((state) => state.Type === "Map");
  const processor = map?.ItemProcessor as { StartAt: string; States: Record<string, Record<string, unknown>> } | undefined;
  if (!processor) throw new Error("The workflow has no Map state with an ItemProcessor");
  const batchStates = happyPathStates(processor.States, processor.StartAt);
  // The loop back from the Choice re-enters the task: the states from the start up to the Choice, again.
  const choiceAt = batchStates.findIndex((name) => processor.States[name]?.Type === "Choice");
  const perExtraPass = choiceAt >= 0 ? choiceAt + 1 : 0;
  return { fixed: parentStates.length, perBatch: batchStates.length, perExtraPass, parentStates, batchStates };
}

/** Transitions of one document's execution: the parent's, and each child's passes (retries not counted). */
export function documentTransitions(childPasses: number[], shape: WorkflowTransitions = workflowTransitions()): number {
  return shape.fixed + childPasses.reduce((sum, passes) => sum + shape.perBatch + Math.max(0, passes - 1) * shape.perExtraPass, 0);
}
