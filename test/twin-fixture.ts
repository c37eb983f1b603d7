import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalTwin, TwinOptions } from "../infra/local/twin.ts";
import { writeTinyModel } from "../models/random-llama.ts";

/**
 * A twin for end-to-end tests: a temporary folder, the project's tiny random-weight model, one llama.cpp thread and
 * short retry intervals, with whatever else a test file needs. `stop()` removes everything.
 */
export interface TestTwin {
  twin: LocalTwin;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestTwin(options: Partial<Omit<TwinOptions, "dataDir" | "modelPath">> = {}): Promise<TestTwin> {
  const dir = mkdtempSync(join(tmpdir(), "llambda-twin-"));
  try {
    const model = await writeTinyModel(join(dir, "tiny.gguf"));
    const { LocalTwin } = await import("../infra/local/twin.ts");
    const twin = await LocalTwin.start({
      dataDir: join(dir, "data"),
      modelPath: model.path,
      chunkTokens: 60,
      threads: 1,
      maxOutputTokens: 768,
      retryIntervalMs: 10,
      ...options,
    });
    return {
      twin,
      dir,
      stop: async () => {
        await twin.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
