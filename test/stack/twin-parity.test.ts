/**
 * The stack and the twin build their functions from one catalogue; this holds them to it. The stack a default
 * `cdk deploy` synthesizes (cdk.json's context) and the function table a default twin starts with must agree on every
 * function's memory, timeout and environment: the same variable names, and the same values except the names of
 * resources and the model's location, which differ by nature (a token on AWS, a local name on the twin).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, describe, expect, it } from "vitest";
import { functionSpecs, type FunctionId } from "../../functions/catalogue.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { stackFromContext } from "../../infra/context.ts";
import { LlambdaStack, REPO_ROOT } from "../../infra/llambda-stack.ts";
import { twinFunctions } from "../../infra/local/twin.ts";

const context = (JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> }).context;
const dataDir = mkdtempSync(join(tmpdir(), "llambda-parity-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Values that name a resource or the model file: compared by name only. */
const placeValues = new Set<string>([EnvNames.bucket, EnvNames.table, EnvNames.stateMachineArn, EnvNames.modelPath, EnvNames.modelId]);

describe("stack and twin: one function catalogue", () => {
  const app = new App({ context: { ...context, "aws:cdk:bundling-stacks": [] } });
  const { id, props } = stackFromContext(app.node);
  const stack = new LlambdaStack(app, id, props);
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
  const deployed: Record<FunctionId, { node: { defaultChild?: unknown } }> = {
    start: stack.startFunction,
    chunk: stack.chunkFunction,
    ocr: stack.ocrFunction,
    infer: stack.inferFunction,
    merge: stack.mergeFunction,
    review: stack.reviewFunction,
    consumer: stack.consumerFunction,
    failedExecution: stack.failedExecutionFunction,
  };
  const twin = twinFunctions({ dataDir, modelPath: join(REPO_ROOT, "models", "tiny.gguf") });

  it.each(functionSpecs.map((spec) => [spec.id] as const))("%s: same memory, timeout and environment", (functionId) => {
    const properties = resources[stack.getLogicalId(deployed[functionId].node.defaultChild as never)]!.Properties;
    const local = twin.find((fn) => fn.spec.id === functionId)!;
    expect(local, functionId).toBeDefined();
    expect(properties.MemorySize).toBe(local.memoryMb);
    expect(properties.Timeout).toBe(local.timeoutSeconds);
    const variables = ((properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(Object.keys(local.environment).sort());
    for (const [name, value] of Object.entries(local.environment)) {
      if (placeValues.has(name)) continue;
      expect(variables[name], `${functionId} ${name}`).toBe(value);
    }
  });

  it("covers every function of the stack", () => {
    const stackFunctions = Object.values(resources).filter((resource) => "Runtime" in resource.Properties || "PackageType" in resource.Properties);
    const pipeline = stackFunctions.filter((resource) => String(resource.Properties.Description ?? "").startsWith("llambda"));
    expect(pipeline).toHaveLength(twin.length);
  });
});
