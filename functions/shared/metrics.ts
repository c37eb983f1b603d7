import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { serviceName } from "./logger.ts";

/**
 * The one Powertools Metrics instance, and the names of llambda's custom metrics. Handlers record metrics while they
 * work and publish them once per invocation, as one CloudWatch Embedded Metric Format (EMF) line on stdout, which
 * CloudWatch turns into metrics; infra/observability.ts graphs and alarms on the same names. Set
 * POWERTOOLS_METRICS_DISABLED=true to turn the EMF output off (the local twin does).
 */

/** CloudWatch namespace of every custom metric. */
export const metricsNamespace = "llambda";

/** The dimensions every custom metric is published with: Powertools adds `service` (the logger's service name). */
export const metricDimensions = { service: serviceName } as const;

export const MetricNames = {
  /** Prompt tokens the model evaluated for a chunk (the instructions reused from the KV cache excluded). */
  chunkTokensIn: "ChunkTokensIn",
  /** Tokens the model generated for a chunk's answer. */
  chunkTokensOut: "ChunkTokensOut",
  /** Generation speed of a chunk: tokens generated per second of generation. */
  chunkTokensPerSecond: "ChunkGenerationTokensPerSecond",
  /** Wall time of a chunk's extraction, prompt and answer. */
  chunkDuration: "ChunkDuration",
  /** Chunks an inference invocation finished with a result. */
  chunksSucceeded: "ChunksSucceeded",
  /** Chunks an inference invocation ended with an error (not split, not retried). */
  chunksFailed: "ChunksFailed",
  /** Time the inference container's init spent loading the model; one value per cold start. */
  modelInitDuration: "ModelInitDuration",
  /** Pages of a chunked document (records, for a record batch). */
  documentPages: "DocumentPages",
  /** Chunks a document was split into. */
  documentChunks: "DocumentChunks",
  /** Time the chunk function spent extracting a document's text and chunking it. */
  documentChunkingDuration: "DocumentChunkingDuration",
  /** Estimated cost of a processed document, US dollars. Published by the merge function. */
  documentCostUsd: "DocumentCostUsd",
  /** Pages an OCR invocation read (with text, or found blank). */
  pagesOcrd: "PagesOcrd",
  /** Pages an OCR invocation gave up on (OCR_FAILED, OCR_TIMEOUT). */
  ocrPagesFailed: "OcrPagesFailed",
  /** Time one page's OCR took, render and recognition. */
  ocrPageDuration: "OcrPageDuration",
} as const;

export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];
export type MetricUnitName = (typeof MetricUnit)[keyof typeof MetricUnit];

export interface MetricDefinition {
  unit: MetricUnitName;
  /** The function that publishes it. */
  publishedBy: "infer" | "chunk" | "merge" | "ocr";
  /** What one value stands for. */
  valuePer: "chunk" | "invocation" | "cold start" | "document" | "page";
}

/** Unit, publisher and granularity of each metric: docs/observability.md lists the same. */
export const metricDefinitions: Record<MetricName, MetricDefinition> = {
  [MetricNames.chunkTokensIn]: { unit: MetricUnit.Count, publishedBy: "infer", valuePer: "chunk" },
  [MetricNames.chunkTokensOut]: { unit: MetricUnit.Count, publishedBy: "infer", valuePer: "chunk" },
  [MetricNames.chunkTokensPerSecond]: { unit: MetricUnit.CountPerSecond, publishedBy: "infer", valuePer: "chunk" },
  [MetricNames.chunkDuration]: { unit: MetricUnit.Milliseconds, publishedBy: "infer", valuePer: "chunk" },
  [MetricNames.chunksSucceeded]: { unit: MetricUnit.Count, publishedBy: "infer", valuePer: "invocation" },
  [MetricNames.chunksFailed]: { unit: MetricUnit.Count, publishedBy: "infer", valuePer: "invocation" },
  [MetricNames.modelInitDuration]: { unit: MetricUnit.Milliseconds, publishedBy: "infer", valuePer: "cold start" },
  [MetricNames.documentPages]: { unit: MetricUnit.Count, publishedBy: "chunk", valuePer: "document" },
  [MetricNames.documentChunks]: { unit: MetricUnit.Count, publishedBy: "chunk", valuePer: "document" },
  [MetricNames.documentChunkingDuration]: { unit: MetricUnit.Milliseconds, publishedBy: "chunk", valuePer: "document" },
  [MetricNames.documentCostUsd]: { unit: MetricUnit.NoUnit, publishedBy: "merge", valuePer: "document" },
  [MetricNames.pagesOcrd]: { unit: MetricUnit.Count, publishedBy: "ocr", valuePer: "invocation" },
  [MetricNames.ocrPagesFailed]: { unit: MetricUnit.Count, publishedBy: "ocr", valuePer: "invocation" },
  [MetricNames.ocrPageDuration]: { unit: MetricUnit.Milliseconds, publishedBy: "ocr", valuePer: "page" },
};

