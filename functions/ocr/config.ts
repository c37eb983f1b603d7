import { createRequire } from "node:module";
import { intEnv, optionalEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { ConfigurationError } from "../shared/errors.ts";

export interface OcrConfig {
  /** The bucket the pages' OCR results are written to. */
  bucket: string;
  /** Tesseract language code; its model comes from the installed `@tesseract.js-data/<code>` package. */
  language: string;
  dpi: number;
  maxPixels: number;
  pageTimeoutMs: number;
  /** Pages worked on at once: one render worker and one recogniser each. */
  concurrency: number;
}

/** Lambda gives a function one vCPU per 1,769 MB of memory. */
const MB_PER_VCPU = 1769;

/** The one validator of the OCR function's settings: handler init, the twin, and the stack at synth time. */
export function readOcrConfig(env: Env): OcrConfig {
  const language = optionalEnv(EnvNames.ocrLanguage, "eng", env);
  checkLanguageInstalled(language);
  const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? MB_PER_VCPU);
  const vcpus = Math.max(1, Math.min(6, Math.floor((Number.isFinite(memoryMb) ? memoryMb : MB_PER_VCPU) / MB_PER_VCPU)));
  return {
    bucket: requireEnv(EnvNames.bucket, env),
    language,
    dpi: intEnv(EnvNames.ocrDpi, 300, { min: 72, max: 600 }, env),
    maxPixels: intEnv(EnvNames.ocrMaxPixels, 40_000_000, { min: 1_000_000, max: 100_000_000 }, env),
    // Under the function's 900 s with room for a page to start late in an invocation and still finish.
    pageTimeoutMs: intEnv(EnvNames.ocrPageTimeoutMs, 120_000, { min: 1_000, max: 600_000 }, env),
    concurrency: intEnv(EnvNames.ocrConcurrency, vcpus, { min: 1, max: 6 }, env),
  };
}

/**
 * One language per deployment for now: tesseract.js reads a worker's languages from one directory, and each
 * `@tesseract.js-data/<code>` package has its own. The package must be a dependency (npm install it): checked here,
 * so a missing one fails the synth and the init, not the first scan.
 */
function checkLanguageInstalled(language: string): void {
  if (!/^[a-z_]{3,12}$/.test(language)) {
    throw new ConfigurationError(
      `${EnvNames.ocrLanguage} must be one Tesseract language code (e.g. eng, deu, fra), got ${JSON.stringify(language)}`,
    );
  }
  try {
    createRequire(import.meta.url).resolve(`@tesseract.js-data/${language}/package.json`);
  } catch {
    throw new ConfigurationError(
      `${EnvNames.ocrLanguage}=${language}: its model package @tesseract.js-data/${language} is not installed ` +
        `(npm install --save-exact @tesseract.js-data/${language})`,
    );
  }
}
