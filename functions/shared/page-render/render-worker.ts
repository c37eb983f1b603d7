/**
 * The render worker thread's entry point (started by page-renderer.ts; shipped as render-worker.mjs next to the
 * handler.mjs of each function that renders pages: OCR, review). It opens one document (a PDF with pdf.js, or an image)
 * when asked, then turns the pages it is asked for into grey pixels (OCR) or a colour JPEG (the review page), which go
 * back as a transferred ArrayBuffer. The parent bounds each page's time by terminating this thread: pdf.js's own
 * cancel is only checked between slices of rendering work, and decoding one image (a PDF's or an upload's) can take
 * longer than a page may.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import { createCanvas, ImageData, loadImage, type Canvas } from "@napi-rs/canvas";
import { getDocument, PasswordResponses, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
// pdf.js parses documents in its "fake worker" (same thread) and would import ./pdf.worker.mjs for it on first use;
// handing it the module puts that code in this bundle (see functions/chunk/extract-worker.ts).
import * as pdfjsWorker from "pdfjs-dist/legacy/build/pdf.worker.mjs";
import UTIF from "utif2";
import { DocumentInputCodes, DocumentInputError, OcrPageCodes, OcrPageError } from "../errors.ts";
import { tiffImageDirectories } from "../image-format.ts";
import { jpegHeader, pngHeader, tiffDpi, type ImageHeader } from "./image-input.ts";
import type { RenderReply, RenderRequest, WorkerFailure } from "./page-renderer.ts";
import {
  encodeJpeg,
  fitToPixels,
  greyOf,
  renderPageGrey,
  renderPageJpeg,
  shrinkGrey,
  type GreyImage,
  type JpegImage,
  type PdfCanvasFactory,
} from "./render-page.ts";

(globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = pdfjsWorker;

if (isMainThread || parentPort === null) {
  throw new Error("render-worker is a worker_threads entry point; use PageRenderer from page-renderer.ts");
}
const port = parentPort;

/** An image's pixels are decoded in full before they are scaled down: at most this many times the page bound. */
export const DECODE_PIXELS_PER_PAGE_BOUND = 4;
/**
 * Resolution assumed for an image that does not state one (a scan's usual). OCR renders at it, so its page records,
 * and the document layout built from them, size such a page as pixels * 72 / 300 points; the review page's images
 * use the same rule so that boxes in points land on the same pixels.
 */
export const ASSUMED_IMAGE_DPI = 300;

type OpenDocument =
  | { kind: "pdf"; doc: PDFDocumentProxy; pages: number }
  | { kind: "image"; format: "png" | "jpeg"; bytes: Uint8Array; pages: 1 }
  | { kind: "image"; format: "tiff"; bytes: Uint8Array; pages: number; ifds: UTIF.IFD[] | undefined };

let open: OpenDocument | undefined;

port.on("message", (request: RenderRequest) => {
  void handle(request);
});
port.postMessage({ type: "ready" } satisfies RenderReply);

async function handle(request: RenderRequest): Promise<void> {
  try {
    if (request.type === "open") {
      open = await openDocument(request);
      port.postMessage({ type: "opened", id: request.id, pages: open.pages } satisfies RenderReply);
      return;
    }
    if (open === undefined) throw new Error("render request before a document was opened");
    const started = performance.now();
    if (request.output.kind === "jpeg") {
      const image = await renderJpeg(open, request.page, request, request.output.quality);
      const { jpeg, ...size } = image;
      const encoded: RenderReply = { type: "encoded", id: request.id, ...size, jpeg: ownBuffer(jpeg), ms: Math.round(performance.now() - started) };
      port.postMessage(encoded, [encoded.jpeg]);
      return;
    }
    const image = await renderPage(open, request.page, request);
    const reply: RenderReply = {
      type: "rendered",
      id: request.id,
      width: image.width,
      height: image.height,
      dpi: image.dpi,
      pixels: ownBuffer(image.pixels),
      ms: Math.round(performance.now() - started),
    };
    port.postMessage(reply, [reply.pixels]);
  } catch (error) {
    port.postMessage({ type: "failed", id: request.id, error: serialize(error) } satisfies RenderReply);
  }
}

async function openDocument(request: Extract<RenderRequest, { type: "open" }>): Promise<OpenDocument> {
  const bytes = new Uint8Array(request.bytes);
  if (request.kind === "image") {
    if (request.format === "tiff") return { kind: "image", format: "tiff", bytes, pages: tiffImageDirectories(bytes).length, ifds: undefined };
    return { kind: "image", format: request.format, bytes, pages: 1 };
  }
  const passwordSupplied = request.password !== undefined;
  try {
    const doc = await getDocument({
      data: bytes,
      ...(passwordSupplied ? { password: request.password } : {}),
      ...request.pdfjsOptions,
    }).promise;
    return { kind: "pdf", doc, pages: doc.numPages };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "PasswordException") {
      const wrong = passwordSupplied || (error as { code?: unknown }).code === PasswordResponses.INCORRECT_PASSWORD;
      throw new DocumentInputError(
        DocumentInputCodes.Encrypted,
        wrong ? "the PDF is password-protected and the password supplied is wrong" : "the PDF is password-protected and no password was supplied",
      );
    }
    // pdf.js could not load its own code: a packaging fault, not the document's.
    if (error instanceof Error && error.message.startsWith("Setting up fake worker failed")) throw error;
    throw new DocumentInputError(DocumentInputCodes.Corrupt, `the PDF cannot be opened (${name || "Error"}: ${error instanceof Error ? error.message : String(error)})`);
  }
}

