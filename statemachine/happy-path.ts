import type { WorkflowTransitionCounts } from "../functions/shared/cost.ts";

/**
 * The workflow's state transitions, counted on a definition: Standard workflows bill one transition per state entered.
 * Pure (takes the definition), so the definition can count itself and pass the counts to the merge in its payload.
 */

type States = Record<string, Record<string, unknown>>;

/**
 * States entered on the happy path from `startAt`: each state's `Next`, or a Choice's `Default`, until a terminal
 * state. Retries add transitions; failures take other paths.
 */
export function happyPathStates(states: States, startAt: string): string[] {
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

export interface WorkflowTransitions extends WorkflowTransitionCounts {
  parentStates: string[];
  batchStates: string[];
}

/** The happy paths of the parent and of one batch (the Distributed Map's ItemProcessor), and their counts. */
export function countTransitions(definition: { StartAt: string; States: States }): WorkflowTransitions {
  const parentStates = happyPathStates(definition.States, definition.StartAt);
  // The happy path's Map (chunk extraction); the OCR Map is off it, on the scanned documents' branch.
  const map = parentStates.map((name) => definition.States[name]!).find((state) => state.Type === "Map");
  const processor = map?.ItemProcessor as { StartAt: string; States: States } | undefined;
  if (!processor) throw new Error("The workflow has no Map state with an ItemProcessor");
  const batchStates = happyPathStates(processor.States, processor.StartAt);
  // The loop back from the Choice re-enters the task: the states from the start up to the Choice, again.
  const choiceAt = batchStates.findIndex((name) => processor.States[name]?.Type === "Choice");
  const perExtraPass = choiceAt >= 0 ? choiceAt + 1 : 0;
  return { fixed: parentStates.length, perBatch: batchStates.length, perExtraPass, parentStates, batchStates };
}
