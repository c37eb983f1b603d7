/**
 * A function the twin runs sees the memory size its catalogue entry gives it, as on Lambda: in the invocation's
 * context, and in what its configuration derives from AWS_LAMBDA_FUNCTION_MEMORY_SIZE (the chunk function's
 * extraction heap, the inference function's memory budget), not the defaults a function gets outside Lambda.
 * The factories are replaced by ones whose handler returns what it was built with, so nothing else runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import type { ChunkConfig } from "../../functions/chunk/config.ts";
import { LimitDefaults } from "../../functions/chunk/limits.ts";
import type { InferConfig } from "../../functions/infer/config.ts";
import { LocalLambdaRuntime } from "../../infra/local/lambda-runtime.ts";
import { TwinNames, twinFunctions } from "../../infra/local/twin-functions.ts";

const { reportConfig } = vi.hoisted(() => ({
  reportConfig: () => ({
    createHandler: (config: unknown) => async (_event: unknown, context: Context) => ({ config, memoryLimitInMB: context.memoryLimitInMB }),
  }),
}));
vi.mock("../../functions/chunk/create-handler.ts", reportConfig);
vi.mock("../../functions/infer/create-handler.ts", reportConfig); // also keeps llama.cpp's bindings unloaded

const dataDir = mkdtempSync(join(tmpdir(), "llambda-twin-memory-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("the twin runs each function with its catalogue memory size", () => {
  const runtime = new LocalLambdaRuntime(twinFunctions({ dataDir, modelPath: join(dataDir, "model.gguf") }));
  const invoke = async <C>(name: string) =>
    (await runtime.invoke(TwinNames.functionArn(name), {})) as { config: C; memoryLimitInMB: string };

  it("chunk: its extraction worker's heap is the share of the function's memory, as on Lambda", async () => {
    const { config, memoryLimitInMB } = await invoke<ChunkConfig>("chunk");
    const memoryMb = FunctionCatalogue.chunk.memoryMb;
    expect(memoryLimitInMB).toBe(String(memoryMb));
    expect(config.limits.extractionMemoryMb).toBe(Math.floor(memoryMb * LimitDefaults.extractionMemoryShare));
    expect(config.limits.extractionMemoryMb).not.toBe(LimitDefaults.extractionMemoryMb); // the default outside Lambda
  });

  it("infer: its memory budget is the function's memory, not the machine's", async () => {
    const { config, memoryLimitInMB } = await invoke<InferConfig>("infer");
    const memoryMb = FunctionCatalogue.infer.memoryMb;
    expect(memoryLimitInMB).toBe(String(memoryMb));
    expect(config.memoryBytes).toBe(memoryMb * 2 ** 20);
  });
});
