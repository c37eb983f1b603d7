import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { OcrRegion, PageDrawing } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { DocumentInputCodes, DocumentInputError, type DocumentInputCode } from "../shared/errors.ts";
import { LimitDefaults } from "./limits.ts";
import type { TextLayerVerdict } from "./text-layer.ts";
import {
  checkPdfBytes,
  extractPlainText,
  isPlainTextKey,
  pdfjsDataDirs,
  type DecodeBound,
  type ExtractedText,
  type PdfjsData,
  type PdfTextOptions,
} from "./pdf-text.ts";

/**
 * Text extraction in a worker thread (node:worker_threads) with a time bound and a heap bound, so that a hostile or
 * pathological PDF can neither hang the function nor take its memory: on timeout the worker is terminated
 * (EXTRACTION_TIMEOUT); a worker that runs out of heap or dies while reading a document is reported as CORRUPT.
 * Memory outside the heap (the buffers pdf.js inflates streams into) is bounded inside the worker, before each
 * allocation, by a hook patched into the worker's pdf.js at bundle time (infra/pdfjs-decode-bound.ts, `decodeBoundFor`):
 * a parent watching the worker's RSS could not stop a single multi-gigabyte allocation in time. The
 * document's bytes are transferred to the worker, not copied; the pages come back.
 *
 * The worker's script is `extract-worker.mjs` next to this module's file: in the Lambda bundle, index.mjs and
 * extract-worker.mjs sit side by side (infra/bundling.ts builds both). Run from source (tests, `npx tsx`, the local
 * twin), there is no such file: extract-worker.ts is then bundled once per process, into memory, by the bundler that
 * development entry points register (`registerWorkerSourceBundler`; infra/dev-worker-bundle.ts: esbuild, a
 * devDependency, with the Lambda bundle's settings), so that this production module imports nothing from infra/. Measured here, that costs ~0.5 s once, after which a worker starts in
 * ~0.15 s, where running extract-worker.ts through tsx's loader took ~2 s and >128 MB of heap per worker (tsx
 * transforms pdf.js's 3 MB of JavaScript in every worker). Each worker gets the bundle as a temporary file that is
 * deleted as soon as the worker has loaded it (or failed to), so a killed process leaves no bundle behind, at most
 * one whose worker was still starting. (A `data:` URL needs no file, but a worker started from one took ~0.9 s
 * instead of ~0.2 s here.)
 */

export interface IsolatedExtractionOptions extends PdfTextOptions {
  /** The object key: `.txt`/`.md` keys are plain text, decoded in this thread (no parser, no worker). */
  key: string;
  /** Time bound of this document's extraction, worker start-up included, ms. */
  timeoutMs: number;
  /**
   * What set the time bound, quoted in the EXTRACTION_TIMEOUT message.
   * Default: `setting LLAMBDA_EXTRACTION_TIMEOUT_MS=<timeoutMs>`.
   */
  timeoutSource?: string;
  /** Transfer `bytes`' buffer to the worker (the caller's view is detached afterwards). Default true. */
  transfer?: boolean;
}

export interface IsolatedExtraction extends ExtractedText {
  /** Whether a worker thread read the document (false for plain text, which is decoded in the calling thread). */
  inWorker: boolean;
  /** Milliseconds from starting the worker thread until it was ready (pdf.js loaded); 0 for a reused warm worker. */
  workerStartMs: number;
  /** Milliseconds of extraction in the worker. */
  extractMs: number;
}

export interface ExtractorSettings {
  /** Heap bound of the worker (resourceLimits.maxOldGenerationSizeMb), MB. */
  memoryMb: number;
  /**
   * Keep the worker for the next document after a normal end (success or a typed input error). A worker that timed
   * out, ran out of memory or crashed is never reused. Default false: one fresh worker per document.
   */
  reuse?: boolean;
  /** The worker script (a bundled extract-worker.mjs, or one bundled from source). Default: `workerScript()`. */
  script?: WorkerScript;
}

