import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { REPO_ROOT, type LlambdaStackProps } from "../../infra/llambda-stack.ts";

/** Shared by the tests that synthesize the stack offline. */

const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> };

/** The feature flags of cdk.json, without llambda's own defaults (the tests pass typed props instead). */
export const featureFlags = Object.fromEntries(Object.entries(cdkJson.context).filter(([key]) => !key.startsWith("llambda:")));

/** A model id that is never pulled, so the "model missing" warnings are deterministic. */
export const ABSENT_MODEL_ID = "test-model-never-pulled";

export const baseStackProps: LlambdaStackProps = {
  env: { account: "123456789012", region: "eu-west-1" },
  modelId: ABSENT_MODEL_ID,
  chunkTokens: 1000,
  inferMemoryMb: 10240,
  maxConcurrency: 20,
};

/** An app with cdk.json's feature flags that skips bundling: for tests that read the template, not the code. */
export function unbundledApp(outdir?: string): App {
  return new App({ ...(outdir ? { outdir } : {}), context: { ...featureFlags, "aws:cdk:bundling-stacks": [] } });
}
