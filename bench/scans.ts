/** Scans made from text: image-only PDFs, as a scanner or a fax makes them (no text layer), for the OCR bench and tests. */
import { createCanvas } from "@napi-rs/canvas";
import { PDFDocument } from "pdf-lib";
import { getDocument, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { pdfjsRenderingOptions, renderPageGrey } from "../functions/shared/page-render/render-page.ts";

type CanvasFactory = Parameters<typeof renderPageGrey>[1];
export const canvasFactoryOf = (doc: PDFDocumentProxy) => (doc as unknown as { canvasFactory: CanvasFactory }).canvasFactory;
export const openForRendering = (bytes: Uint8Array) => getDocument({ data: new Uint8Array(bytes), ...pdfjsRenderingOptions() }).promise;

/** Each page of `pdf` as a grey picture on a page of the same size, with no text layer: a scan of it. */
export async function scanOf(pdf: Uint8Array, dpi: number): Promise<Uint8Array> {
  const source = await openForRendering(pdf);
  const scan = await PDFDocument.create();
  for (let number = 1; number <= source.numPages; number++) {
    const page = await source.getPage(number);
    const { width, height } = page.getViewport({ scale: 1 });
    const grey = await renderPageGrey(page, canvasFactoryOf(source), { dpi });
    const canvas = createCanvas(grey.width, grey.height);
    const context = canvas.getContext("2d");
    const image = context.createImageData(grey.width, grey.height);
    grey.pixels.forEach((level, index) => image.data.set([level, level, level, 255], index * 4));
    context.putImageData(image, 0, 0);
    const picture = await scan.embedPng(canvas.toBuffer("image/png"));
    scan.addPage([width, height]).drawImage(picture, { x: 0, y: 0, width, height });
  }
  await source.destroy();
  return scan.save();
}

/**
 * An image-only PDF of `pages` US Letter pages, each a picture of a few lines of large text naming its page
 * ("Page 7 of 40"), drawn at `dpi`: a long scan that is quick to OCR.
 */
export async function scannedPagesPdf(pages: number, dpi = 100): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const width = Math.round(8.5 * dpi);
  const height = Math.round(11 * dpi);
  for (let number = 1; number <= pages; number++) {
    const canvas = createCanvas(width, height);
    const context = canvas.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    context.fillStyle = "#000000";
    context.font = `${Math.round(dpi / 4)}px sans-serif`;
    const lines = [`Page ${number} of ${pages}`, `Shipment SH-${1000 + number} received`, `Weight ${number * 3} kg`];
    lines.forEach((line, i) => context.fillText(line, dpi, dpi * (1.5 + i * 0.6)));
    const picture = await pdf.embedPng(canvas.toBuffer("image/png"));
    pdf.addPage([612, 792]).drawImage(picture, { x: 0, y: 0, width: 612, height: 792 });
  }
  return pdf.save();
}
