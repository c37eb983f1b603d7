/**
 * Downloads a model of the manifest: fetch() streamed to a temporary file next to the destination, sha256 computed
 * while downloading, verified, then renamed into place. Idempotent: a file already in place with the expected hash
 * is kept. Used by `npm run model:pull` (models/pull.ts); tests inject `fetchImpl`.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import { dirname } from "node:path";
import { UnknownModelError, defaultModelId, getModel, listModels, type ModelEntry } from "./manifest.ts";
import { pulledModelPath } from "./paths.ts";

/** Environment variable: download from this URL instead of the manifest's (mirrors, tests). The hash still applies. */
export const MODEL_URL_OVERRIDE_ENV = "LLAMBDA_MODEL_URL_OVERRIDE";
/** Environment variable: a Hugging Face access token, sent as a Bearer token (only needed for gated repositories). */
export const HF_TOKEN_ENV = "HF_TOKEN";

export type PullErrorReason = "unknown-model" | "offline" | "http" | "network" | "size" | "checksum" | "unverifiable";

export class PullError extends Error {
  override name = "PullError";
  constructor(
    message: string,
    readonly reason: PullErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PullProgress {
  receivedBytes: number;
  totalBytes: number | null;
  elapsedMs: number;
}

export interface PullOptions {
  /** Manifest id; the default model when omitted. */
  id?: string;
  /** A model entry to pull instead of looking `id` up in models/models.json (same shape as the manifest's). */
  entry?: ModelEntry;
  env?: NodeJS.ProcessEnv;
  /** Destination; default `pulledModelPath(id, env)`. */
  destPath?: string;
  /** fetch implementation (default the global fetch). */
  fetchImpl?: typeof fetch;
  /** Check the sha256 (default true). Without a published sha256 the pull is refused unless this is false. */
  verify?: boolean;
  /** Download again even when the destination already has the expected hash. */
  force?: boolean;
  /** Abort when no response headers arrive within this time (default 30 s). */
  connectTimeoutMs?: number;
  /** Abort when no body bytes arrive within this time (default 60 s). */
  stallTimeoutMs?: number;
  /** Called at most every ~250 ms while downloading, and once at the end. */
  onProgress?: (p: PullProgress) => void;
  /** Human-readable status lines (default: none). */
  log?: (line: string) => void;
}

export interface PullResult {
  id: string;
  path: string;
  url: string;
  bytes: number;
  sha256: string;
  /** `already-present`: the file was in place with the expected hash and nothing was downloaded. */
  status: "downloaded" | "already-present";
  verified: boolean;
  /** The model's LoRA adapter, when the manifest names one. */
  lora?: PullResult;
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const NETWORK_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
]);

/** A short description of why a fetch failed ("getaddrinfo ENOTFOUND huggingface.co"), following `cause` chains. */
export function describeFetchError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      const msg = e.message && e.message !== "fetch failed" ? e.message : undefined;
      if (msg && !parts.includes(msg)) parts.push(msg);
      else if (code && !parts.some((p) => p.includes(code))) parts.push(code);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.length > 0 ? parts.join(": ") : "fetch failed";
}

/** Whether an error thrown by fetch() means the host could not be reached (DNS, connect, TLS, timeout). */
export function isNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && NETWORK_CODES.has(code)) return true;
    if (e.name === "AbortError" || e.name === "TimeoutError" || e.name === "ConnectTimeoutError") return true;
    if (e instanceof TypeError && e.message === "fetch failed") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function offlineMessage(entry: Pick<ModelEntry, "id">, url: string, detail: string): string {
  let host = "the model host";
  try {
    host = new URL(url).host;
  } catch {
    // keep the generic name
  }
  return [
    `Cannot download model "${entry.id}": ${host} is unreachable (${detail}).`,
    `\`npm run model:pull\` needs internet access to ${host} to download`,
    `  ${url}`,
    "Without network access, `npm run model:tiny` makes a tiny offline test model (models/tiny.gguf, random weights:",
    "for tests, not for real extraction); use it with --model models/tiny.gguf or LLAMBDA_MODEL=models/tiny.gguf.",
  ].join("\n");
}

