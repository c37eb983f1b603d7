import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineBinary } from "../../functions/infer/engine.ts";
import type { ContextSchedule } from "../../functions/infer/llama-binary.ts";
import { writeTinyModel } from "../../models/random-llama.ts";

/** node-llama-cpp's record of the last local build: present after layers/llama-addon/build.sh. */
const lastBuildInfo = join(dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "..", "llama", "lastBuild.json");

interface ConfidenceRuns {
  buildType: string;
  topK: { tokens: number[]; confidences: number[] };
  exact: { tokens: number[]; confidences: number[] };
}

/** One greedy JSON answer generated twice on the binary chosen: confidence only, then with the whole distribution. */
function confidenceRuns(model: string, choice: string): ConfidenceRuns {
  const run = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/addon-confidence.ts", model, choice], {
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

interface BatchOrderRuns {
  buildType: string;
  schedule: ContextSchedule | null;
  alone: number[][];
  together: number[][];
}

/** Four sequences' greedy answers, each alone and then all at once with the later sequences asking first. */
function batchOrderRuns(model: string, choice: string, env: Record<string, string> = {}): BatchOrderRuns {
  const run = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/batch-order.ts", model, choice], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

function engineBinary(model: string, choice: string): { binary: EngineBinary; ok: Array<true | string> } {
  const run = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/engine-binary.ts", model, choice], {
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

/** Which llama.cpp binary the engine loads (functions/infer/llama-binary.ts), each choice in a process of its own. */
describe("llama.cpp binary", () => {
  let dir: string;
  let model: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-binary-"));
    model = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs node-llama-cpp's prebuilt binaries when told to, which report no schedule of their own", () => {
    const { binary, ok } = engineBinary(model, "prebuilt");
    expect(binary).toEqual({ buildType: "prebuilt" });
    expect(ok).toEqual([true, true]);
  });

  it("prefers the patched local build, with a thread pool and sequence-ordered batches, and falls back to the prebuilt without one", () => {
    const { binary, ok } = engineBinary(model, "auto");
    expect(ok).toEqual([true, true]);
    if (existsSync(lastBuildInfo)) {
      expect(binary).toEqual({ buildType: "localBuild", schedule: { threadPool: true, kvUnified: false, sequenceOrderedBatches: true, decodeThread: true, boundedConfidence: true } });
    } else {
      // A fresh clone: nobody ran layers/llama-addon/build.sh.
      expect(binary.buildType).toBe("prebuilt");
      expect(binary.fallbackReason).toMatch(/no local build/);
      expect(binary.schedule).toBeUndefined();
    }
  });

  // The patched addon reads a token's confidence from the grammar's verdict on the likeliest tokens only
  // (addon.patch, AddonSampler::sampleGreedyWithConfidence); asked for the whole distribution it takes the exact path.
  it.skipIf(!existsSync(lastBuildInfo))(
    "patched build: the same greedy tokens, and each confidence a lower bound within 1 % of the exact one (skipped without layers/llama-addon/build.sh)",
    () => {
      const { buildType, topK, exact } = confidenceRuns(model, "auto");
      expect(buildType).toBe("localBuild");
      expect(topK.tokens.length).toBeGreaterThan(20);
      expect(topK.tokens).toEqual(exact.tokens);
      topK.confidences.forEach((confidence, i) => {
        const reference = exact.confidences[i]!;
        // Float sums in another order: a bound may sit a hair above the exact figure.
        expect(confidence, `token ${i}`).toBeLessThanOrEqual(reference * (1 + 1e-4));
        expect(confidence, `token ${i}`).toBeGreaterThanOrEqual(reference * 0.99);
      });
      // The tiny model's answer has tokens the grammar did not force: the bound was taken, not only forced ones.
      expect(topK.confidences.some((confidence) => confidence < 0.99)).toBe(true);
    },
  );

  it("prebuilt binaries: the confidence is the exact one, asked for alone or with the whole distribution", () => {
    const { buildType, topK, exact } = confidenceRuns(model, "prebuilt");
    expect(buildType).toBe("prebuilt");
    expect(topK.tokens).toEqual(exact.tokens);
    expect(topK.confidences).toEqual(exact.confidences);
  });

  // The patched addon orders each decode's tokens by sequence (addon.patch, AddonContext::orderBatchBySequence) and
  // must then hand every sequence its own logits, whatever order the sequences asked in.
  it("prebuilt binaries: sequences decoded together get the tokens each gets alone", () => {
    const { buildType, alone, together } = batchOrderRuns(model, "prebuilt");
    expect(buildType).toBe("prebuilt");
    // Four different answers, so a sequence given another's logits would show.
    expect(new Set(alone.map((tokens) => tokens.join(","))).size).toBe(4);
    expect(together).toEqual(alone);
  });

  it.skipIf(!existsSync(lastBuildInfo))("patched build: batches ordered by sequence, and sequences decoded together get the tokens each gets alone (skipped without layers/llama-addon/build.sh)", () => {
    const { buildType, schedule, alone, together } = batchOrderRuns(model, "auto");
    expect(buildType).toBe("localBuild");
    expect(schedule).toMatchObject({ kvUnified: false, sequenceOrderedBatches: true });
    expect(new Set(alone.map((tokens) => tokens.join(","))).size).toBe(4);
    expect(together).toEqual(alone);
  });

  it.skipIf(!existsSync(lastBuildInfo))("patched build: LLAMBDA_KV_UNIFIED=1 shares one KV cache and leaves batches as they are (skipped without layers/llama-addon/build.sh)", () => {
    const { schedule, alone, together } = batchOrderRuns(model, "auto", { LLAMBDA_KV_UNIFIED: "1" });
    expect(schedule).toMatchObject({ kvUnified: true, sequenceOrderedBatches: false });
    expect(together).toEqual(alone);
  });
});
