import { Worker } from "node:worker_threads";
import { DocumentInputError, OcrPageCodes, OcrPageError, type DocumentInputCode, type OcrPageCode } from "../errors.ts";
import type { ImageFormat } from "../image-format.ts";
import { pdfjsRenderingOptions, type GreyImage, type JpegImage } from "./render-page.ts";
import { renderWorkerScript, type RenderWorkerScript } from "./render-script.ts";

/** What the render worker opens: a PDF (with its password) or an image upload. */
export type RenderSource =
  | { kind: "pdf"; bytes: Uint8Array; password?: string }
  | { kind: "image"; format: ImageFormat; bytes: Uint8Array };

/** Messages from the parent to the render worker. */
export type RenderRequest =
  | ({ type: "open"; id: number; bytes: ArrayBuffer } & (
      | { kind: "pdf"; password?: string; pdfjsOptions: ReturnType<typeof pdfjsRenderingOptions> }
      | { kind: "image"; format: ImageFormat }
    ))
  | { type: "render"; id: number; page: number; dpi: number; maxPixels: number; deadline: number; output: RenderOutput };

/**
 * What a render returns: grey levels at the image's own resolution (OCR), or a colour JPEG at `dpi` (for people; an
 * image upload is scaled down to it, never up), quality 0-100.
 */
export type RenderOutput = { kind: "grey" } | { kind: "jpeg"; quality: number };

export type WorkerFailure =
  | { kind: "input"; code: DocumentInputCode; message: string }
  | { kind: "page"; code: OcrPageCode; message: string }
  | { kind: "error"; name: string; message: string };

/** Messages from the render worker to the parent. */
export type RenderReply =
  | { type: "ready" }
  | { type: "opened"; id: number; pages: number }
  | { type: "rendered"; id: number; width: number; height: number; dpi: number; pixels: ArrayBuffer; ms: number }
  | {
      type: "encoded";
      id: number;
      width: number;
      height: number;
      dpi: number;
      widthPt: number;
      heightPt: number;
      jpeg: ArrayBuffer;
      ms: number;
    }
  | { type: "failed"; id: number; error: WorkerFailure };

/** A page's grey pixels and the milliseconds the worker spent on it (start-up and opening not counted). */
export interface RenderedPage extends GreyImage {
  workerMs: number;
}

/** A page as a colour JPEG and the milliseconds the worker spent on it. */
export interface EncodedPage extends JpegImage {
  workerMs: number;
}

interface Slot {
  worker: Worker;
  /** Settles the request in flight with the worker's reply, or with the worker's death. */
  pending: { id: number; settle: (reply: RenderReply | Error) => void } | undefined;
  /** Set once the worker has said "ready" (nothing to wait for after that). */
  ready: Promise<void>;
  opened: boolean;
  dead: boolean;
}

/**
 * One render worker thread for one document: started on first use, it opens the document once and renders the pages
 * asked for, one at a time. Each page has a deadline; a worker still busy at it is terminated (V8 stops its JavaScript
 * wherever it is) and the page is OCR_TIMEOUT; so is a worker that dies or fails its page in another way OCR_FAILED.
 * The next page gets a fresh worker, which opens the document again. A document that cannot be opened at all (wrong
 * password, not a PDF) throws its DocumentInputError.
 */
export class PageRenderer {
  private slot: Slot | undefined;
  private nextId = 1;
  private script: RenderWorkerScript | undefined;
  /** Workers started so far (the first and each replacement). */
  workersStarted = 0;

  constructor(
    private readonly source: RenderSource,
    private readonly settings: { heapMb?: number } = {},
  ) {}

  /** A page's grey levels (for OCR): see the class comment for the deadline. */
  async render(page: number, options: { dpi: number; maxPixels: number; deadline: number }): Promise<RenderedPage> {
    const reply = await this.request(page, { ...options, output: { kind: "grey" } });
    if (reply.type !== "rendered") throw new Error(`unexpected reply ${reply.type} from the render worker`);
    return { width: reply.width, height: reply.height, dpi: reply.dpi, pixels: new Uint8Array(reply.pixels), workerMs: reply.ms };
  }

  /** A page as a colour JPEG at `dpi` (at most `maxPixels`), quality 0-100: see the class comment for the deadline. */
  async renderJpeg(page: number, options: { dpi: number; maxPixels: number; deadline: number; quality: number }): Promise<EncodedPage> {
    const { quality, ...bounds } = options;
    const reply = await this.request(page, { ...bounds, output: { kind: "jpeg", quality } });
    if (reply.type !== "encoded") throw new Error(`unexpected reply ${reply.type} from the render worker`);
    const { width, height, dpi, widthPt, heightPt } = reply;
    return { width, height, dpi, widthPt, heightPt, jpeg: new Uint8Array(reply.jpeg), workerMs: reply.ms };
  }

