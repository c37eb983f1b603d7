import { ConfigurationError } from "./errors.ts";

/** Environment variables as a function sees them: process.env on Lambda, the function's own map on the twin. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads settings from the environment. Handlers call these once at module load so that a bad deployment fails the
 * function's init with a message naming the variable, not the first document.
 */
export function requireEnv(name: string, env: Env = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigurationError(`Environment variable ${name} is required but not set`);
  }
  return value.trim();
}

export function optionalEnv(name: string, fallback: string, env: Env = process.env): string {
  const value = env[name];
  return value === undefined || value.trim() === "" ? fallback : value.trim();
}

/** Inclusive bounds of an integer setting. */
export interface IntRange {
  min: number;
  max: number;
}

/** The integer `raw` spells if it lies within `range`, else undefined: the rule of intEnv, for other inputs (CLI flags). */
export function intInRange(raw: string, range: IntRange): number | undefined {
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= range.min && value <= range.max ? value : undefined;
}

export function intEnv(
  name: string,
  fallback: number,
  range: IntRange,
  env: Env = process.env,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = intInRange(raw, range);
  if (value === undefined) {
    throw new ConfigurationError(
      `Environment variable ${name} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`, any case); missing or empty is the fallback. */
export function booleanEnv(name: string, fallback: boolean, env: Env = process.env): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new ConfigurationError(`Environment variable ${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** One of `choices` (exact, after trimming); missing or empty is the fallback. */
export function choiceEnv<T extends string>(name: string, choices: readonly T[], fallback: T, env: Env = process.env): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim();
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new ConfigurationError(`Environment variable ${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
}