function resolveEntry(id: string | undefined): ModelEntry {
  try {
    return getModel(id ?? defaultModelId);
  } catch (err) {
    if (err instanceof UnknownModelError) {
      throw new PullError(`${err.message}\nUsage: npm run model:pull [-- <id>]`, "unknown-model", { cause: err });
    }
    throw err;
  }
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Downloads (or confirms) a model of the manifest. Throws PullError with a user-facing message on failure. */
export async function pullModel(options: PullOptions = {}): Promise<PullResult> {
  const env = options.env ?? process.env;
  const entry = options.entry ?? resolveEntry(options.id);
  const override = env[MODEL_URL_OVERRIDE_ENV]?.trim();
  const dest = options.destPath ?? pulledModelPath(entry.id, env);
  const result = await pullFile({ ...entry, url: override || entry.url, sizeBytes: override ? null : entry.sizeBytes }, dest, options);
  if (entry.lora) {
    // A fine-tune's adapter comes with its base model: same checks, stored beside it as <id>.lora.gguf.
    result.lora = await pullFile(
      {
        id: `${entry.id} LoRA adapter`,
        displayName: `LoRA adapter for ${entry.displayName}`,
        url: entry.lora.url,
        sha256: entry.lora.sha256,
        sha256Source: "the manifest's lora.sha256",
        sizeBytes: null,
      },
      loraPathFor(dest),
      options,
    );
  }
  return result;
}

/** Where a model's LoRA adapter is stored: beside the model, `<id>.lora.gguf`. */
export function loraPathFor(modelPath: string): string {
  return modelPath.replace(/\.gguf$/i, "") + ".lora.gguf";
}

interface PullTarget {
  id: string;
  displayName: string;
  url: string;
  sha256: string | null;
  sha256Source: string;
  /** Expected size, when the manifest knows it. */
  sizeBytes: number | null;
}

async function pullFile(entry: PullTarget, dest: string, options: PullOptions): Promise<PullResult> {
  const env = options.env ?? process.env;
  const verify = options.verify ?? true;
  const url = entry.url;
  const log = options.log ?? (() => undefined);
  const fetchImpl = options.fetchImpl ?? fetch;

  if (verify && entry.sha256 === null) {
    throw new PullError(
      `Model "${entry.id}" has no published sha256 in models/models.json, so the download cannot be verified. ` +
        "Add the sha256 to the manifest, or pass --no-verify to install it unverified.",
      "unverifiable",
    );
  }

  // Idempotence: keep a file that is already in place and correct.
  const existingSize = await fileSize(dest);
  if (existingSize !== null && !options.force) {
    if (!verify) {
      log(`${dest} already exists (not verified: --no-verify).`);
      return { id: entry.id, path: dest, url, bytes: existingSize, sha256: await sha256File(dest), status: "already-present", verified: false };
    }
    log(`${dest} exists; checking its sha256…`);
    const existingHash = await sha256File(dest);
    if (existingHash === entry.sha256) {
      log(`${dest} is already present and verified (sha256 ${existingHash}).`);
      return { id: entry.id, path: dest, url, bytes: existingSize, sha256: existingHash, status: "already-present", verified: true };
    }
    log(`${dest} has sha256 ${existingHash}, expected ${entry.sha256}: downloading it again.`);
  }

  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.download`;
  const controller = new AbortController();
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout = setTimeout(() => controller.abort(new Error(`no response within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  const started = Date.now();

  const headers: Record<string, string> = { "user-agent": "llambda-model-pull/0.1" };
  const token = env[HF_TOKEN_ENV]?.trim();
  if (token && new URL(url).host.endsWith("huggingface.co")) headers.authorization = `Bearer ${token}`;

  log(`Downloading ${entry.displayName}\n  from ${url}\n  to   ${dest}`);
  let response: Response;
  try {
    response = await fetchImpl(url, { headers, redirect: "follow", signal: controller.signal });
  } catch (err) {
    clearTimeout(timer);
    const detail = controller.signal.aborted ? String((controller.signal.reason as Error)?.message ?? "timeout") : describeFetchError(err);
    if (controller.signal.aborted || isNetworkError(err)) throw new PullError(offlineMessage(entry, url, detail), "offline", { cause: err });
    throw new PullError(`Cannot download ${url}: ${detail}`, "network", { cause: err });
  }
  clearTimeout(timer);

  if (!response.ok || response.body === null) {
    const hint =
      response.status === 401 || response.status === 403
        ? ` The repository may be gated: accept its license on Hugging Face and set ${HF_TOKEN_ENV}.`
        : response.status === 404
          ? " The file or revision may have moved: check the url in models/models.json."
          : "";
    throw new PullError(`Download of ${url} failed: HTTP ${response.status} ${response.statusText}.${hint}`, "http");
  }

  const lengthHeader = Number(response.headers.get("content-length"));
  const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : entry.sizeBytes;
  const hash = createHash("sha256");
  const out = createWriteStream(tmp);
  let received = 0;
  let lastProgress = 0;
  const progress = () => options.onProgress?.({ receivedBytes: received, totalBytes: total, elapsedMs: Date.now() - started });
  let ok = false;
  try {
    const armStall = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error(`download stalled for ${stallTimeoutMs} ms`)), stallTimeoutMs);
    };
    armStall();
    try {
      for await (const chunk of response.body) {
        armStall();
        const bytes = chunk as Uint8Array;
        received += bytes.length;
        hash.update(bytes);
        if (!out.write(bytes)) await once(out, "drain");
        if (Date.now() - lastProgress >= 250) {
          lastProgress = Date.now();
          progress();
        }
      }
    } catch (err) {
      const detail = controller.signal.aborted ? String((controller.signal.reason as Error)?.message) : describeFetchError(err);
      throw new PullError(
        `Download of ${url} was interrupted after ${received} bytes (${detail}). Run \`npm run model:pull\` again.`,
        "network",
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
    out.end();
    await once(out, "finish");
    progress();

    if (entry.sizeBytes !== null && received !== entry.sizeBytes) {
      throw new PullError(`Downloaded ${received} bytes from ${url}, expected ${entry.sizeBytes}; the file was discarded.`, "size");
    }
    const digest = hash.digest("hex");
    if (verify && digest !== entry.sha256) {
      throw new PullError(
        `sha256 mismatch for ${url}: got ${digest}, expected ${entry.sha256} (${entry.sha256Source.split(".")[0]}). ` +
          "The file was discarded.",
        "checksum",
      );
    }
    await rename(tmp, dest);
    ok = true;
    log(`Saved ${dest} (${received} bytes, sha256 ${digest}${verify ? ", verified" : ", NOT verified"}).`);
    return { id: entry.id, path: dest, url, bytes: received, sha256: digest, status: "downloaded", verified: verify };
  } finally {
    if (!ok) {
      out.destroy();
      await rm(tmp, { force: true });
    }
  }
}

/** Ids of the manifest's models, default first (for usage messages). */
export function knownModelIds(): string[] {
  const ids = listModels().map((m) => m.id);
  return [defaultModelId, ...ids.filter((id) => id !== defaultModelId)];
}
