import { requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";

export interface FailedExecutionConfig {
  table: string;
}

/** The one validator of the failed-execution function's settings: handler init, the twin, and the stack at synth time. */
export function readFailedExecutionConfig(env: Env): FailedExecutionConfig {
  return { table: requireEnv(EnvNames.table, env) };
}
