/**
 * Downloads a model of the manifest with node-llama-cpp's `createModelDownloader` (ipull underneath: parallel ranged
 * requests, retries, and RESUME: an interrupted download keeps `<dest>.download.ipull` with its progress, and the next
 * `npm run model:pull` continues from there instead of starting a 1 GB file again). Before it, one small request of
 * our own checks that the host answers (a clear "offline" or HTTP message in seconds; the downloader would retry an
 * unreachable host for minutes). After it, the sha256 is verified and only then is the file renamed into place.
 * Idempotent: a file already in place with the expected hash is kept. Used by `npm run model:pull` (models/pull.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
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
  /** fetch implementation of the reachability check before the download (default the global fetch). */
  fetchImpl?: typeof fetch;
  /** Check the sha256 (default true). Without a published sha256 the pull is refused unless this is false. */
  verify?: boolean;
  /** Download again even when the destination already has the expected hash. */
  force?: boolean;
  /** Abort when no response headers arrive within this time (default 30 s). */
  connectTimeoutMs?: number;
  /** Stop (keeping the partial file to resume from) when no bytes arrive within this time (default 60 s). */
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

function partialBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
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
  // The downloader writes `<staging>.ipull` (the partial file and its progress, kept for resume) and renames it to
  // `<staging>` when complete; the destination only ever receives a verified file.
  const staging = `${dest}.download`;
  const partial = `${staging}.ipull`;
  const discardStaging = () => Promise.all([rm(staging, { force: true }), rm(partial, { force: true })]);
  if (options.force) await discardStaging();
  const resumeFrom = await fileSize(partial);

  const headers: Record<string, string> = { "user-agent": "llambda-model-pull/0.1" };
  const token = env[HF_TOKEN_ENV]?.trim();
  if (token && new URL(url).host.endsWith("huggingface.co")) headers.authorization = `Bearer ${token}`;

  log(`Downloading ${entry.displayName}\n  from ${url}\n  to   ${dest}${resumeFrom ? "\n  (resuming an interrupted download)" : ""}`);
  await checkReachable(entry, url, headers, fetchImpl, options.connectTimeoutMs ?? 30_000);

  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const started = Date.now();
  let received = 0;
  let total: number | null = entry.sizeBytes;
  let lastProgress = 0;
  const progress = () => options.onProgress?.({ receivedBytes: received, totalBytes: total, elapsedMs: Date.now() - started });
  const stalled = new AbortController();
  let stallTimer: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stalled.abort(new Error(`no bytes for ${stallTimeoutMs} ms`)), stallTimeoutMs);
  };
  const interrupted = (detail: string, cause: unknown) =>
    new PullError(
      `Download of ${url} was interrupted after ${received} bytes (${detail}). Run \`npm run model:pull\` again` +
        (partialBytes(partial) > 0 ? `: it resumes from ${partial}.` : "."),
      "network",
      { cause },
    );
  // A silent connection ends neither ipull's requests nor its download, even once cancelled: stop waiting at the stall.
  const stop = new Promise<never>((_, reject) =>
    stalled.signal.addEventListener("abort", () => reject(interrupted(String((stalled.signal.reason as Error).message), stalled.signal.reason)), {
      once: true,
    }),
  );
  stop.catch(() => undefined);

  let ok = false;
  try {
    // Imported here: node-llama-cpp is large, and only a download needs it.
    const { createModelDownloader } = await import("node-llama-cpp");
    armStall();
    const created = createModelDownloader({
      modelUri: url,
      dirPath: dirname(staging),
      fileName: basename(staging),
      headers,
      // A complete staging file of the remote's size (a run stopped before its rename) is reused: it is verified below.
      skipExisting: true,
      deleteTempFileOnCancel: false,
      showCliProgress: false,
      onProgress: ({ totalSize, downloadedSize }) => {
        armStall();
        received = downloadedSize;
        if (totalSize > 0) total = totalSize;
        if (Date.now() - lastProgress >= 250) {
          lastProgress = Date.now();
          progress();
        }
      },
    });
    const downloader = await Promise.race([created, stop]).catch((error: unknown) => {
      throw downloadError(url, error, interrupted);
    });
    armStall();
    try {
      await Promise.race([downloader.download(), stop]);
    } catch (error) {
      if (stalled.signal.aborted) {
        // Keeps the partial file and its progress for the next run.
        await Promise.race([downloader.cancel({ deleteTempFile: false }), new Promise((resolveWait) => setTimeout(resolveWait, 2000).unref())]);
        throw error instanceof PullError ? error : interrupted(String((stalled.signal.reason as Error).message), error);
      }
      throw downloadError(url, error, interrupted);
    }
    clearTimeout(stallTimer);
    received = (await fileSize(staging)) ?? 0;
    progress();

    if (entry.sizeBytes !== null && received !== entry.sizeBytes) {
      await discardStaging();
      throw new PullError(`Downloaded ${received} bytes from ${url}, expected ${entry.sizeBytes}; the file was discarded.`, "size");
    }
    const digest = await sha256File(staging);
    if (verify && digest !== entry.sha256) {
      await discardStaging();
      throw new PullError(
        `sha256 mismatch for ${url}: got ${digest}, expected ${entry.sha256} (${entry.sha256Source.split(".")[0]}). ` +
          "The file was discarded.",
        "checksum",
      );
    }
    await rename(staging, dest);
    ok = true;
    log(`Saved ${dest} (${received} bytes, sha256 ${digest}${verify ? ", verified" : ", NOT verified"}).`);
    return { id: entry.id, path: dest, url, bytes: received, sha256: digest, status: "downloaded", verified: verify };
  } finally {
    clearTimeout(stallTimer);
    // A partial download stays for the next run to resume; an empty one is not worth keeping.
    if (!ok && ((await fileSize(partial)) ?? 0) === 0) await rm(partial, { force: true });
  }
}

