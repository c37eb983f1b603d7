import { ocrModes, type OcrMode } from "../shared/contracts.ts";
import { longestPrefixValue } from "./schema-routing.ts";

/**
 * Which pages a document has OCR'd, by where it was uploaded: a default mode (LLAMBDA_OCR, cdk.json `llambda:ocr`) and
 * key prefixes with their own (LLAMBDA_OCR_ROUTES, `llambda:ocrRoutes`), longest prefix winning as for schemas. The
 * start function records the mode in the execution input; the chunk step reads it from there.
 */
export interface OcrRouting {
  routes: Record<string, OcrMode>;
  defaultMode: OcrMode;
}

export class OcrRoutingError extends Error {
  override readonly name = "OcrRoutingError";
}

export function ocrModeForKey(routing: OcrRouting, key: string): OcrMode {
  return longestPrefixValue(routing.routes, key) ?? routing.defaultMode;
}

/** A mode as written in settings: `auto`, `scans`, `always` or `never`. */
export function parseOcrMode(value: unknown, what: string): OcrMode {
  if (typeof value === "string" && (ocrModes as readonly string[]).includes(value)) return value as OcrMode;
  throw new OcrRoutingError(`${what} must be one of ${ocrModes.join(", ")}, got ${JSON.stringify(value)}`);
}

/**
 * The routes from JSON text or an object: prefix → mode, every prefix under `uploadsPrefix` (where uploads start the
 * workflow), every mode known. Problems are listed together.
 */
export function parseOcrRoutes(value: unknown, uploadsPrefix: string): Record<string, OcrMode> {
  let routes: unknown = value;
  if (typeof value === "string") {
    try {
      routes = JSON.parse(value);
    } catch (error) {
      throw new OcrRoutingError(`OCR routes are not JSON: ${String(error)}`);
    }
  }
  if (!routes || typeof routes !== "object" || Array.isArray(routes)) {
    throw new OcrRoutingError(`OCR routes must be an object of key prefix → mode, got ${JSON.stringify(value)}`);
  }
  const problems: string[] = [];
  const parsed: Record<string, OcrMode> = {};
  for (const [prefix, mode] of Object.entries(routes)) {
    try {
      parsed[prefix] = parseOcrMode(mode, `the mode of prefix "${prefix}"`);
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (prefix === "" || !prefix.startsWith(uploadsPrefix)) {
      problems.push(`prefix "${prefix}" is outside "${uploadsPrefix}", where uploads start the workflow`);
    }
  }
  if (problems.length > 0) throw new OcrRoutingError(`Invalid OCR routes: ${problems.join("; ")}`);
  return parsed;
}
