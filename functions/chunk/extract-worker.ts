/**
 * The extraction worker thread's entry point (started by isolated-extract.ts; bundled as extract-worker.mjs next to
 * the chunk function's index.mjs). It loads pdf.js once, says "ready", then extracts the text of each PDF it is sent
 * and replies with the pages or with the error. The parent enforces the time and memory bounds by terminating it.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import { DocumentInputError } from "../shared/errors.ts";
import type { ExtractionReply, ExtractionRequest, SerializedError } from "./isolated-extract.ts";
import { extractPages } from "./pdf-text.ts";
// pdf.js parses documents in its "fake worker" (same thread) and would import ./pdf.worker.mjs for it on first use.
// Handing it the module up front puts that code in this bundle (one minified parse at start-up, no file lookup at
// run time): measured on the bundle, a fresh worker's first document took ~150-200 ms more without it.
import * as pdfjsWorker from "pdfjs-dist/legacy/build/pdf.worker.mjs";

(globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = pdfjsWorker;

if (isMainThread || parentPort === null) {
  throw new Error("extract-worker is a worker_threads entry point; call extractIsolated() from isolated-extract.ts");
}
const port = parentPort;

port.on("message", (request: ExtractionRequest) => {
  void handle(request);
});
port.postMessage({ type: "ready" } satisfies ExtractionReply);

async function handle(request: ExtractionRequest): Promise<void> {
  const started = performance.now();
  let reply: ExtractionReply;
  try {
    const { pages, textLayer, drawings, imageRegions } = await extractPages(new Uint8Array(request.bytes), {
      ...(request.password === undefined ? {} : { password: request.password }),
      maxPages: request.maxPages,
      dropRunningHeaders: request.dropRunningHeaders,
      keepTextlessPages: request.keepTextlessPages,
      findImageRegions: request.findImageRegions ?? false,
      decodeBound: request.decodeBound,
      ...(request.pdfjsData === undefined ? {} : { pdfjsData: request.pdfjsData }),
    });
    reply = {
      type: "result",
      id: request.id,
      pages,
      ...(textLayer ? { textLayer } : {}),
      ...(drawings ? { drawings } : {}),
      ...(imageRegions ? { imageRegions } : {}),
      ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    reply = { type: "failure", id: request.id, error: serializeError(error) };
  }
  port.postMessage(reply);
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof DocumentInputError) {
    const prefix = `${error.code}: `;
    const detail = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    return { kind: "input", code: error.code, message: detail };
  }
  if (error instanceof Error) {
    return { kind: "error", name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { kind: "error", name: "Error", message: String(error) };
}
