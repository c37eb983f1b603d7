import { booleanEnv, intEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";

// Defined with the other environment readers (functions/shared/config.ts); still importable from here.
export { booleanEnv } from "../shared/config.ts";

/**
 * The chunk function's bounds on one document, read from the environment once at module load (a bad value fails the
 * function's init with a message naming the variable). docs/input-errors.md lists them for users.
 */
export interface ChunkLimits {
  /** Largest accepted upload, bytes (LLAMBDA_MAX_BYTES). */
  maxBytes: number;
  /** Most pages a PDF may have (LLAMBDA_MAX_PAGES). */
  maxPages: number;
  /**
   * Most chunks a document may produce (LLAMBDA_MAX_CHUNKS); enforced by chunkDocument. A record batch may also have
   * at most this many records (each is at least one chunk), counted while reading, before its records are tokenized.
   */
  maxChunks: number;
  /** Record batches: largest record (a JSONL line, a CSV row), bytes, checked while reading (LLAMBDA_MAX_RECORD_BYTES). */
  maxRecordBytes: number;
  /** Time bound of one document's text extraction, ms (LLAMBDA_EXTRACTION_TIMEOUT_MS). */
  extractionTimeoutMs: number;
  /** Heap bound of the extraction worker, MB (LLAMBDA_EXTRACTION_MEMORY_MB). */
  extractionMemoryMb: number;
  /** Drop running headers and footers (LLAMBDA_DROP_RUNNING_HEADERS). */
  dropRunningHeaders: boolean;
}

/** Bounds of LLAMBDA_CHUNK_TOKENS, the most tokens in a chunk (the handler's setting; `npm start --chunk-tokens`). */
export const chunkTokensRange = { min: 16, max: 32000 } as const;
/** LLAMBDA_CHUNK_TOKENS when unset, and the deployment's default (cdk context `llambda:chunkTokens`, `npm start`). */
export const DEFAULT_CHUNK_TOKENS = 1000;

export const LimitDefaults = {
  maxBytes: 100 * 1024 * 1024,
  maxPages: 2000,
  maxChunks: 5000,
  /** 1 MiB: a record is a small document (a review, a ticket); ~250,000 tokens, ~250 chunks of 1,000 tokens. */
  maxRecordBytes: 1024 * 1024,
  extractionTimeoutMs: 120_000,
  /** Share of the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE) given to the extraction worker's heap. */
  extractionMemoryShare: 0.6,
  /** Worker heap when the function's memory size is unknown (outside Lambda). */
  extractionMemoryMb: 1024,
  dropRunningHeaders: true,
} as const;

/** The chunk function's memory size, MB (the stack's and the twin's): `npm run chunk` derives its worker bound from it. */
export const CHUNK_FUNCTION_MEMORY_MB = 2048;

/** The largest value readChunkLimits accepts for each size bound: `npm run chunk -- --no-limits` uses these. */
export const LimitMaximums = {
  maxBytes: 10 * 1024 ** 3,
  maxPages: 1_000_000,
  maxChunks: 10_000_000,
  maxRecordBytes: 10 * 1024 ** 3,
} as const;

/**
 * Time kept back from the invocation's remaining time for what follows extraction (chunking, uploads): the extraction
 * bound is never more than `remaining - EXTRACTION_TIME_MARGIN_MS`.
 */
export const EXTRACTION_TIME_MARGIN_MS = 15_000;
/** The extraction bound never drops below this, however little time is left. */
export const MIN_EXTRACTION_TIMEOUT_MS = 1_000;

export function readChunkLimits(env: Env = process.env): ChunkLimits {
  const functionMemoryMb = intEnv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0, { min: 0, max: 1_000_000 }, env);
  const derivedMemoryMb =
    functionMemoryMb > 0
      ? Math.max(64, Math.floor(functionMemoryMb * LimitDefaults.extractionMemoryShare))
      : LimitDefaults.extractionMemoryMb;
  return {
    maxBytes: intEnv(EnvNames.maxBytes, LimitDefaults.maxBytes, { min: 1, max: LimitMaximums.maxBytes }, env),
    maxPages: intEnv(EnvNames.maxPages, LimitDefaults.maxPages, { min: 1, max: LimitMaximums.maxPages }, env),
    maxChunks: intEnv(EnvNames.maxChunks, LimitDefaults.maxChunks, { min: 1, max: LimitMaximums.maxChunks }, env),
    maxRecordBytes: intEnv(EnvNames.maxRecordBytes, LimitDefaults.maxRecordBytes, { min: 1, max: LimitMaximums.maxRecordBytes }, env),
    extractionTimeoutMs: intEnv(
      EnvNames.extractionTimeoutMs,
      LimitDefaults.extractionTimeoutMs,
      { min: 1, max: 15 * 60 * 1000 },
      env,
    ),
    extractionMemoryMb: intEnv(EnvNames.extractionMemoryMb, derivedMemoryMb, { min: 32, max: 64 * 1024 }, env),
    dropRunningHeaders: booleanEnv(EnvNames.dropRunningHeaders, LimitDefaults.dropRunningHeaders, env),
  };
}

/**
 * The extraction time bound for one invocation: the configured bound, but never more than the invocation's remaining
 * time minus EXTRACTION_TIME_MARGIN_MS (so a timeout is reported as EXTRACTION_TIMEOUT instead of the function timing
 * out), and never less than MIN_EXTRACTION_TIMEOUT_MS. `cappedByRemainingTime` says which bound applied.
 */
export function extractionTimeout(
  limits: Pick<ChunkLimits, "extractionTimeoutMs">,
  remainingTimeMs?: number,
): { timeoutMs: number; cappedByRemainingTime: boolean } {
  if (remainingTimeMs === undefined || !Number.isFinite(remainingTimeMs)) {
    return { timeoutMs: limits.extractionTimeoutMs, cappedByRemainingTime: false };
  }
  const available = Math.max(MIN_EXTRACTION_TIMEOUT_MS, Math.floor(remainingTimeMs - EXTRACTION_TIME_MARGIN_MS));
  return available < limits.extractionTimeoutMs
    ? { timeoutMs: available, cappedByRemainingTime: true }
    : { timeoutMs: limits.extractionTimeoutMs, cappedByRemainingTime: false };
}

/**
 * TOO_LARGE when `bytes` exceeds the byte limit. `what` says where the size comes from (the upload event, the
 * GetObject response, the downloaded bytes), so the message says which check fired.
 */
export function checkByteSize(bytes: number, limits: Pick<ChunkLimits, "maxBytes">, what: string): void {
  if (bytes > limits.maxBytes) {
    throw new DocumentInputError(
      DocumentInputCodes.TooLarge,
      `the object is ${formatBytes(bytes)} (${what}), more than the limit of ${formatBytes(limits.maxBytes)} ` +
        `(setting ${EnvNames.maxBytes}=${limits.maxBytes})`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