/** Messages from the parent to the worker. */
export interface ExtractionRequest {
  id: number;
  bytes: ArrayBuffer;
  password?: string;
  maxPages: number;
  dropRunningHeaders: boolean;
  keepTextlessPages: boolean;
  /** PdfTextOptions.findImageRegions. */
  findImageRegions?: boolean;
  decodeBound: DecodeBound;
  /** Found by the parent: a worker bundled from source runs from a temporary directory, away from node_modules. */
  pdfjsData?: PdfjsData;
}

export type SerializedError =
  | { kind: "input"; code: DocumentInputCode; message: string }
  | { kind: "error"; name: string; message: string; stack?: string };

/** Messages from the worker to the parent. */
export type ExtractionReply =
  | { type: "ready" }
  | {
      type: "result";
      id: number;
      pages: string[];
      textLayer?: TextLayerVerdict[];
      drawings?: PageDrawing[];
      imageRegions?: OcrRegion[][];
      ms: number;
    }
  | { type: "failure"; id: number; error: SerializedError };

/** Extracts one document in a fresh worker thread, then stops the worker. */
export async function extractIsolated(
  bytes: Uint8Array,
  options: IsolatedExtractionOptions & Pick<ExtractorSettings, "memoryMb" | "script">,
): Promise<IsolatedExtraction> {
  const extractor = new IsolatedExtractor({
    memoryMb: options.memoryMb,
    ...(options.script === undefined ? {} : { script: options.script }),
  });
  try {
    return await extractor.extract(bytes, options);
  } finally {
    await extractor.close();
  }
}

type Outcome =
  | { ok: true; pages: string[]; textLayer?: TextLayerVerdict[]; drawings?: PageDrawing[]; imageRegions?: OcrRegion[][]; ms: number }
  | { ok: false; error: Error };

/** One worker thread and what it is doing. */
interface Slot {
  worker: Worker;
  /** Resolves with the start-up time when the worker says "ready"; rejects when it dies first. */
  ready: Promise<number>;
  /** The document in the worker, if any. */
  job: { id: number; settle: (outcome: Outcome) => void } | undefined;
  dead: boolean;
}

/**
 * Runs extractions one at a time in a worker thread with the given heap bound. With `reuse`, a worker that ended its
 * document normally serves the next one (it is unref'd while idle, so it never keeps the process alive); call
 * `close()` when done. Without it (the default) every document gets a fresh worker.
 */
export class IsolatedExtractor {
  private slot: Slot | undefined;
  private nextId = 1;
  private busy = false;

  constructor(private readonly settings: ExtractorSettings) {
    if (!Number.isInteger(settings.memoryMb) || settings.memoryMb < 1) {
      throw new RangeError(`memoryMb must be a positive integer, got ${settings.memoryMb}`);
    }
  }

  async extract(bytes: Uint8Array, options: IsolatedExtractionOptions): Promise<IsolatedExtraction> {
    if (isPlainTextKey(options.key)) {
      return { ...extractPlainText(bytes), inWorker: false, workerStartMs: 0, extractMs: 0 };
    }
    // EMPTY_FILE and NOT_A_PDF need no parser: no worker for junk.
    checkPdfBytes(bytes);
    if (this.busy) throw new Error("IsolatedExtractor runs one extraction at a time");
    this.busy = true;
    try {
      return await this.run(bytes, options);
    } finally {
      this.busy = false;
      if (!this.settings.reuse) await this.close();
      else this.slot?.worker.unref();
    }
  }

  /** Stops the worker, if any. */
  async close(): Promise<void> {
    const slot = this.slot;
    this.slot = undefined;
    if (slot && !slot.dead) {
      slot.dead = true;
      await slot.worker.terminate();
    }
  }

