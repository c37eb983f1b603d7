import { availableParallelism, totalmem } from "node:os";
import { booleanEnv, choiceEnv, intEnv, optionalEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { ConfigurationError } from "../shared/errors.ts";
import { defaultSchemaId, getExtractionSchema } from "../schemas/index.ts";
import { inferenceThreads } from "./threads.ts";

export interface InferConfig {
  modelPath: string;
  modelId: string;
  loraPath?: string;
  loraScale?: number;
  threads: number;
  contextSize: number;
  maxOutputTokens: number;
  parallelSequences: number;
  contexts: number;
  /** Memory the container may use: Lambda's configured size, else the machine's. */
  memoryBytes: number;
  deadlineMarginMs: number;
  schemaId: string;
  /** Read each generated token's probability for the values' confidence (engine option `tokenConfidence`). */
  tokenConfidence: boolean;
  /** Which llama.cpp binary to load (llama-binary.ts). */
  binary: LlamaBinaryChoice;
  /** Prompt-lookup speculation (engine option `speculation`). */
  speculation: boolean;
}

/** "auto": the patched build of layers/llama-addon/ when present, else the prebuilt binaries; "prebuilt": always those. */
export type LlamaBinaryChoice = "auto" | "prebuilt";
export const llamaBinaryChoices: readonly LlamaBinaryChoice[] = ["auto", "prebuilt"];

/** Bounds of the inference settings (also what `npm start` accepts for the matching flags). */
export const InferSettingRanges = {
  threads: { min: 1, max: 256 },
  contextSize: { min: 256, max: 131072 },
  maxOutputTokens: { min: 16, max: 32768 },
  parallelSequences: { min: 1, max: 64 },
} as const;

export function readInferConfig(env: Env = process.env): InferConfig {
  const modelPath = requireEnv(EnvNames.modelPath, env);
  const schemaId = optionalEnv(EnvNames.schemaId, defaultSchemaId, env);
  getExtractionSchema(schemaId); // fail the init on an unknown id
  const configuredThreads = env[EnvNames.threads] ? intEnv(EnvNames.threads, 1, InferSettingRanges.threads, env) : undefined;
  const lambdaMemoryMb = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ? Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) : undefined;
  const loraPath = env[EnvNames.loraPath]?.trim();
  const loraScaleText = env[EnvNames.loraScale]?.trim();
  const loraScale = loraScaleText ? Number(loraScaleText) : undefined;
  if (loraScale !== undefined && !(Number.isFinite(loraScale) && loraScale > 0 && loraScale <= 10)) {
    throw new ConfigurationError(`Environment variable ${EnvNames.loraScale} must be a number above 0 and at most 10, got "${loraScaleText}"`);
  }
  return {
    modelPath,
    modelId: optionalEnv(EnvNames.modelId, modelPath.split("/").pop()?.replace(/\.gguf$/i, "") ?? "unknown", env),
    ...(loraPath ? { loraPath } : {}),
    ...(loraPath && loraScale !== undefined ? { loraScale } : {}),
    threads: inferenceThreads({ configured: configuredThreads, lambdaMemoryMb, availableCores: availableParallelism() }),
    // 8192 holds a 1,000-token chunk even where the model's tokenizer needs 5 tokens per tiktoken token, plus the
    // instructions and a 1,024-token answer; the engine caps it at the model's training context.
    contextSize: intEnv(EnvNames.contextSize, 8192, InferSettingRanges.contextSize, env),
    maxOutputTokens: intEnv(EnvNames.maxOutputTokens, 1024, InferSettingRanges.maxOutputTokens, env),
    // The stack sets this to the Map's batch size, so one invocation's chunks decode together.
    parallelSequences: intEnv(EnvNames.parallelSequences, 1, InferSettingRanges.parallelSequences, env),
    contexts: intEnv(EnvNames.inferContexts, 1, { min: 1, max: 64 }, env),
    memoryBytes: (lambdaMemoryMb ?? Math.floor(totalmem() / 2 ** 20)) * 2 ** 20,
    // Room to serialize and return a batch's results after the last token.
    deadlineMarginMs: intEnv(EnvNames.deadlineMarginMs, 10_000, { min: 0, max: 600_000 }, env),
    schemaId,
    // On by default: a consumer's confidence per field needs it; off saves its cost (docs/inference.md).
    tokenConfidence: booleanEnv(EnvNames.tokenConfidence, true, env),
    binary: choiceEnv(EnvNames.llamaBinary, llamaBinaryChoices, "auto", env),
    speculation: booleanEnv(EnvNames.speculation, false, env),
  };
}
