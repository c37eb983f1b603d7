import { intEnv, optionalEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { chunkTokensRange, DEFAULT_CHUNK_TOKENS, readChunkLimits, type ChunkLimits } from "./limits.ts";

/** The chunk function's configuration: read once, at init (Lambda) or when the twin builds the function. */
export interface ChunkConfig {
  bucket: string;
  /** Most tokens in a chunk (tiktoken count). */
  maxTokens: number;
  overlapTokens: number;
  /** Record batches (.jsonl, .csv): their text and id fields; unset means chunkDocument's defaults. */
  recordFields: { textField?: string; idField?: string };
  limits: ChunkLimits;
}

/** The one validator of the chunk function's settings: handler init, the twin, and the stack at synth time. */
export function readChunkConfig(env: Env): ChunkConfig {
  const maxTokens = intEnv(EnvNames.chunkTokens, DEFAULT_CHUNK_TOKENS, chunkTokensRange, env);
  const recordTextField = optionalEnv(EnvNames.recordTextField, "", env);
  const recordIdField = optionalEnv(EnvNames.recordIdField, "", env);
  return {
    bucket: requireEnv(EnvNames.bucket, env),
    maxTokens,
    overlapTokens: intEnv(EnvNames.chunkOverlapTokens, 0, { min: 0, max: Math.floor(maxTokens / 2) }, env),
    recordFields: {
      ...(recordTextField === "" ? {} : { textField: recordTextField }),
      ...(recordIdField === "" ? {} : { idField: recordIdField }),
    },
    limits: readChunkLimits(env),
  };
}