async function renderPage(document: OpenDocument, number: number, request: Extract<RenderRequest, { type: "render" }>): Promise<GreyImage> {
  checkPageNumber(document, number);
  if (document.kind === "pdf") {
    const page = await document.doc.getPage(number);
    try {
      return await renderPageGrey(page, canvasFactoryOf(document.doc), { dpi: request.dpi, maxPixels: request.maxPixels, deadline: request.deadline });
    } finally {
      page.cleanup();
    }
  }
  if (document.format === "tiff") return tiffPage(document, number, request.maxPixels);
  return canvasImage(document.bytes, document.format, request.maxPixels);
}

function checkPageNumber(document: OpenDocument, number: number): void {
  if (number > document.pages) {
    throw new OcrPageError(OcrPageCodes.Failed, `page ${number} is beyond the document's ${document.pages} page(s)`);
  }
}

/** The document's own canvas factory: its @napi-rs/canvas is the one pdf.js loaded (two copies crash pdf.js). */
function canvasFactoryOf(doc: PDFDocumentProxy): PdfCanvasFactory {
  return (doc as unknown as { canvasFactory: PdfCanvasFactory }).canvasFactory;
}

/**
 * A page as a colour JPEG at the dpi asked: a PDF page rendered by pdf.js; an image scaled down to it (never up) from
 * the resolution it states (ASSUMED_IMAGE_DPI when none), both bounded by the pixel bound. Sizes in points as shown.
 */
async function renderJpeg(
  document: OpenDocument,
  number: number,
  request: Extract<RenderRequest, { type: "render" }>,
  quality: number,
): Promise<JpegImage> {
  checkPageNumber(document, number);
  if (document.kind === "pdf") {
    const page = await document.doc.getPage(number);
    try {
      const bounds = { dpi: request.dpi, maxPixels: request.maxPixels, deadline: request.deadline, quality };
      return await renderPageJpeg(page, canvasFactoryOf(document.doc), bounds);
    } finally {
      page.cleanup();
    }
  }
  let source: { canvas: Canvas | Awaited<ReturnType<typeof loadImage>>; width: number; height: number; statedDpi: number | undefined };
  if (document.format === "tiff") {
    const page = tiffRgba(document, number, request.maxPixels);
    const canvas = createCanvas(page.width, page.height);
    canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(page.rgba.buffer, page.rgba.byteOffset, page.rgba.byteLength), page.width, page.height), 0, 0);
    source = { canvas, width: page.width, height: page.height, statedDpi: page.dpi };
  } else {
    const image = await decodeImage(document.bytes, document.format, request.maxPixels);
    source = { canvas: image.image, width: image.image.width, height: image.image.height, statedDpi: image.header.dpi };
  }
  const shownDpi = source.statedDpi ?? ASSUMED_IMAGE_DPI;
  const byDpi = Math.min(1, request.dpi / shownDpi);
  const target = fitToPixels(Math.max(1, Math.round(source.width * byDpi)), Math.max(1, Math.round(source.height * byDpi)), request.maxPixels);
  const canvas = createCanvas(target.width, target.height);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, target.width, target.height);
  context.drawImage(source.canvas, 0, 0, target.width, target.height);
  return {
    width: target.width,
    height: target.height,
    dpi: (shownDpi * target.width) / source.width,
    widthPt: (source.width * 72) / shownDpi,
    heightPt: (source.height * 72) / shownDpi,
    jpeg: await encodeJpeg(canvas, quality),
  };
}

/** PNG and JPEG: decoded by @napi-rs/canvas, drawn on white at the size that fits the pixel bound. */
async function canvasImage(bytes: Uint8Array, format: "png" | "jpeg", maxPixels: number): Promise<GreyImage> {
  const { header, image } = await decodeImage(bytes, format, maxPixels);
  const target = fitToPixels(image.width, image.height, maxPixels);
  const canvas = createCanvas(target.width, target.height);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, target.width, target.height);
  context.drawImage(image, 0, 0, target.width, target.height);
  const pixels = greyOf(context.getImageData(0, 0, target.width, target.height).data);
  return { width: target.width, height: target.height, pixels, dpi: scaledDpi(header.dpi, target.scale) };
}