/** The function's metrics; values are buffered until `publishMetrics()`. */
export const metrics = new Metrics({ namespace: metricsNamespace, serviceName });

/** Where metrics are recorded: the Metrics instance, or a recorder in tests. */
export type MetricSink = Pick<Metrics, "addMetric">;

/** Adds a value with the metric's own unit (units live in one place: metricDefinitions). */
export function addMetric(sink: MetricSink, name: MetricName, value: number): void {
  sink.addMetric(name, metricDefinitions[name].unit, value);
}

/** One extracted chunk: tokens in and out, generation speed (when anything was generated) and duration. */
export function recordChunkExtracted(
  sink: MetricSink,
  extraction: { tokensIn: number; tokensOut: number; generationMs: number; ms: number },
): void {
  addMetric(sink, MetricNames.chunkTokensIn, extraction.tokensIn);
  addMetric(sink, MetricNames.chunkTokensOut, extraction.tokensOut);
  if (extraction.tokensOut > 0 && extraction.generationMs > 0) {
    addMetric(sink, MetricNames.chunkTokensPerSecond, (extraction.tokensOut * 1000) / extraction.generationMs);
  }
  addMetric(sink, MetricNames.chunkDuration, extraction.ms);
}

/** What one inference invocation finished: chunks with a result and chunks that failed (zeros included). */
export function recordBatchOutcome(sink: MetricSink, outcome: { succeeded: number; failed: number }): void {
  addMetric(sink, MetricNames.chunksSucceeded, outcome.succeeded);
  addMetric(sink, MetricNames.chunksFailed, outcome.failed);
}

/** The model load of an inference container's init. */
export function recordModelInit(sink: MetricSink, ms: number): void {
  addMetric(sink, MetricNames.modelInitDuration, ms);
}

/** A chunked document: its pages, its chunks and the time text extraction and chunking took. */
export function recordDocumentChunked(sink: MetricSink, output: { pageCount: number; chunkCount: number; ms: number }): void {
  addMetric(sink, MetricNames.documentPages, output.pageCount);
  addMetric(sink, MetricNames.documentChunks, output.chunkCount);
  addMetric(sink, MetricNames.documentChunkingDuration, output.ms);
}

/** What one OCR invocation did: pages read and failed (zeros included), and each read page's time. */
export function recordPagesOcrd(sink: MetricSink, outcome: { pageMs: number[]; failed: number }): void {
  addMetric(sink, MetricNames.pagesOcrd, outcome.pageMs.length);
  addMetric(sink, MetricNames.ocrPagesFailed, outcome.failed);
  for (const ms of outcome.pageMs) addMetric(sink, MetricNames.ocrPageDuration, ms);
}

/**
 * Writes the buffered metrics as one EMF line (with the invocation's metadata, e.g. the document id) and empties the
 * buffer. Nothing is written when nothing was recorded (Powertools would warn about an empty flush) or when
 * POWERTOOLS_METRICS_DISABLED is true.
 */
export function publishMetrics(target: Metrics = metrics): void {
  if (target.hasStoredMetrics()) {
    target.publishStoredMetrics();
    return;
  }
  // What publishing would have cleared: the invocation's metadata must not reach the next invocation's line.
  target.clearMetadata();
  target.clearDimensions();
}
