import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  measuredTokensPerPage,
  modelDefaults,
  parsePriceTable,
  workflowDefaults,
  workflowTransitions,
  type CostModelInputs,
} from "../../bench/cost/model.ts";
import { repoRoot } from "./repo-root.ts";

/** The hosted price table the cost model compares with. */
export const priceTable = parsePriceTable(JSON.parse(readFileSync(join(repoRoot, "bench/cost/hosted-prices.json"), "utf8")));

/** README → Performance: 2-core AMD EPYC, 4 sequences, prompt aggregate and constrained generation. */
export const inputs = (overrides: Partial<CostModelInputs> = {}): CostModelInputs => ({
  pages: 10,
  tokensPerPage: measuredTokensPerPage.value,
  modelTokensPerTextToken: 1.011,
  chunkTokens: 1000,
  instructionTokens: 409,
  outputTokensPerChunk: 300,
  promptTokensPerSecond: 60.7,
  generationTokensPerSecond: 13.6,
  speedFactor: 1,
  parallelSequences: workflowDefaults.parallelSequences,
  chunksPerBatch: workflowDefaults.chunksPerBatch,
  maxConcurrency: workflowDefaults.maxConcurrency,
  coldStartShare: 1,
  inferInitSeconds: 8,
  inferMemoryMb: 10_240,
  inferEphemeralStorageMb: 1024,
  architecture: "arm64",
  chunkMemoryMb: 2048,
  chunkFixedSeconds: modelDefaults.chunkFixedSeconds.value,
  chunkSecondsPerPage: modelDefaults.chunkSecondsPerPage.value,
  mergeMemoryMb: 1024,
  mergeSeconds: 1,
  startMemoryMb: 256,
  startSeconds: 0.2,
  finalItemKb: 4,
  transitions: workflowTransitions(),
  ...overrides,
});
