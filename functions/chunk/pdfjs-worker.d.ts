/**
 * pdf.js's worker module has no type declarations. The extraction worker imports it only to hand its message handler
 * to pdf.js's "fake worker" (`globalThis.pdfjsWorker`), so that is all that is declared.
 */
declare module "pdfjs-dist/legacy/build/pdf.worker.mjs" {
  export const WorkerMessageHandler: unknown;
}
