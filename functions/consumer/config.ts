import type { Env } from "../shared/config.ts";

/** The example consumer reads no settings: the results it reads name their own bucket. */
export type ConsumerConfig = Record<string, never>;

export function readConsumerConfig(_env: Env): ConsumerConfig {
  return {};
}
