import { ConfigurationError } from "./errors.ts";

/**
 * Reads settings from the environment. Handlers call these once at module load so that a bad deployment fails the
 * function's init with a message naming the variable, not the first document.
 */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigurationError(`Environment variable ${name} is required but not set`);
  }
  return value.trim();
}

export function optionalEnv(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  return value === undefined || value.trim() === "" ? fallback : value.trim();
}

export function intEnv(
  name: string,
  fallback: number,
  range: { min: number; max: number },
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigurationError(
      `Environment variable ${name} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