  private async run(bytes: Uint8Array, options: IsolatedExtractionOptions): Promise<IsolatedExtraction> {
    const warm = this.slot !== undefined && !this.slot.dead ? this.slot : undefined;
    // Finding (in a source checkout: building) the script is not the document's time.
    const slot = warm ?? this.spawn(this.settings.script ?? (await workerScript()));
    slot.worker.ref();

    const timeoutMs = options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      // Start-up counts towards the time bound: a worker that cannot even load pdf.js in time is no better.
      const started = await Promise.race([slot.ready, timedOut]);
      if (started === "timeout") throw await this.stop(slot, timeoutError(options, timeoutMs));

      const id = this.nextId++;
      const result = new Promise<Outcome>((resolve) => {
        slot.job = { id, settle: resolve };
      });
      const buffer = transferable(bytes, options.transfer ?? true);
      const request: ExtractionRequest = {
        id,
        bytes: buffer,
        maxPages: options.maxPages ?? Number.MAX_SAFE_INTEGER,
        dropRunningHeaders: options.dropRunningHeaders ?? LimitDefaults.dropRunningHeaders,
        keepTextlessPages: options.keepTextlessPages ?? false,
        ...(options.findImageRegions ? { findImageRegions: true } : {}),
        decodeBound: options.decodeBound ?? decodeBoundFor(this.settings.memoryMb),
        ...(options.password === undefined ? {} : { password: options.password }),
        ...(pdfjsData === undefined ? {} : { pdfjsData }),
      };
      slot.worker.postMessage(request, [buffer]);

      const outcome = await Promise.race([result, timedOut]);
      if (outcome === "timeout") throw await this.stop(slot, timeoutError(options, timeoutMs));
      if (!outcome.ok) throw outcome.error;
      return {
        pages: outcome.pages,
        ...(outcome.textLayer === undefined ? {} : { textLayer: outcome.textLayer }),
        ...(outcome.drawings === undefined ? {} : { drawings: outcome.drawings }),
        ...(outcome.imageRegions === undefined ? {} : { imageRegions: outcome.imageRegions }),
        inWorker: true,
        workerStartMs: warm ? 0 : started,
        extractMs: outcome.ms,
      };
    } finally {
      clearTimeout(timer);
      slot.job = undefined;
      // A dead worker is never reused.
      if (slot.dead && this.slot === slot) this.slot = undefined;
    }
  }

  private spawn(script: WorkerScript): Slot {
    const startedAt = performance.now();
    const temporary = script instanceof SourceBundle ? script.materialize() : undefined;
    const worker = new Worker(temporary?.url ?? (script as URL), {
      resourceLimits: { maxOldGenerationSizeMb: this.settings.memoryMb },
      // Not the parent's options: a worker inherits them by default and rejects some (`--input-type`, `-e` runs), and
      // none is needed to read a PDF. Source maps stay on when the parent has them.
      execArgv: process.execArgv.filter((option) => option === "--enable-source-maps"),
      // The worker only reads messages; its stdout and stderr (pdf.js warnings) go to this process's.
      stdin: false,
    });
    let markReady: (ms: number) => void = () => undefined;
    let failStart: (error: Error) => void = () => undefined;
    const slot: Slot = {
      worker,
      ready: new Promise<number>((resolve, reject) => {
        markReady = resolve;
        failStart = reject;
      }),
      job: undefined,
      dead: false,
    };
    // Nobody awaits `ready` when an idle, reused worker dies: never leave it an unhandled rejection.
    slot.ready.catch(() => undefined);
    let isReady = false;
    let failure: Error | undefined;
    const fail = (error: Error): void => {
      slot.dead = true;
      failure ??= error;
      failStart(failure);
      const job = slot.job;
      slot.job = undefined;
      job?.settle({ ok: false, error: failure });
    };

    // The module is loaded once the worker says "ready", or never when it dies first: either way its file can go.
    if (temporary) {
      worker.once("message", temporary.remove);
      worker.once("exit", temporary.remove);
    }
    worker.on("message", (reply: ExtractionReply) => {
      if (reply.type === "ready") {
        isReady = true;
        markReady(Math.round(performance.now() - startedAt));
        return;
      }
      const job = slot.job;
      if (job === undefined || job.id !== reply.id) return;
      slot.job = undefined;
      job.settle(
        reply.type === "result"
          ? {
              ok: true,
              pages: reply.pages,
              ...(reply.textLayer ? { textLayer: reply.textLayer } : {}),
              ...(reply.drawings ? { drawings: reply.drawings } : {}),
              ...(reply.imageRegions ? { imageRegions: reply.imageRegions } : {}),
              ms: reply.ms,
            }
          : { ok: false, error: revive(reply.error) },
      );
    });
    worker.on("error", (error: Error & { code?: string }) => {
      fail(workerError(error, isReady, this.settings.memoryMb));
    });
    worker.on("exit", (code) => {
      fail(
        isReady
          ? new DocumentInputError(
              DocumentInputCodes.Corrupt,
              `text extraction stopped unexpectedly (worker exit code ${code}); the PDF cannot be read`,
            )
          : new Error(`The extraction worker exited with code ${code} before it was ready`),
      );
    });

    this.slot = slot;
    return slot;
  }

  /** Terminates the worker (V8 stops its JavaScript at once, even in a tight loop) and returns `error` to throw. */
  private async stop(slot: Slot, error: Error): Promise<Error> {
    slot.dead = true;
    slot.job = undefined;
    if (this.slot === slot) this.slot = undefined;
    await slot.worker.terminate();
    return error;
  }
}