/**
 * One request for the first byte, with our own timeout: an unreachable host, a gated repository or a moved file is
 * reported in seconds with what to do, before the downloader (which retries for minutes) starts.
 */
async function checkReachable(
  entry: Pick<ModelEntry, "id">,
  url: string,
  headers: Record<string, string>,
  fetchImpl: typeof fetch,
  connectTimeoutMs: number,
): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no response within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { ...headers, range: "bytes=0-0" }, redirect: "follow", signal: controller.signal });
  } catch (err) {
    const detail = controller.signal.aborted ? String((controller.signal.reason as Error)?.message ?? "timeout") : describeFetchError(err);
    if (controller.signal.aborted || isNetworkError(err)) throw new PullError(offlineMessage(entry, url, detail), "offline", { cause: err });
    throw new PullError(`Cannot download ${url}: ${detail}`, "network", { cause: err });
  } finally {
    clearTimeout(timer);
  }
  await response.body?.cancel().catch(() => undefined);
  if (!response.ok) throw httpError(url, response.status, response.statusText);
}

function httpError(url: string, status: number, statusText: string): PullError {
  const hint =
    status === 401 || status === 403
      ? ` The repository may be gated: accept its license on Hugging Face and set ${HF_TOKEN_ENV}.`
      : status === 404
        ? " The file or revision may have moved: check the url in models/models.json."
        : "";
  return new PullError(`Download of ${url} failed: HTTP ${status} ${statusText}.${hint}`, "http");
}

/** The downloader's errors as PullErrors: an HTTP status (ipull's StatusCodeError) or an interruption. */
function downloadError(url: string, error: unknown, interrupted: (detail: string, cause: unknown) => PullError): PullError {
  if (error instanceof PullError) return error;
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status === "number" && status >= 400) {
    return Object.assign(httpError(url, status, String((error as { statusText?: unknown }).statusText ?? "")), { cause: error });
  }
  return interrupted(describeFetchError(error), error);
}

/** Ids of the manifest's models, default first (for usage messages). */
export function knownModelIds(): string[] {
  const ids = listModels().map((m) => m.id);
  return [defaultModelId, ...ids.filter((id) => id !== defaultModelId)];
}
