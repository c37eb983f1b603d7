import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { PDFPageProxy, VerbosityLevel } from "pdfjs-dist/legacy/build/pdf.mjs";
import { OcrPageCodes, OcrPageError } from "../errors.ts";

/** A rendered page as 8-bit grey levels, row by row (what the recogniser reads). */
export interface GreyImage {
  width: number;
  height: number;
  /** One byte per pixel, 0 black to 255 white. */
  pixels: Uint8Array;
  /** The resolution it was rendered at (lower than asked when the pixel bound applied). */
  dpi: number;
}

export interface RenderOptions {
  /** Resolution, dots per inch. Default 300 (Tesseract's best accuracy is at 300 dpi). */
  dpi?: number;
  /** Most pixels a render may have; a larger page is rendered at a lower dpi instead. Default 40 million (40 MB grey). */
  maxPixels?: number;
  /** Epoch ms by which the render must finish, else it is cancelled with OCR_TIMEOUT. */
  deadline?: number;
}

/**
 * pdf.js's document options for rendering: its character maps and standard fonts, and its WebAssembly decoders
 * (without `wasmUrl`, JPEG 2000 images, common in scans, render blank without an error). Documents are untrusted: no
 * code compiled from them, no system fonts.
 */
export function pdfjsRenderingOptions() {
  const root = dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json"));
  return {
    cMapUrl: join(root, "cmaps") + "/",
    cMapPacked: true,
    standardFontDataUrl: join(root, "standard_fonts") + "/",
    wasmUrl: join(root, "wasm") + "/",
    isEvalSupported: false,
    useSystemFonts: false,
    verbosity: ERRORS_ONLY,
  };
}

/**
 * pdf.js's `VerbosityLevel.ERRORS`, spelled out so that the options can be made without loading pdf.js (the OCR
 * handler's thread never renders; its render workers do).
 */
const ERRORS_ONLY: typeof VerbosityLevel.ERRORS = 0;

export const DEFAULT_OCR_DPI = 300;
export const DEFAULT_MAX_PIXELS = 40_000_000;

/** The dpi a page is rendered at: `dpi`, lowered so that the render has at most `maxPixels` pixels. */
export function renderDpi(page: { widthPt: number; heightPt: number }, options: RenderOptions = {}): number {
  const dpi = options.dpi ?? DEFAULT_OCR_DPI;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const pixelsAt = (at: number) => Math.ceil((page.widthPt * at) / 72) * Math.ceil((page.heightPt * at) / 72);
  if (pixelsAt(dpi) <= maxPixels) return dpi;
  // Pixels grow with the square of the dpi; floor to whole dots and step down past rounding.
  let bounded = Math.floor(dpi * Math.sqrt(maxPixels / pixelsAt(dpi)));
  while (bounded > 1 && pixelsAt(bounded) > maxPixels) bounded--;
  return Math.max(1, bounded);
}

/** The document's own canvas factory (pdf.js's `canvasFactory`): see drawPage. */
export interface PdfCanvasFactory {
  create(width: number, height: number): { canvas: unknown; context: unknown };
  destroy(item: unknown): void;
}

/** A page drawn on a canvas, for the reader drawPage calls before the canvas is released. */
export interface DrawnPage {
  /** @napi-rs/canvas's Canvas (from the document's factory: use its own methods, never a second import). */
  canvas: unknown;
  context: { getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray } };
  /** Pixels. */
  width: number;
  height: number;
  dpi: number;
  /** The page's size as shown (rotation applied), PDF points. */
  widthPt: number;
  heightPt: number;
}

/**
 * Draws a pdf.js page on white at the resolution `options` allow (renderDpi) and hands the canvas to `read` before
 * releasing it. The canvas comes from the document's own canvas factory: a second copy of @napi-rs/canvas in the
 * process made pdf.js crash (see the verified facts).
 */
export async function drawPage<T>(
  page: PDFPageProxy,
  canvasFactory: PdfCanvasFactory,
  options: RenderOptions,
  read: (drawn: DrawnPage) => T | Promise<T>,
): Promise<T> {
  const base = page.getViewport({ scale: 1 });
  const dpi = renderDpi({ widthPt: base.width, heightPt: base.height }, options);
  const viewport = page.getViewport({ scale: dpi / 72 });
  const width = Math.ceil(viewport.width);
  const height = Math.ceil(viewport.height);
  const item = canvasFactory.create(width, height);
  // @napi-rs/canvas's context, which pdf.js drives as a browser's 2D context.
  type RenderParameters = Parameters<PDFPageProxy["render"]>[0];
  const context = item.context as RenderParameters["canvasContext"];
  try {
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    const task = page.render({ canvasContext: context, canvas: item.canvas as RenderParameters["canvas"], viewport });
    // Rendering keeps the event loop busy, so a timer would not fire: pdf.js asks before each slice of work instead.
    const { deadline } = options;
    if (deadline !== undefined) task.onContinue = (next: () => void) => (Date.now() > deadline ? task.cancel() : next());
    try {
      await task.promise;
    } catch (error) {
      if (deadline !== undefined && Date.now() > deadline) {
        throw new OcrPageError(OcrPageCodes.Timeout, `rendering page ${page.pageNumber} did not finish by its deadline`, { cause: error });
      }
      throw new OcrPageError(OcrPageCodes.Failed, `pdf.js could not render page ${page.pageNumber}: ${String(error)}`, { cause: error });
    }
    return await read({ canvas: item.canvas, context, width, height, dpi, widthPt: base.width, heightPt: base.height });
  } finally {
    canvasFactory.destroy(item);
  }
}

