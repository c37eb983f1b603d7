/**
 * OCR of chosen pages of one document (a PDF or an image upload) to a deadline: the OCR function's engine. Pages are
 * worked on by `concurrency` pipelines, each one render worker thread (page-renderer.ts) and one tesseract.js worker
 * (recognizer.ts), pulling pages from a shared queue. Each page has a time bound for its rendering and recognition
 * together; neither can be interrupted from inside, so a worker still busy at the bound is terminated and replaced
 * for the next page. A page is started only when its whole time bound fits before the deadline; the rest are handed
 * back, not started, for a fresh invocation.
 */
import type { OcrRegion } from "../shared/contracts.ts";
import { OcrPageCodes, OcrPageError } from "../shared/errors.ts";
import { imagePageCount, type ImageFormat } from "../shared/image-format.ts";
import { PageRenderer } from "../shared/page-render/page-renderer.ts";
import { Recognizer, type OcrPage, type OcrWord } from "./recognizer.ts";
import { cropRegion, regionsRead } from "./regions.ts";

export { imageFormatOf, imagePageCount, type ImageFormat } from "../shared/image-format.ts";
export type { OcrWord } from "./recognizer.ts";

export type OcrInput =
  | { kind: "pdf"; bytes: Uint8Array; password?: string }
  | { kind: "image"; format: ImageFormat; bytes: Uint8Array };

export interface OcrOptions {
  /** Render resolution for PDF pages (images keep their own pixels, and their own resolution when they state one). */
  dpi: number;
  /** Pixel bound: larger pages and images are rendered or scaled down to fit. */
  maxPixels: number;
  /** Tesseract language code; its data comes from @tesseract.js-data/<lang>. */
  language: string;
  /** Most time one page (render and recognise) may take; beyond it the page is OCR_TIMEOUT. */
  pageTimeoutMs: number;
  /** Epoch ms: a page is only started if Date.now() + pageTimeoutMs <= deadline. */
  deadline: number;
  /** Pages worked on at once (one render worker and one tesseract.js worker each); >= 1. */
  concurrency: number;
  /**
   * Heap bound of each render worker (V8's old generation), MB; a page whose rendering needs more is OCR_FAILED.
   * Default RENDER_WORKER_HEAP_MB. Pixels and decoded images live outside it (bounded by maxPixels instead).
   */
  renderHeapMb?: number;
}

/** Default heap bound of a render worker: pdf.js's objects for one page of an ordinary document need a small part of it. */
export const RENDER_WORKER_HEAP_MB = 1024;

export interface OcrPageText {
  page: number;
  text: string;
  words: OcrWord[];
  meanConfidence: number;
  /** The resolution the recogniser was told (the render's, or the image's own, scaled with it). */
  dpi: number;
  width: number;
  height: number;
  renderMs: number;
  recognizeMs: number;
  /** A page read only inside regions: how many (their words are in page pixels like a whole page's). */
  regions?: number;
}

export interface OcrPageFailure {
  page: number;
  error: "OCR_FAILED" | "OCR_TIMEOUT";
  /** Why, never with the document's text in it. */
  message: string;
}

export type OcrPageOutcome = OcrPageText | OcrPageFailure;

export function isOcrPageFailure(outcome: OcrPageOutcome): outcome is OcrPageFailure {
  return "error" in outcome;
}

/**
 * OCRs `pages` (1-based) of `input`; a page in `regions` only inside its boxes (PDF points from the page's top-left
 * corner, a hybrid page's images), its words still in the whole page's pixels. Returns an outcome for every started
 * page, in page order, and the pages not started for lack of time. Never throws for a page's own problem: it becomes OCR_FAILED / OCR_TIMEOUT; a page number
 * beyond the document is OCR_FAILED. Throws DocumentInputError only when the whole input cannot be opened (EMPTY_FILE,
 * NOT_AN_IMAGE, CORRUPT or ENCRYPTED for a PDF). Each page number is done once, whatever order or repeats `pages` has.
 */
export async function ocrPages(
  input: OcrInput,
  pages: number[],
  options: OcrOptions,
  regions: ReadonlyMap<number, readonly OcrRegion[]> = new Map(),
): Promise<{ outcomes: OcrPageOutcome[]; notStarted: number[] }> {
  checkOptions(options);
  const queue = [...new Set(pages)].sort((a, b) => a - b);
  const outcomes: OcrPageOutcome[] = [];
  const notStarted: number[] = [];
  // Images are checked here (signature, a TIFF's directories): a file that is not one fails whole, before any worker starts.
  const imagePages = input.kind === "image" ? imagePageCount(input.bytes, input.format) : undefined;

  let fatal: unknown;
  const pipelines = Array.from({ length: Math.min(options.concurrency, Math.max(1, queue.length)) }, () => new Pipeline(input, options));
  const run = async (pipeline: Pipeline): Promise<void> => {
    for (let page = queue.shift(); page !== undefined && fatal === undefined; page = queue.shift()) {
      if (Date.now() + options.pageTimeoutMs > options.deadline) {
        // Time only moves on: no later page fits either.
        notStarted.push(page, ...queue.splice(0));
        return;
      }
      const invalid = !Number.isInteger(page) || page < 1 ? `${page} is not a page number` : undefined;
      const beyond = imagePages !== undefined && page > imagePages ? `page ${page} is beyond the image's ${imagePages} page(s)` : undefined;
      if (invalid ?? beyond) {
        outcomes.push({ page, error: OcrPageCodes.Failed, message: (invalid ?? beyond)! });
        continue;
      }
      try {
        outcomes.push(await pipeline.ocr(page, regions.get(page)));
      } catch (error) {
        // Only the document's own failure to open (or a fault of the engine itself) gets here.
        fatal ??= error;
      }
    }
  };
  try {
    await Promise.all(pipelines.map(run));
  } finally {
    await Promise.all(pipelines.map((pipeline) => pipeline.close()));
  }
  if (fatal !== undefined) throw fatal;
  outcomes.sort((a, b) => a.page - b.page);
  notStarted.sort((a, b) => a - b);
  return { outcomes, notStarted };
}