/** A PNG or JPEG decoded by @napi-rs/canvas, after its header's size was checked against the decode bound. */
async function decodeImage(bytes: Uint8Array, format: "png" | "jpeg", maxPixels: number) {
  const header = format === "png" ? pngHeader(bytes) : jpegHeader(bytes);
  checkDecodeBound(header, maxPixels);
  let image;
  try {
    image = await loadImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new OcrPageError(OcrPageCodes.Failed, `the ${format.toUpperCase()} image cannot be decoded: ${errorText(error)}`);
  }
  if (image.width === 0 || image.height === 0) {
    throw new OcrPageError(OcrPageCodes.Failed, `the ${format.toUpperCase()} image cannot be decoded`);
  }
  return { header, image };
}

/** One TIFF image (page `number`'s directory) decoded by utif2 to grey, shrunk to the pixel bound. */
function tiffPage(document: Extract<OpenDocument, { format: "tiff" }>, number: number, maxPixels: number): GreyImage {
  const { rgba, width, height, dpi } = tiffRgba(document, number, maxPixels);
  const target = fitToPixels(width, height, maxPixels);
  const pixels = shrinkGrey(greyOf(rgba), width, height, target.width, target.height);
  return { width: target.width, height: target.height, pixels, dpi: scaledDpi(dpi, target.scale) };
}

/** One TIFF image (page `number`'s directory) decoded by utif2 to RGBA at its own size. */
function tiffRgba(
  document: Extract<OpenDocument, { format: "tiff" }>,
  number: number,
  maxPixels: number,
): { rgba: Uint8Array; width: number; height: number; dpi: number | undefined } {
  // The directory chain was checked for loops when the document was opened; utif2 follows it without a check.
  // The whole file's own ArrayBuffer (the worker received it): utif2 copies any view it is given.
  const file = document.bytes.buffer as ArrayBuffer;
  // Maker notes (camera metadata) are not needed for pixels. (utif2's own typings omit the options argument.)
  // Only directories with an image are pages (as image-format.ts counts them).
  document.ifds ??= (UTIF.decode as (buffer: ArrayBuffer, options: object) => UTIF.IFD[])(file, { parseMN: false, debug: false }).filter(
    (ifd) => ifd["t256"] !== undefined,
  );
  const ifd = document.ifds[number - 1];
  if (ifd === undefined) throw new OcrPageError(OcrPageCodes.Failed, `TIFF page ${number} has no readable directory`);
  const width = Number((ifd.t256 as number[] | undefined)?.[0] ?? 0);
  const height = Number((ifd.t257 as number[] | undefined)?.[0] ?? 0);
  if (!(width > 0 && height > 0)) throw new OcrPageError(OcrPageCodes.Failed, `TIFF page ${number} has no image size`);
  const dpi = tiffDpi(ifd as { t282?: unknown; t296?: unknown });
  checkDecodeBound({ width, height }, maxPixels);
  let rgba: Uint8Array;
  try {
    UTIF.decodeImage(file, ifd);
    rgba = UTIF.toRGBA8(ifd);
  } catch (error) {
    throw new OcrPageError(OcrPageCodes.Failed, `TIFF page ${number} cannot be decoded: ${errorText(error)}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new OcrPageError(OcrPageCodes.Failed, `TIFF page ${number} cannot be decoded (its compression or colour model is not supported)`);
  }
  // The decoded page is not needed again: let it go before the next page is decoded.
  (ifd as { data?: unknown }).data = undefined;
  return { rgba, width, height, dpi };
}

function checkDecodeBound(header: Pick<ImageHeader, "width" | "height">, maxPixels: number): void {
  if (header.width * header.height > maxPixels * DECODE_PIXELS_PER_PAGE_BOUND) {
    throw new OcrPageError(
      OcrPageCodes.Failed,
      `the image is ${header.width}x${header.height} pixels, more than ${DECODE_PIXELS_PER_PAGE_BOUND} times the ` +
        `pixel bound of ${maxPixels}; it is not decoded`,
    );
  }
}

function scaledDpi(dpi: number | undefined, scale: number): number {
  return Math.max(1, Math.round((dpi ?? ASSUMED_IMAGE_DPI) * scale));
}

/** An ArrayBuffer holding exactly the pixels, to transfer. */
function ownBuffer(pixels: Uint8Array): ArrayBuffer {
  const { buffer } = pixels;
  if (buffer instanceof ArrayBuffer && pixels.byteOffset === 0 && pixels.byteLength === buffer.byteLength) return buffer;
  return pixels.slice().buffer;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function serialize(error: unknown): WorkerFailure {
  if (error instanceof DocumentInputError) {
    const prefix = `${error.code}: `;
    return { kind: "input", code: error.code, message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
  }
  if (error instanceof OcrPageError) {
    const prefix = `${error.code}: `;
    return { kind: "page", code: error.code, message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
  }
  return { kind: "error", name: error instanceof Error ? error.name : "Error", message: errorText(error) };
}
