import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext } from "node-llama-cpp";
import { logger } from "../shared/logger.ts";
import type { LlamaBinaryChoice } from "./config.ts";

/**
 * Which llama.cpp binary the engine runs. node-llama-cpp's prebuilt addon starts ggml's worker threads anew for every
 * decode, and a decode of several sequences can take several graph computations; layers/llama-addon/ builds the addon
 * from source with a patch that keeps one thread pool per context and orders each decode's tokens by sequence (among
 * other changes its README lists). That build, when present, is node-llama-cpp's "last build"; the engine prefers it
 * and falls back to the prebuilt binaries when it is absent or does not load.
 */

export interface LlamaBinary {
  llama: Llama;
  /** "localBuild": the patched build; "prebuilt": node-llama-cpp's own binaries. */
  buildType: "localBuild" | "prebuilt";
  /** Why the prebuilt binaries are used when the choice was "auto". */
  fallbackReason?: string;
}

/** What the patched addon reports for a context; undefined on the prebuilt addon, which has no such call. */
export interface ContextSchedule {
  threadPool: boolean;
  /** One KV cache shared by all sequences (LLAMBDA_KV_UNIFIED=1) instead of one per sequence. */
  kvUnified: boolean;
  /** Each decode's tokens ordered by sequence, so llama.cpp computes a decode of many sequences in one graph. */
  sequenceOrderedBatches: boolean;
  /** Every decode on one thread of the context's own, so one OpenMP team serves them all. */
  decodeThread: boolean;
  /** A token's confidence judged on the likeliest tokens, not a grammar pass over the whole vocabulary. */
  boundedConfidence: boolean;
}

/** The folder of node-llama-cpp's local builds, and the last one's name, when a build was made. */
function lastLocalBuild(): { folder: string; binary: string } | undefined {
  // dist/index.js → the package root; resolved, not assumed, so it holds in the image's node_modules too.
  const packageRoot = join(dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "..");
  const infoPath = join(packageRoot, "llama", "lastBuild.json");
  if (!existsSync(infoPath)) return undefined;
  try {
    const { folderName } = JSON.parse(readFileSync(infoPath, "utf8")) as { folderName?: unknown };
    if (typeof folderName !== "string" || folderName === "") return undefined;
    const folder = join(packageRoot, "llama", "localBuilds", folderName);
    return { folder, binary: join(folder, "Release", "llama-addon.node") };
  } catch {
    return undefined;
  }
}

/**
 * Loads llama.cpp: the patched local build when `choice` is "auto" and one is there, else the prebuilt binaries
 * (never a compile: Lambda has no compiler and a read-only /var/task).
 */
export async function loadLlamaBinary(options: { threads: number; choice?: LlamaBinaryChoice }): Promise<LlamaBinary> {
  const common = { maxThreads: options.threads, logLevel: LlamaLogLevel.warn };
  let fallbackReason: string | undefined;
  if ((options.choice ?? "auto") === "auto") {
    const local = lastLocalBuild();
    if (local === undefined || !existsSync(local.binary)) {
      fallbackReason = "no local build (layers/llama-addon/build.sh makes one)";
    } else {
      try {
        const llama = await getLlama("lastBuild", { ...common, usePrebuiltBinaries: true, skipDownload: true, progressLogs: false });
        if (llama.buildType === "localBuild") return { llama, buildType: "localBuild" };
        // node-llama-cpp fell back to its default binaries on its own: load them the way the engine always does.
        await llama.dispose();
        fallbackReason = `the local build at ${local.folder} did not load`;
      } catch (error) {
        fallbackReason = `the local build at ${local.folder} did not load: ${String(error).slice(0, 300)}`;
      }
      logger.warn("llama.cpp: using the prebuilt binaries", { reason: fallbackReason });
    }
  }
  const llama = await getLlama({ gpu: false, build: "never", ...common });
  // "localBuild" only if someone built llama.cpp with default options by hand (npx node-llama-cpp source download):
  // node-llama-cpp then prefers that build to its prebuilt binaries. build.sh's builds never take that folder.
  return { llama, buildType: llama.buildType, ...(fallbackReason ? { fallbackReason } : {}) };
}

/** The patched addon's report for a context (thread pool, KV layout, ...), or undefined on the prebuilt. */
export function contextSchedule(context: LlamaContext): ContextSchedule | undefined {
  // An internal of node-llama-cpp (the addon's context object): only the patched addon has this call.
  const native = (context as unknown as { _ctx?: { getLlambdaSchedule?: () => ContextSchedule } })._ctx;
  return typeof native?.getLlambdaSchedule === "function" ? native.getLlambdaSchedule() : undefined;
}