function checkOptions(options: OcrOptions): void {
  const positive = {
    dpi: options.dpi,
    maxPixels: options.maxPixels,
    pageTimeoutMs: options.pageTimeoutMs,
    concurrency: options.concurrency,
    renderHeapMb: options.renderHeapMb ?? RENDER_WORKER_HEAP_MB,
  };
  for (const [name, value] of Object.entries(positive)) {
    if (!Number.isFinite(value) || value < 1) throw new RangeError(`OCR option ${name} must be a number >= 1, got ${value}`);
  }
  if (!Number.isInteger(options.concurrency)) throw new RangeError(`OCR option concurrency must be an integer, got ${options.concurrency}`);
  if (!Number.isFinite(options.deadline)) throw new RangeError(`OCR option deadline must be epoch ms, got ${options.deadline}`);
}

/** One render worker and one tesseract.js worker, doing one page at a time. */
class Pipeline {
  private readonly renderer: PageRenderer;
  private recognizer: Promise<Recognizer> | undefined;

  constructor(
    input: OcrInput,
    private readonly options: OcrOptions,
  ) {
    this.renderer = new PageRenderer(input, { heapMb: options.renderHeapMb ?? RENDER_WORKER_HEAP_MB });
  }

  /** The page's text or its typed failure; throws only DocumentInputError (the document cannot be opened) or a fault. */
  async ocr(page: number, boxes?: readonly OcrRegion[]): Promise<OcrPageOutcome> {
    const pageDeadline = Date.now() + this.options.pageTimeoutMs;
    const started = performance.now();
    try {
      const image = await this.renderer.render(page, { dpi: this.options.dpi, maxPixels: this.options.maxPixels, deadline: pageDeadline });
      const rendered = performance.now();
      let ocr: OcrPage;
      if (boxes === undefined) ocr = await this.recognize(image, page, pageDeadline);
      else {
        const read: Array<{ ocr: OcrPage; left: number; top: number }> = [];
        for (const box of boxes) {
          const crop = cropRegion(image, box);
          if (crop !== undefined) read.push({ ocr: await this.recognize(crop.image, page, pageDeadline), left: crop.left, top: crop.top });
        }
        ocr = regionsRead(read);
      }
      return {
        page,
        text: ocr.text,
        words: ocr.words,
        meanConfidence: ocr.meanConfidence,
        dpi: image.dpi,
        width: image.width,
        height: image.height,
        renderMs: Math.round(rendered - started),
        recognizeMs: Math.round(performance.now() - rendered),
        ...(boxes === undefined ? {} : { regions: boxes.length }),
      };
    } catch (error) {
      if (error instanceof OcrPageError) return { page, error: error.code, message: error.message.replace(`${error.code}: `, "") };
      throw error;
    }
  }

  /**
   * Recognises within what is left of the page's time (starting a tesseract.js worker, when this pipeline has none,
   * included). recognize() cannot be interrupted: at the bound the worker is terminated and the next page gets a new one.
   */
  private async recognize(image: Parameters<Recognizer["recognize"]>[0], page: number, pageDeadline: number) {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, pageDeadline - Date.now()));
    });
    const recognizer = (this.recognizer ??= Recognizer.create({ language: this.options.language }));
    // A failed start is a fault of the engine (no language data), not of the page: let it be thrown to the caller.
    recognizer.catch(() => undefined);
    const work = recognizer.then((worker) => worker.recognize(image));
    // Nobody awaits the work once it has timed out; its worker is gone.
    work.catch(() => undefined);
    try {
      const outcome = await Promise.race([work, timedOut]);
      if (outcome === "timeout") {
        this.recognizer = undefined;
        // Not awaited: a worker still starting is closed once it has started.
        void recognizer.then((worker) => worker.close()).catch(() => undefined);
        throw new OcrPageError(OcrPageCodes.Timeout, `page ${page}: recognition did not finish within the page's time and its worker was stopped`);
      }
      return outcome;
    } catch (error) {
      // A worker whose job failed may be in any state: start a fresh one for the next page.
      if (!(error instanceof OcrPageError && error.code === OcrPageCodes.Timeout) && this.recognizer === recognizer) {
        this.recognizer = undefined;
        void recognizer.then((worker) => worker.close()).catch(() => undefined);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const recognizer = this.recognizer;
    this.recognizer = undefined;
    await Promise.all([this.renderer.close(), recognizer?.then((worker) => worker.close()).catch(() => undefined)]);
  }
}