/**
 * The decoded-bytes bounds of a worker whose heap bound is `memoryMb` (issue 14): one stream may decode to a sixteenth
 * of it, the whole document to all of it. pdf.js's decode buffers live outside the heap the worker's resourceLimits
 * bound; these bounds keep them within the same budget. No corpus document reaches a sixteenth (76 MiB at the
 * function's default; test/e2e/chunk-corpus.test.ts), and a stream of spaces up to it was lexed in ~2.6 s here.
 */
export function decodeBoundFor(memoryMb: number): DecodeBound {
  const MiB = 1024 * 1024;
  return {
    maxStreamBytes: Math.floor(memoryMb / 16) * MiB,
    maxDocumentBytes: memoryMb * MiB,
    source: `a sixteenth and all of the worker's memory bound ${EnvNames.extractionMemoryMb}=${memoryMb}`,
  };
}

/** What a worker's "error" event means: out of heap or a crash while reading a document is CORRUPT. */
function workerError(error: Error & { code?: string }, ready: boolean, memoryMb: number): Error {
  if (!ready) {
    // Before "ready" nothing of the document has been read: a packaging or configuration fault.
    const detail =
      error.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? `it ran out of memory while loading pdf.js: ${EnvNames.extractionMemoryMb}=${memoryMb} is too small`
        : error.message;
    return new Error(`The extraction worker failed to start: ${detail}`, { cause: error });
  }
  if (error.code === "ERR_WORKER_OUT_OF_MEMORY") {
    return new DocumentInputError(
      DocumentInputCodes.Corrupt,
      `text extraction exceeded its memory bound of ${memoryMb} MB (setting ${EnvNames.extractionMemoryMb}) and was ` +
        `stopped; the PDF is too complex to read within it`,
      { cause: error },
    );
  }
  return new DocumentInputError(
    DocumentInputCodes.Corrupt,
    `text extraction crashed (${error.name}: ${error.message}); the PDF cannot be read`,
    { cause: error },
  );
}