/** Renders a pdf.js page on white and returns its grey levels (what the recogniser reads). */
export async function renderPageGrey(page: PDFPageProxy, canvasFactory: PdfCanvasFactory, options: RenderOptions = {}): Promise<GreyImage> {
  return drawPage(page, canvasFactory, options, ({ context, width, height, dpi }) => ({
    width,
    height,
    pixels: greyOf(context.getImageData(0, 0, width, height).data),
    dpi,
  }));
}

/** A page as a colour JPEG (for people: the review page), with its size in pixels and in PDF points as shown. */
export interface JpegImage {
  width: number;
  height: number;
  dpi: number;
  widthPt: number;
  heightPt: number;
  jpeg: Uint8Array;
}

/** The one method of @napi-rs/canvas's Canvas the JPEG encoding needs (quality 0-100). */
interface EncodingCanvas {
  encode(format: "jpeg", quality: number): Promise<Uint8Array>;
}

/** Encodes a drawn canvas as JPEG, quality 0-100 (libjpeg's scale, as @napi-rs/canvas takes it). */
export async function encodeJpeg(canvas: unknown, quality: number): Promise<Uint8Array> {
  return (canvas as EncodingCanvas).encode("jpeg", Math.max(1, Math.min(100, Math.round(quality))));
}

/** Renders a pdf.js page on white as a colour JPEG. */
export async function renderPageJpeg(
  page: PDFPageProxy,
  canvasFactory: PdfCanvasFactory,
  options: RenderOptions & { quality: number },
): Promise<JpegImage> {
  return drawPage(page, canvasFactory, options, async ({ canvas, width, height, dpi, widthPt, heightPt }) => ({
    width,
    height,
    dpi,
    widthPt,
    heightPt,
    jpeg: await encodeJpeg(canvas, options.quality),
  }));
}

/**
 * Grey levels of RGBA pixels: ITU-R BT.601 luma in integers, composited on white (a transparent pixel is paper, not
 * ink).
 */
export function greyOf(rgba: Uint8Array | Uint8ClampedArray): Uint8Array {
  const pixels = new Uint8Array(rgba.length >> 2);
  for (let source = 0, target = 0; target < pixels.length; source += 4, target++) {
    const luma = (rgba[source]! * 77 + rgba[source + 1]! * 150 + rgba[source + 2]! * 29) >> 8;
    const alpha = rgba[source + 3]!;
    pixels[target] = alpha === 255 ? luma : (luma * alpha + 255 * (255 - alpha)) / 255;
  }
  return pixels;
}

/** The size an image of `width` x `height` pixels is scaled to so that it has at most `maxPixels` (never enlarged). */
export function fitToPixels(width: number, height: number, maxPixels: number): { width: number; height: number; scale: number } {
  if (width * height <= maxPixels) return { width, height, scale: 1 };
  let scale = Math.sqrt(maxPixels / (width * height));
  // Step down past rounding, as renderDpi does.
  while (scale > 0 && Math.max(1, Math.floor(width * scale)) * Math.max(1, Math.floor(height * scale)) > maxPixels) scale *= 0.999;
  return { width: Math.max(1, Math.floor(width * scale)), height: Math.max(1, Math.floor(height * scale)), scale };
}

/** Shrinks a grey image by averaging each target pixel's area of the source (box filter); sizes from fitToPixels. */
export function shrinkGrey(pixels: Uint8Array, width: number, height: number, toWidth: number, toHeight: number): Uint8Array {
  if (toWidth === width && toHeight === height) return pixels;
  const out = new Uint8Array(toWidth * toHeight);
  // Column spans are the same for every row: compute them once.
  const x0 = new Uint32Array(toWidth);
  const x1 = new Uint32Array(toWidth);
  for (let x = 0; x < toWidth; x++) {
    x0[x] = Math.floor((x * width) / toWidth);
    x1[x] = Math.max(x0[x]! + 1, Math.floor(((x + 1) * width) / toWidth));
  }
  const sums = new Uint32Array(toWidth);
  for (let y = 0; y < toHeight; y++) {
    const y0 = Math.floor((y * height) / toHeight);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / toHeight));
    sums.fill(0);
    for (let row = y0; row < y1; row++) {
      const base = row * width;
      for (let x = 0; x < toWidth; x++) {
        let sum = 0;
        for (let column = x0[x]!; column < x1[x]!; column++) sum += pixels[base + column]!;
        sums[x]! += sum;
      }
    }
    for (let x = 0; x < toWidth; x++) out[y * toWidth + x] = Math.round(sums[x]! / ((y1 - y0) * (x1[x]! - x0[x]!)));
  }
  return out;
}
