/**
 * Where model files live, and which model file a local command should use.
 *
 *   - pulled models: `<models dir>/<id>.gguf`; the models dir is this folder (models/) unless LLAMBDA_MODELS_DIR is set;
 *   - the tiny test model: `<models dir>/tiny.gguf` (`npm run model:tiny`).
 *
 * Model files are git-ignored (`models/*.gguf`).
 */
import { statSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultModelId, getModel } from "./manifest.ts";

/** Environment variable: directory of pulled models (default: the repository's models/ folder). */
export const MODELS_DIR_ENV = "LLAMBDA_MODELS_DIR";
/** Environment variable: path of the model file to use (after `--model`, before the pulled default model). */
export const MODEL_ENV = "LLAMBDA_MODEL";

/** The repository's models/ folder (this file's directory). */
export const REPO_MODELS_DIR: string = fileURLToPath(new URL(".", import.meta.url));

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v.trim() : undefined;
}

/** Directory of pulled models: $LLAMBDA_MODELS_DIR (resolved against `cwd`) or the repository's models/ folder. */
export function modelsDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = nonEmpty(env[MODELS_DIR_ENV]);
  return fromEnv !== undefined ? resolve(cwd, fromEnv) : REPO_MODELS_DIR;
}

/** Path of a pulled model: `<models dir>/<id>.gguf` (the id is validated by the manifest to be file-name safe). */
export function pulledModelPath(id: string = defaultModelId, env: NodeJS.ProcessEnv = process.env, cwd?: string): string {
  return join(modelsDir(env, cwd), `${id}.gguf`);
}

/** Default path of the tiny test model written by `npm run model:tiny`. */
export function tinyModelPath(env: NodeJS.ProcessEnv = process.env, cwd?: string): string {
  return join(modelsDir(env, cwd), "tiny.gguf");
}

export type ModelPathSource = "cli" | "env" | "pulled" | "tiny";

export interface ResolveModelPathOptions {
  /** Value of the CLI's `--model` option, if given. */
  cliPath?: string;
  /** Environment to read LLAMBDA_MODEL and LLAMBDA_MODELS_DIR from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against (default process.cwd()). */
  cwd?: string;
  /**
   * When nothing else is found, fall back to the tiny test model (`npm run model:tiny`), if it exists. For commands
   * that prove the plumbing (the twin CLI, the soak); not for ones whose output means something (eval).
   */
  allowTiny?: boolean;
}

export interface ResolvedModelPath {
  /** Absolute path of an existing model file. */
  path: string;
  /** Which rule chose it. */
  source: ModelPathSource;
  /** The manifest id for a pulled model, otherwise the file name without `.gguf`. */
  modelId: string;
}

export class ModelNotFoundError extends Error {
  override name = "ModelNotFoundError";
}

const HOW_TO_GET_A_MODEL =
  "Run `npm run model:pull` to download the default model " +
  "(needs internet access to huggingface.co), or `npm run model:tiny` to write a tiny offline test model " +
  "(models/tiny.gguf, random weights: for tests only) and pass it with --model models/tiny.gguf or LLAMBDA_MODEL.";

/** What a command tells the user when it fell back to the tiny model (resolveModelPath's source "tiny"). */
export function tinyModelNotice(path: string): string {
  return (
    `No --model given and the default model is not pulled: using the tiny test model ${path} ` +
    "(random weights: it proves the plumbing, its answers are noise; `npm run model:pull` gets the real model)"
  );
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The model file a local command should use. Precedence:
 *   1. `cliPath` (the `--model` option);
 *   2. $LLAMBDA_MODEL;
 *   3. the pulled default model, `<models dir>/<default id>.gguf`, if it exists;
 *   4. with `allowTiny`, the tiny test model `<models dir>/tiny.gguf`, if it exists (source "tiny": say so to the user).
 * An explicit path (1 or 2) that does not exist is an error, not a reason to fall through. When nothing is found, it
 * throws a ModelNotFoundError whose message names `npm run model:pull` and `npm run model:tiny`.
 */
export function resolveModelPath(options: ResolveModelPathOptions = {}): ResolvedModelPath {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit: [ModelPathSource, string | undefined, string][] = [
    ["cli", nonEmpty(options.cliPath), "--model"],
    ["env", nonEmpty(env[MODEL_ENV]), `$${MODEL_ENV}`],
  ];
  for (const [source, value, label] of explicit) {
    if (value === undefined) continue;
    const path = isAbsolute(value) ? value : resolve(cwd, value);
    if (!isFile(path)) {
      throw new ModelNotFoundError(`Model file not found: ${path} (from ${label}). ${HOW_TO_GET_A_MODEL}`);
    }
    return { path, source, modelId: basename(path).replace(/\.gguf$/i, "") };
  }
  const pulled = pulledModelPath(defaultModelId, env, cwd);
  if (isFile(pulled)) return { path: pulled, source: "pulled", modelId: defaultModelId };
  const tiny = tinyModelPath(env, cwd);
  if (options.allowTiny && isFile(tiny)) return { path: tiny, source: "tiny", modelId: "tiny" };
  const entry = getModel(defaultModelId);
  throw new ModelNotFoundError(
    `No model file found: no --model option, ${MODEL_ENV} is not set, and the default model ` +
      `${entry.displayName} has not been pulled to ${pulled}. ${HOW_TO_GET_A_MODEL}`,
  );
}
