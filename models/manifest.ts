/**
 * Typed access to models/models.json, the manifest of the real models the project supports.
 * The JSON is imported (not read from disk) so that bundlers can inline it.
 */
import rawManifest from "./models.json" with { type: "json" };

export interface LoraAdapter {
  url: string;
  sha256: string | null;
  scale?: number;
}

export interface ModelEntry {
  /** Stable id, also the file name of the pulled model (`<id>.gguf`). Lowercase letters, digits, `.`, `_`, `-`. */
  id: string;
  displayName: string;
  /** Direct download URL (a Hugging Face `resolve` URL, pinned to a revision). */
  url: string;
  /** Expected sha256 (lowercase hex) of the file, or null when no published value was found. */
  sha256: string | null;
  /** Where `sha256` comes from (it cannot be computed on a machine without access to the model host). */
  sha256Source: string;
  sizeBytes: number;
  /** Context length the model was trained for (`<arch>.context_length`); the runtime uses a smaller context. */
  contextLength: number;
  license: string;
  /** Suggested Lambda settings: memory (which also sets the vCPU share) and ggml threads. */
  suggested: { memoryMb: number; threads: number };
  lora: LoraAdapter | null;
  huggingFaceRepo?: string;
  revision?: string;
  fileName?: string;
  quantization?: string;
  architecture?: string;
  licenseUrl?: string;
  notes?: string;
}

export interface ModelManifest {
  defaultModelId: string;
  models: ModelEntry[];
}

export class ManifestError extends Error {
  override name = "ManifestError";
}

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string" || v.trim() === "") throw new ManifestError(`${where}.${key} must be a non-empty string`);
  return v;
}

function optStr(o: Record<string, unknown>, key: string, where: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, where);
}

function posInt(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new ManifestError(`${where}.${key} must be a positive integer`);
  return v;
}

function sha(o: Record<string, unknown>, key: string, where: string): string | null {
  const v = o[key];
  if (v === null) return null;
  if (typeof v !== "string" || !SHA256_PATTERN.test(v)) {
    throw new ManifestError(`${where}.${key} must be null or 64 lowercase hex digits`);
  }
  return v;
}

function httpsUrl(o: Record<string, unknown>, key: string, where: string): string {
  const v = str(o, key, where);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ManifestError(`${where}.${key} is not a URL: ${v}`);
  }
  if (url.protocol !== "https:") throw new ManifestError(`${where}.${key} must be an https URL`);
  return v;
}

function parseEntry(raw: unknown, index: number): ModelEntry {
  const where = `models[${index}]`;
  if (!isRecord(raw)) throw new ManifestError(`${where} must be an object`);
  const id = str(raw, "id", where);
  if (!ID_PATTERN.test(id)) throw new ManifestError(`${where}.id "${id}" must match ${ID_PATTERN}`);
  const suggestedRaw = raw.suggested;
  if (!isRecord(suggestedRaw)) throw new ManifestError(`${where}.suggested must be an object`);
  const suggested = {
    memoryMb: posInt(suggestedRaw, "memoryMb", `${where}.suggested`),
    threads: posInt(suggestedRaw, "threads", `${where}.suggested`),
  };
  if (suggested.memoryMb < 128 || suggested.memoryMb > 10240) {
    throw new ManifestError(`${where}.suggested.memoryMb must be within Lambda's 128–10240 MB`);
  }
  let lora: LoraAdapter | null = null;
  if (raw.lora !== undefined && raw.lora !== null) {
    if (!isRecord(raw.lora)) throw new ManifestError(`${where}.lora must be null or an object`);
    const scale = raw.lora.scale;
    if (scale !== undefined && typeof scale !== "number") throw new ManifestError(`${where}.lora.scale must be a number`);
    lora = {
      url: httpsUrl(raw.lora, "url", `${where}.lora`),
      sha256: sha(raw.lora, "sha256", `${where}.lora`),
      ...(scale !== undefined ? { scale } : {}),
    };
  }
  const entry: ModelEntry = {
    id,
    displayName: str(raw, "displayName", where),
    url: httpsUrl(raw, "url", where),
    sha256: sha(raw, "sha256", where),
    sha256Source: str(raw, "sha256Source", where),
    sizeBytes: posInt(raw, "sizeBytes", where),
    contextLength: posInt(raw, "contextLength", where),
    license: str(raw, "license", where),
    suggested,
    lora,
  };
  for (const key of ["huggingFaceRepo", "revision", "fileName", "quantization", "architecture", "licenseUrl", "notes"] as const) {
    const v = optStr(raw, key, where);
    if (v !== undefined) entry[key] = v;
  }
  return entry;
}

/** Validates a parsed models.json. Throws ManifestError naming the first bad field. */
export function parseManifest(raw: unknown): ModelManifest {
  if (!isRecord(raw)) throw new ManifestError("the manifest must be an object");
  if (!Array.isArray(raw.models) || raw.models.length === 0) throw new ManifestError("models must be a non-empty array");
  const models = raw.models.map(parseEntry);
  const ids = new Set<string>();
  for (const m of models) {
    if (ids.has(m.id)) throw new ManifestError(`duplicate model id ${m.id}`);
    ids.add(m.id);
  }
  const defaultModelId = str(raw, "defaultModelId", "manifest");
  if (!ids.has(defaultModelId)) throw new ManifestError(`defaultModelId "${defaultModelId}" is not one of the models`);
  return { defaultModelId, models };
}

/** The validated manifest of models/models.json (validated once, at import). */
export const manifest: ModelManifest = parseManifest(rawManifest);

/** Id of the default model. */
export const defaultModelId: string = manifest.defaultModelId;

export class UnknownModelError extends Error {
  override name = "UnknownModelError";
  constructor(
    readonly id: string,
    readonly knownIds: readonly string[],
  ) {
    super(`Unknown model id "${id}". Known ids: ${knownIds.join(", ")}`);
  }
}

export function listModels(): readonly ModelEntry[] {
  return manifest.models;
}

/** The entry for `id` (the default model when omitted). Throws UnknownModelError listing the known ids. */
export function getModel(id: string = defaultModelId): ModelEntry {
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) throw new UnknownModelError(id, manifest.models.map((m) => m.id));
  return entry;
}
