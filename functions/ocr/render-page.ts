import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { VerbosityLevel, type PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { OcrPageCodes, OcrPageError } from "../shared/errors.ts";

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
    verbosity: VerbosityLevel.ERRORS,
  };
}

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

/**
 * Renders a pdf.js page on white and returns its grey levels. The canvas comes from the document's own canvas factory:
 * a second copy of @napi-rs/canvas in the process made pdf.js crash (see the verified facts).
 */
export async function renderPageGrey(
  page: PDFPageProxy,
  canvasFactory: { create(width: number, height: number): { canvas: unknown; context: unknown }; destroy(item: unknown): void },
  options: RenderOptions = {},
): Promise<GreyImage> {
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
    const rgba = context.getImageData(0, 0, width, height).data;
    const pixels = new Uint8Array(width * height);
    // ITU-R BT.601 luma in integers.
    for (let source = 0, target = 0; target < pixels.length; source += 4, target++) {
      pixels[target] = (rgba[source]! * 77 + rgba[source + 1]! * 150 + rgba[source + 2]! * 29) >> 8;
    }
    return { width, height, pixels, dpi };
  } finally {
    canvasFactory.destroy(item);
  }
}
