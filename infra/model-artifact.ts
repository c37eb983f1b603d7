import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * What the stack needs to know about the model baked into the inference image, read at synth from the repository:
 * models/models.json (the manifest, for the sha256) and models/<id>.gguf (the pulled file). Read tolerantly: synth
 * must work before a model is pulled and while the manifest's shape evolves; the Docker build is where a missing or
 * unverifiable model fails.
 */
export interface ModelArtifact {
  id: string;
  /** Path of the model file relative to the repository root (`models/<id>.gguf`), what the Dockerfile COPYs. */
  relativePath: string;
  /** Whether that file exists now. */
  present: boolean;
  /** Expected sha256 (lowercase hex) from the manifest or an override, "" when unknown. */
  sha256: string;
  /** Where sha256 came from. */
  sha256Source: "override" | "manifest" | "none";
  /** Whether models/models.json lists the id. */
  inManifest: boolean;
  /** The model's LoRA adapter (models/<id>.lora.gguf), when the manifest names one. */
  lora?: { relativePath: string; sha256: string; scale?: number };
}

/** Ids become file names and Docker build args: keep them to a safe character set. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

interface ManifestShape {
  defaultModelId?: unknown;
  models?: unknown;
}

function readManifest(repoRoot: string): ManifestShape | undefined {
  const file = join(repoRoot, "models", "models.json");
  if (!existsSync(file)) return undefined;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as ManifestShape) : undefined;
  } catch {
    return undefined;
  }
}

/** The manifest's default model id, if the manifest exists and names one. */
export function manifestDefaultModelId(repoRoot: string): string | undefined {
  const id = readManifest(repoRoot)?.defaultModelId;
  return typeof id === "string" && MODEL_ID_PATTERN.test(id) ? id : undefined;
}

function manifestSha256(repoRoot: string, id: string): { listed: boolean; sha256?: string; lora?: { sha256: string; scale?: number } } {
  const models = readManifest(repoRoot)?.models;
  if (!Array.isArray(models)) return { listed: false };
  for (const entry of models) {
    if (typeof entry !== "object" || entry === null) continue;
    const record = entry as Record<string, unknown>;
    if (record.id !== id) continue;
    const sha = typeof record.sha256 === "string" ? record.sha256.toLowerCase() : undefined;
    const lora = typeof record.lora === "object" && record.lora !== null ? (record.lora as Record<string, unknown>) : undefined;
    const loraSha = typeof lora?.sha256 === "string" ? lora.sha256.toLowerCase() : "";
    return {
      listed: true,
      ...(sha !== undefined && SHA256_PATTERN.test(sha) ? { sha256: sha } : {}),
      // An adapter without a verifiable sha256 gets "", which the image build refuses, like an unverified model.
      ...(lora ? { lora: { sha256: SHA256_PATTERN.test(loraSha) ? loraSha : "", ...(typeof lora.scale === "number" ? { scale: lora.scale } : {}) } } : {}),
    };
  }
  return { listed: false };
}

export function resolveModelArtifact(repoRoot: string, id: string, sha256Override?: string): ModelArtifact {
  if (!MODEL_ID_PATTERN.test(id)) {
    throw new Error(`Model id "${id}" must match ${MODEL_ID_PATTERN} (it becomes the file name models/<id>.gguf)`);
  }
  const relativePath = `models/${id}.gguf`;
  const absolute = join(repoRoot, relativePath);
  const present = existsSync(absolute) && statSync(absolute).isFile();
  const fromManifest = manifestSha256(repoRoot, id);
  const lora = fromManifest.lora ? { lora: { relativePath: `models/${id}.lora.gguf`, ...fromManifest.lora } } : {};
  const override = sha256Override?.trim().toLowerCase();
  if (override !== undefined && override !== "" && !SHA256_PATTERN.test(override)) {
    throw new Error(`Model sha256 override must be 64 hex digits, got "${sha256Override}"`);
  }
  if (override) {
    return { id, relativePath, present, sha256: override, sha256Source: "override", inManifest: fromManifest.listed, ...lora };
  }
  if (fromManifest.sha256) {
    return { id, relativePath, present, sha256: fromManifest.sha256, sha256Source: "manifest", inManifest: true, ...lora };
  }
  return { id, relativePath, present, sha256: "", sha256Source: "none", inManifest: fromManifest.listed, ...lora };
}

/**
 * Exclude patterns (Docker ignore syntax, appended after .dockerignore by the image asset) that keep every model file
 * except the selected one out of the build context, so the asset hash and the context stay small. Listing the files
 * explicitly, rather than `models/*.gguf` plus a `!` re-include, keeps the rule correct whatever .dockerignore says.
 */
export function otherModelFileExcludes(repoRoot: string, artifact: ModelArtifact): string[] {
  const dir = join(repoRoot, "models");
  if (!existsSync(dir)) return [];
  const excludes = readdirSync(dir)
    .filter((name) => `models/${name}` !== artifact.relativePath && `models/${name}` !== artifact.lora?.relativePath)
    .filter((name) => /\.(gguf|bin|safetensors|part|partial|tmp|download)$/i.test(name))
    // Glob characters in a stray file name would be read as a pattern: `?` still matches the character itself.
    .map((name) => `models/${name.replace(/[*?[\]\\]/g, "?")}`)
    .sort();
  // Last rule wins: whatever the patterns above match, the selected model stays in.
  const keep = [artifact.relativePath, ...(artifact.lora ? [artifact.lora.relativePath] : [])].map((path) => `!${path}`);
  return excludes.length > 0 ? [...excludes, ...keep] : [];
}
