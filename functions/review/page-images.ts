/**
 * The review page's page images: the pages of a PDF (pdf.js) or an image upload (.png, .jpg, .tif) as colour JPEGs,
 * rendered by the shared page renderer (a worker thread, each page bounded in time), sized in PDF points as shown so
 * that grounding boxes land on them: a PDF page's own size (rotation applied); an image's pixels at the resolution it
 * states, 300 dpi when none, as OCR reads it and the document layout sizes it. The images together stay within a weight budget: when they are over it, every
 * page is rendered again at a lower resolution and quality, and at the floor the last pages are left out.
 */
import { OcrPageError } from "../shared/errors.ts";
import { imageFormatOf } from "../shared/image-format.ts";
import { PageRenderer, type RenderSource } from "../shared/page-render/page-renderer.ts";
import { dataUrlLength, type ReviewPageImage } from "./review-page.ts";

/** Defaults: legible on a laptop screen at the page's width, a few hundred KB for an ordinary page. */
export const REVIEW_IMAGE_DPI = 110;
export const REVIEW_JPEG_QUALITY = 70;
/** The images' weight in the page (their data: URLs), bytes: the HTML stays under 2 MB with room for the fields. */
export const REVIEW_IMAGES_MAX_BYTES = 1_800_000;
export const REVIEW_PAGE_TIMEOUT_MS = 30_000;
/** Below these the text of an ordinary page stops being legible: the budget then leaves pages out instead. */
export const MIN_REVIEW_DPI = 36;
export const MIN_REVIEW_JPEG_QUALITY = 40;
/** Renders of the whole set before the budget leaves pages out. */
const MAX_ATTEMPTS = 4;
/** Pixels of one page image at most (a poster-sized page is shown at a lower dpi). */
const MAX_PIXELS_PER_PAGE = 4_000_000;
/** Heap bound of the render worker, MB: pdf.js's objects for one page need a small part of it. */
const RENDER_WORKER_HEAP_MB = 512;

export interface RenderPageImagesArgs {
  bytes: Uint8Array;
  /** The upload's key: its extension says whether it is an image (functions/shared/image-format.ts) or a PDF. */
  key: string;
  /** 1-based pages to render, ascending. */
  pages: number[];
  /** Resolution to start at, dots per inch (default REVIEW_IMAGE_DPI). */
  dpi?: number;
  /** JPEG quality to start at, 1-100 (default REVIEW_JPEG_QUALITY). */
  jpegQuality?: number;
  /** Most the images may weigh in the page, as data: URLs (default REVIEW_IMAGES_MAX_BYTES). */
  maxTotalBytes?: number;
  /** Time each page's render may take (default REVIEW_PAGE_TIMEOUT_MS). */
  pageTimeoutMs?: number;
  /** Epoch ms after which no page is started. */
  deadline?: number;
  /** Told of each page left out, and why. */
  onPageSkipped?: (page: number, reason: string) => void;
}

/**
 * The pages asked for as JPEGs, ascending. A page that cannot be rendered (broken content, over its time: the
 * renderer's OCR_FAILED / OCR_TIMEOUT), that was not started by the deadline, or that does not fit the budget is left
 * out (and reported to `onPageSkipped`); a document that cannot be opened throws its DocumentInputError.
 */
export async function renderPageImages(args: RenderPageImagesArgs): Promise<ReviewPageImage[]> {
  const maxTotalBytes = args.maxTotalBytes ?? REVIEW_IMAGES_MAX_BYTES;
  const pageTimeoutMs = args.pageTimeoutMs ?? REVIEW_PAGE_TIMEOUT_MS;
  let settings = { dpi: args.dpi ?? REVIEW_IMAGE_DPI, quality: args.jpegQuality ?? REVIEW_JPEG_QUALITY };
  checkArgs(args.pages, { ...settings, maxTotalBytes, pageTimeoutMs });
  const skip = args.onPageSkipped ?? (() => undefined);
  if (args.pages.length === 0) return [];

  const format = imageFormatOf(args.key);
  const source: RenderSource = format === undefined ? { kind: "pdf", bytes: args.bytes } : { kind: "image", format, bytes: args.bytes };
  const renderer = new PageRenderer(source, { heapMb: RENDER_WORKER_HEAP_MB });
  // A page that failed once is not tried again at a lower resolution.
  const left = new Set<number>();
  try {
    for (let attempt = 1; ; attempt++) {
      const images: ReviewPageImage[] = [];
      for (const page of args.pages) {
        if (left.has(page)) continue;
        const now = Date.now();
        if (args.deadline !== undefined && now >= args.deadline) {
          left.add(page);
          skip(page, "no time was left to render it");
          continue;
        }
        const deadline = Math.min(now + pageTimeoutMs, args.deadline ?? Number.POSITIVE_INFINITY);
        try {
          const rendered = await renderer.renderJpeg(page, { dpi: settings.dpi, maxPixels: MAX_PIXELS_PER_PAGE, deadline, quality: settings.quality });
          images.push({ page, width: rendered.widthPt, height: rendered.heightPt, mime: "image/jpeg", data: rendered.jpeg });
        } catch (error) {
          if (!(error instanceof OcrPageError)) throw error;
          left.add(page);
          skip(page, error.message);
        }
      }
      const total = images.reduce((sum, image) => sum + dataUrlLength(image), 0);
      if (total <= maxTotalBytes) return images;
      const next = attempt < MAX_ATTEMPTS ? smallerSettings(settings, total, maxTotalBytes) : undefined;
      if (next === undefined) return keepWithinBudget(images, maxTotalBytes, skip);
      settings = next;
    }
  } finally {
    await renderer.close();
  }
}

/**
 * The next resolution and quality for images that weigh `total` against a budget of `max`: a JPEG's bytes grow about
 * with its pixels, so with the square of the dpi; aim a tenth under the budget, and lower the quality a step too.
 * Undefined at the floor of both.
 */
export function smallerSettings(current: { dpi: number; quality: number }, total: number, max: number): { dpi: number; quality: number } | undefined {
  const dpi = Math.max(MIN_REVIEW_DPI, Math.min(current.dpi, Math.floor(current.dpi * Math.sqrt((0.9 * max) / total))));
  const quality = Math.max(MIN_REVIEW_JPEG_QUALITY, Math.min(current.quality, current.quality - 10));
  return dpi === current.dpi && quality === current.quality ? undefined : { dpi, quality };
}

/** The first images, in order, that fit the budget together; the rest are reported to `skip`. */
export function keepWithinBudget(images: ReviewPageImage[], max: number, skip: (page: number, reason: string) => void): ReviewPageImage[] {
  const kept: ReviewPageImage[] = [];
  let total = 0;
  for (const image of images) {
    const weight = dataUrlLength(image);
    if (total + weight <= max) {
      kept.push(image);
      total += weight;
    } else {
      skip(image.page, `its image would take the page's images over ${max} bytes even at ${MIN_REVIEW_DPI} dpi`);
    }
  }
  return kept;
}

function checkArgs(pages: number[], numbers: Record<string, number>): void {
  pages.forEach((page, index) => {
    if (!Number.isInteger(page) || page < 1 || (index > 0 && page <= pages[index - 1]!)) {
      throw new RangeError(`pages must be ascending positive integers, got ${JSON.stringify(pages)}`);
    }
  });
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isFinite(value) || value < 1) throw new RangeError(`${name} must be a number >= 1, got ${value}`);
  }
  if (numbers.quality! > 100) throw new RangeError(`jpegQuality must be at most 100, got ${numbers.quality}`);
}