function timeoutError(options: IsolatedExtractionOptions, timeoutMs: number): DocumentInputError {
  const source = options.timeoutSource ?? `setting ${EnvNames.extractionTimeoutMs}=${timeoutMs}`;
  return new DocumentInputError(
    DocumentInputCodes.ExtractionTimeout,
    `text extraction did not finish within ${formatSeconds(timeoutMs)} (${source}) and was stopped`,
  );
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) || seconds >= 10 ? Math.round(seconds) : seconds.toFixed(1)} s`;
}

function revive(error: SerializedError): Error {
  if (error.kind === "input") return new DocumentInputError(error.code, error.message);
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack) revived.stack = error.stack;
  return revived;
}

/** An ArrayBuffer holding exactly `bytes`, to transfer: `bytes`' own buffer when it is exactly that, else a copy. */
function transferable(bytes: Uint8Array, transfer: boolean): ArrayBuffer {
  const { buffer } = bytes;
  if (transfer && buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) {
    return buffer;
  }
  // Not bytes.slice(): on a Node Buffer that is a view of the same (possibly pooled, shared) memory.
  return Uint8Array.prototype.slice.call(bytes).buffer;
}

/** pdf.js's data directories as this thread sees them (next to index.mjs in the bundle, else in node_modules). */
const pdfjsData = pdfjsDataDirs();

const WORKER_NAME = "extract-worker";
let sourceBuild: Promise<SourceBundle> | undefined;

/**
 * Bundles the worker's entry point (a path to extract-worker.ts) into the code of one ESM module, with the Lambda
 * bundle's settings and pdf.js's decode bound. Needed only when running from source.
 */
export type WorkerSourceBundler = (entryPath: string) => Promise<string>;
let sourceBundler: WorkerSourceBundler | undefined;

/** Development entry points (the twin, the chunk CLI, benches, tests) register infra/dev-worker-bundle.ts's bundler. */
export function registerWorkerSourceBundler(bundler: WorkerSourceBundler): void {
  sourceBundler = bundler;
  sourceBuild = undefined;
}

/** A worker script: the bundled extract-worker.mjs, or the code of extract-worker.ts bundled in memory. */
export type WorkerScript = URL | SourceBundle;

/** Temporary worker files not yet deleted: removed when the process exits however it can (see `SourceBundle`). */
const pendingFiles = new Set<string>();
let exitHookInstalled = false;

/** extract-worker.ts bundled from source, kept in memory; each worker gets it as a file deleted once loaded. */
export class SourceBundle {
  private static next = 0;
  constructor(readonly code: string) {}

  /** Writes the bundle to a fresh temporary file; `remove` deletes it (idempotent). */
  materialize(): { url: URL; remove: () => void } {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once("exit", () => {
        for (const file of pendingFiles) rmSync(file, { force: true });
      });
    }
    const file = join(tmpdir(), `llambda-${WORKER_NAME}-${process.pid}-${SourceBundle.next++}.mjs`);
    writeFileSync(file, this.code);
    pendingFiles.add(file);
    return {
      url: pathToFileURL(file),
      remove: () => {
        if (pendingFiles.delete(file)) rmSync(file, { force: true });
      },
    };
  }
}

/** The worker script: see the module comment. `base` is the URL of the module it sits next to. */
export async function workerScript(base: string = import.meta.url): Promise<WorkerScript> {
  const bundled = new URL(`./${WORKER_NAME}.mjs`, base);
  if (existsSync(bundled)) return bundled;
  const source = new URL(`./${WORKER_NAME}.ts`, base);
  if (!existsSync(source)) {
    throw new Error(
      `The extraction worker script is missing: ${fileURLToPath(bundled)} does not exist ` +
        `(the chunk bundle must ship ${WORKER_NAME}.mjs next to index.mjs; see infra/bundling.ts)`,
    );
  }
  sourceBuild ??= bundleFromSource(source).catch((error: unknown) => {
    sourceBuild = undefined;
    throw error;
  });
  return sourceBuild;
}

async function bundleFromSource(source: URL): Promise<SourceBundle> {
  if (!sourceBundler) {
    throw new Error(
      `Running ${fileURLToPath(source)} from source needs a worker bundler: import infra/dev-worker-bundle.ts first ` +
        `(the local twin, the chunk CLI, the benches and the tests do)`,
    );
  }
  return new SourceBundle(await sourceBundler(fileURLToPath(source)));
}