  private async request(
    page: number,
    options: { dpi: number; maxPixels: number; deadline: number; output: RenderOutput },
  ): Promise<RenderReply> {
    const { deadline } = options;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
    });
    // From source, the first page of a process also waits for the worker's code to be bundled (~0.5 s, once).
    this.script ??= await renderWorkerScript();
    // A worker that died while idle is replaced too.
    const slot = this.slot !== undefined && !this.slot.dead ? this.slot : this.spawn(this.script);
    try {
      // Starting the worker and opening the document count towards the page's time: a document that takes longer
      // to open than a page may take cannot be OCR'd within it either.
      const ready = await Promise.race([slot.ready.then(() => "ready" as const), timedOut]);
      if (ready === "timeout") throw await this.timeout(slot, page, "the render worker did not start");
      if (!slot.opened) {
        const opened = await this.ask(slot, this.openRequest(), timedOut);
        if (opened === "timeout") throw await this.timeout(slot, page, "the document did not open");
        slot.opened = true;
      }
      const reply = await this.ask(slot, { type: "render", id: this.nextId++, page, ...options }, timedOut);
      if (reply === "timeout") throw await this.timeout(slot, page, "rendering did not finish");
      return reply;
    } finally {
      clearTimeout(timer);
      if (slot.dead && this.slot === slot) this.slot = undefined;
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

  private openRequest(): RenderRequest {
    // A copy for each worker: the bytes are needed again when a worker is replaced.
    const bytes = Uint8Array.prototype.slice.call(this.source.bytes).buffer;
    const id = this.nextId++;
    if (this.source.kind === "image") return { type: "open", id, bytes, kind: "image", format: this.source.format };
    return {
      type: "open",
      id,
      bytes,
      kind: "pdf",
      ...(this.source.password === undefined ? {} : { password: this.source.password }),
      // Found here: a worker bundled from source runs from a temporary file, away from node_modules.
      pdfjsOptions: pdfjsRenderingOptions(),
    };
  }

  /** Sends a request and waits for its reply; a failure reply or a dead worker throws (see `failureOf`). */
  private async ask(slot: Slot, request: RenderRequest, timedOut: Promise<"timeout">): Promise<RenderReply | "timeout"> {
    const reply = new Promise<RenderReply | Error>((resolve) => {
      slot.pending = { id: request.id, settle: resolve };
    });
    if (slot.dead) slot.pending?.settle(new OcrPageError(OcrPageCodes.Failed, "the render worker stopped"));
    const transfer = request.type === "open" ? [request.bytes] : [];
    slot.worker.postMessage(request, transfer);
    const outcome = await Promise.race([reply, timedOut]);
    slot.pending = undefined;
    if (outcome === "timeout") return outcome;
    if (outcome instanceof Error) throw outcome;
    if (outcome.type === "failed") throw failureOf(outcome.error, request);
    return outcome;
  }

  private spawn(script: RenderWorkerScript): Slot {
    const file = script.start();
    this.workersStarted++;
    const worker = new Worker(file.url, {
      // Not the parent's options (a worker inherits them and rejects some); source maps stay on when the parent has them.
      execArgv: process.execArgv.filter((option) => option === "--enable-source-maps"),
      stdin: false,
      ...(this.settings.heapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: this.settings.heapMb } }),
    });
    let markReady: () => void = () => undefined;
    let failStart: (error: Error) => void = () => undefined;
    const slot: Slot = {
      worker,
      pending: undefined,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failStart = reject;
      }),
      opened: false,
      dead: false,
    };
    slot.ready.catch(() => undefined);
    let isReady = false;
    const fail = (error: Error): void => {
      slot.dead = true;
      failStart(error);
      const pending = slot.pending;
      slot.pending = undefined;
      pending?.settle(error);
    };
    worker.once("message", file.release);
    worker.once("exit", file.release);
    worker.on("message", (reply: RenderReply) => {
      if (reply.type === "ready") {
        isReady = true;
        markReady();
        return;
      }
      const pending = slot.pending;
      if (pending === undefined || pending.id !== reply.id) return;
      slot.pending = undefined;
      pending.settle(reply);
    });
    worker.on("error", (error: Error & { code?: string }) => {
      // Before "ready" nothing of the document was read: a packaging fault, which must not pass for a page's problem.
      if (!isReady) return fail(new Error(`The page render worker failed to start: ${error.message}`, { cause: error }));
      const what = error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "ran out of memory" : `crashed (${error.name})`;
      fail(new OcrPageError(OcrPageCodes.Failed, `the render worker ${what}`, { cause: error }));
    });
    worker.on("exit", (code) => {
      fail(
        isReady
          ? new OcrPageError(OcrPageCodes.Failed, `the render worker stopped unexpectedly (exit code ${code})`)
          : new Error(`The page render worker exited with code ${code} before it was ready`),
      );
    });
    this.slot = slot;
    return slot;
  }

  /** Terminates the worker and returns the page's OCR_TIMEOUT to throw. */
  private async timeout(slot: Slot, page: number, what: string): Promise<OcrPageError> {
    slot.dead = true;
    slot.pending = undefined;
    if (this.slot === slot) this.slot = undefined;
    await slot.worker.terminate();
    return new OcrPageError(OcrPageCodes.Timeout, `page ${page}: ${what} within the page's time and the worker was stopped`);
  }
}

/** A failure reply as the error to throw: the document's (input), the page's, or a fault of the worker's code. */
function failureOf(failure: WorkerFailure, request: RenderRequest): Error {
  switch (failure.kind) {
    case "input":
      return new DocumentInputError(failure.code, failure.message);
    case "page":
      return new OcrPageError(failure.code, failure.message);
    case "error":
      // pdf.js throws plain errors for broken page content; for a page that is the page's problem.
      return request.type === "render"
        ? new OcrPageError(OcrPageCodes.Failed, `page ${request.page} cannot be rendered (${failure.name}: ${failure.message})`)
        : Object.assign(new Error(failure.message), { name: failure.name });
  }
}
