/**
 * The render worker thread's entry point (started by page-renderer.ts; shipped as render-worker.mjs next to the OCR
 * function's handler.mjs). It opens one document (a PDF with pdf.js, or an image) when asked, then turns the pages it is
 * asked for into grey pixels, which go back as a transferred ArrayBuffer. The parent bounds each page's time by
 * terminating this thread: pdf.js's own cancel is only checked between slices of rendering work, and decoding one
 * image (a PDF's or an upload's) can take longer than a page may.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { getDocument, PasswordResponses, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
// pdf.js parses documents in its "fake worker" (same thread) and would import ./pdf.worker.mjs for it on first use;
// handing it the module puts that code in this bundle (see functions/chunk/extract-worker.ts).
import * as pdfjsWorker from "pdfjs-dist/legacy/build/pdf.worker.mjs";
import UTIF from "utif2";
import { DocumentInputCodes, DocumentInputError, OcrPageCodes, OcrPageError } from "../shared/errors.ts";
import { tiffImageDirectories } from "../shared/image-format.ts";
import { jpegHeader, pngHeader, tiffDpi, type ImageHeader } from "./image-input.ts";
import type { RenderReply, RenderRequest, WorkerFailure } from "./page-renderer.ts";
import { fitToPixels, greyOf, renderPageGrey, shrinkGrey, type GreyImage } from "./render-page.ts";

(globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = pdfjsWorker;

if (isMainThread || parentPort === null) {
  throw new Error("render-worker is a worker_threads entry point; use PageRenderer from page-renderer.ts");
}
const port = parentPort;

/** An image's pixels are decoded in full before they are scaled down: at most this many times the page bound. */
export const DECODE_PIXELS_PER_PAGE_BOUND = 4;
/** Resolution assumed for an image that does not state one. */
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
  if (number > document.pages) {
    throw new OcrPageError(OcrPageCodes.Failed, `page ${number} is beyond the document's ${document.pages} page(s)`);
  }
  if (document.kind === "pdf") {
    const page = await document.doc.getPage(number);
    try {
      type CanvasFactory = Parameters<typeof renderPageGrey>[1];
      // The document's own factory: its @napi-rs/canvas is the one pdf.js loaded (two copies crash pdf.js).
      const { canvasFactory } = document.doc as unknown as { canvasFactory: CanvasFactory };
      return await renderPageGrey(page, canvasFactory, { dpi: request.dpi, maxPixels: request.maxPixels, deadline: request.deadline });
    } finally {
      page.cleanup();
    }
  }
  if (document.format === "tiff") return tiffPage(document, number, request.maxPixels);
  return canvasImage(document.bytes, document.format, request.maxPixels);
}

/** PNG and JPEG: decoded by @napi-rs/canvas, drawn on white at the size that fits the pixel bound. */
async function canvasImage(bytes: Uint8Array, format: "png" | "jpeg", maxPixels: number): Promise<GreyImage> {
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
  const target = fitToPixels(image.width, image.height, maxPixels);
  const canvas = createCanvas(target.width, target.height);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, target.width, target.height);
  context.drawImage(image, 0, 0, target.width, target.height);
  const pixels = greyOf(context.getImageData(0, 0, target.width, target.height).data);
  return { width: target.width, height: target.height, pixels, dpi: scaledDpi(header.dpi, target.scale) };
}

/** One TIFF image (page `number`'s directory) decoded by utif2 to RGBA, then grey, shrunk to the pixel bound. */
function tiffPage(document: Extract<OpenDocument, { format: "tiff" }>, number: number, maxPixels: number): GreyImage {
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
  const target = fitToPixels(width, height, maxPixels);
  const pixels = shrinkGrey(greyOf(rgba), width, height, target.width, target.height);
  return { width: target.width, height: target.height, pixels, dpi: scaledDpi(dpi, target.scale) };
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
