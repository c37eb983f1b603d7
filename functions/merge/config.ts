import { getExtractionSchema, defaultSchemaId } from "../schemas/index.ts";
import { intEnv, optionalEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { defaultMaxItemBytes } from "./result-offload.ts";

export interface MergeConfig {
  table: string;
  bucket: string;
  /** The schema of executions whose input names none (started before schema routing existed). */
  fallbackSchemaId: string;
  /** Largest item written, bytes; bigger results go to S3. */
  maxItemBytes: number;
}

/** The one validator of the merge function's settings: handler init, the twin, and the stack at synth time. */
export function readMergeConfig(env: Env): MergeConfig {
  const fallbackSchemaId = optionalEnv(EnvNames.schemaId, defaultSchemaId, env);
  getExtractionSchema(fallbackSchemaId); // fail the init on an unknown id
  return {
    table: requireEnv(EnvNames.table, env),
    bucket: requireEnv(EnvNames.bucket, env),
    fallbackSchemaId,
    maxItemBytes: intEnv(EnvNames.maxItemBytes, defaultMaxItemBytes, { min: 1_000, max: 390_000 }, env),
  };
}
