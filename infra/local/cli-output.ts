/**
 * What `npm start` shows: a readable summary per document (plain output), one JSON object per document (--json),
 * stream records and a progress line while documents run (stderr).
 */
import type { DynamoDBRecord } from "aws-lambda";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";

const { uploadsPrefix } = BucketLayout;

/** A key as the user thinks of it: without the uploads/ prefix every key has. */
export function displayName(key: string): string {
  return key.startsWith(uploadsPrefix) ? key.slice(uploadsPrefix.length) : key;
}

/** One line per stream record: event, key, status change, version. */
export function describeStreamRecord(record: DynamoDBRecord): string {
  const image = record.dynamodb?.NewImage ?? record.dynamodb?.OldImage;
  const key = image?.source?.M?.key?.S;
  const name = key === undefined ? (record.dynamodb?.Keys?.documentId?.S ?? "?") : displayName(key);
  const label = image?.recordId?.S ? `${name} record ${image.recordId.S}` : name;
  const before = record.dynamodb?.OldImage?.status?.S;
  const after = record.dynamodb?.NewImage?.status?.S;
  const status = before && before !== after ? `${before} → ${after}` : (after ?? before ?? "");
  const version = record.dynamodb?.NewImage?.version?.N;
  return `${record.eventName} ${label}: ${status}${version ? ` (version ${version})` : ""}`;
}

/** Numbers as people read them: 2.0000000000000002e-7 → 2e-7, 0.30000000000000004 → 0.3 (12 significant digits). */
export function withoutFloatNoise<T>(value: T): T {
  if (typeof value === "number") return (Number.isInteger(value) || !Number.isFinite(value) ? value : Number(value.toPrecision(12))) as T;
  if (Array.isArray(value)) return value.map((entry: unknown) => withoutFloatNoise(entry)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, withoutFloatNoise(entry)])) as T;
  }
  return value;
}

export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
}

/** The document's own time: from the item's start to its last write (not from when the CLI began to wait for it). */
export function documentMs(item: DocumentItem | undefined): number | undefined {
  if (!item?.timings?.startedAt) return undefined;
  if (typeof item.timings.totalMs === "number") return item.timings.totalMs;
  const end = Date.parse(item.timings.completedAt ?? item.updatedAt);
  const start = Date.parse(item.timings.startedAt);
  return Number.isFinite(end) && Number.isFinite(start) ? Math.max(0, end - start) : undefined;
}

/** A Lambda error's cause is its JSON ({errorType, errorMessage, trace}): show type and message. */
export function readableCause(cause: string | undefined): string | undefined {
  if (cause === undefined) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed?.errorMessage === "string") {
      return typeof parsed.errorType === "string" ? `${parsed.errorType}: ${parsed.errorMessage}` : parsed.errorMessage;
    }
  } catch {
    // Not JSON: a plain message.
  }
  return cause;
}

export interface DocumentReport {
  file: string;
  key: string;
  /** null when the file was never uploaded (the twin's S3 refused it). */
  documentId: string | null;
  schemaId: string | null;
  /** The item's status; FAILED without an item; INTERRUPTED when a local service stopped before it was read. */
  status: string;
  /** The document's own time, ms (see documentMs). */
  ms: number | null;
  pages: number | null;
  chunks: { total: number; succeeded: number; failed: number };
  result: unknown;
  /** Per field path: chunks and pages, where in the document, how far to trust it (read from S3 with an offloaded result). */
  provenance?: DocumentItem["provenance"];
  grounding?: DocumentItem["grounding"];
  confidence?: DocumentItem["confidence"];
  needsReview?: boolean;
  reviewReasons?: DocumentItem["reviewReasons"];
  failedChunks?: DocumentItem["failedChunks"];
  error?: string;
  cause?: string;
  /** With --review: where the document's review page was copied (null when it has none). */
  reviewPage?: string | null;
  /** How to finish an INTERRUPTED document. */
  resume?: string;
  /** The whole DynamoDB item, as written (null when none was). */
  item: DocumentItem | null;
}

export function documentReport(
  upload: { file: string; key: string; documentId: string },
  item: DocumentItem | undefined,
  offloaded: Pick<DocumentItem, "result" | "failedChunks" | "provenance" | "grounding" | "confidence" | "reviewReasons"> | undefined,
): DocumentReport {
  const failedChunks = offloaded?.failedChunks ?? item?.failedChunks;
  const provenance = offloaded?.provenance ?? item?.provenance;
  const grounding = offloaded?.grounding ?? item?.grounding;
  const confidence = offloaded?.confidence ?? item?.confidence;
  return {
    file: upload.file,
    key: upload.key,
    documentId: upload.documentId,
    schemaId: item?.schemaId ?? null,
    status: item?.status ?? "FAILED",
    ms: documentMs(item) ?? null,
    pages: item?.source?.pages ?? null,
    chunks: item?.chunks ?? { total: 0, succeeded: 0, failed: 0 },
    // A result too large for its item is read from S3, as a consumer would.
    result: offloaded?.result ?? null,
    ...(provenance ? { provenance } : {}),
    ...(grounding ? { grounding } : {}),
    ...(confidence ? { confidence } : {}),
    ...(item?.needsReview !== undefined ? { needsReview: item.needsReview, reviewReasons: item.reviewReasons ?? offloaded?.reviewReasons ?? [] } : {}),
    ...(failedChunks && failedChunks.length > 0 ? { failedChunks } : {}),
    ...(item?.error || !item ? { error: item?.error ?? "No document item was written" } : {}),
    ...(item?.cause ? { cause: item.cause } : {}),
    item: item ?? null,
  };
}

/** The `error` of a document the run reports without an item. */
export const UnfinishedCodes = {
  /** The twin did not take the file (its S3 refused the key, or the upload never started the workflow). */
  uploadFailed: "UPLOAD_FAILED",
  /** A local service (DynamoDB Local) stopped before the document's result was read. */
  serviceStopped: "LOCAL_SERVICE_STOPPED",
} as const;

/** A document's report when it has no item to read: its upload failed, or the run was cut short by a stopped service. */
export function unfinishedReport(
  upload: { file: string; key: string; documentId: string | null },
  outcome: { status: "FAILED" | "INTERRUPTED"; error: (typeof UnfinishedCodes)[keyof typeof UnfinishedCodes]; cause: string; resume?: string },
): DocumentReport {
  return {
    file: upload.file,
    key: upload.key,
    documentId: upload.documentId,
    schemaId: null,
    status: outcome.status,
    ms: null,
    pages: null,
    chunks: { total: 0, succeeded: 0, failed: 0 },
    result: null,
    error: outcome.error,
    cause: outcome.cause,
    ...(outcome.resume === undefined ? {} : { resume: outcome.resume }),
    item: null,
  };
}

/**
 * How to finish documents a stopped service left unfinished. A new run on the same data folder uploads each file
 * again: the newer upload takes its item over (still PROCESSING, or whatever it holds) and runs it to the end.
 */
export function resumeHint(dataDir: string, documents = 1): string {
  const what = documents === 1 ? "the file again and completes the document" : "the files again and completes the documents";
  return `run the same command again with --data-dir ${dataDir}: it uploads ${what}`;
}

/** The plain output for one document: status line, counts, the result pretty-printed, failures. */
export function renderReport(report: DocumentReport): string {
  const ok = report.status === "COMPLETED" || report.status === "PARTIAL";
  const lines = [`${ok ? "✓" : "✗"} ${displayName(report.key)}: ${report.status}`];
  if (report.reviewPage !== undefined) lines.push(`  review page: ${report.reviewPage ?? "none"}`);
  const facts = [
    `file ${report.file}`,
    `key ${report.key}`,
    ...(report.schemaId ? [`schema ${report.schemaId}`] : []),
    ...(report.documentId === null ? [] : [`document ${report.documentId}`]),
  ];
  lines.push(`  ${facts.join(" · ")}`);
  const counts = [
    ...(report.pages === null ? [] : [`${report.pages} ${report.pages === 1 ? "page" : "pages"}`]),
    ...(report.item?.ocr ? [`${report.item.ocr.pages.length} OCR'd`] : []),
    `${report.chunks.total} ${report.chunks.total === 1 ? "chunk" : "chunks"} (${report.chunks.succeeded} succeeded, ${report.chunks.failed} failed)`,
    ...(report.ms === null ? [] : [formatDuration(report.ms)]),
    ...(typeof report.item?.cost?.total === "number" ? [`~$${Number(report.item.cost.total.toPrecision(2))} on AWS`] : []),
  ];
  // Without an item there is nothing to count.
  if (report.item !== null) lines.push(`  ${counts.join(" · ")}`);
  if (report.error) lines.push(`  error: ${report.error}`);
  const cause = readableCause(report.cause);
  if (cause) lines.push(`  cause: ${cause}`);
  if (report.resume) lines.push(`  resume: ${report.resume}`);
  const ocr = report.item?.ocr;
  for (const page of ocr?.failedPages ?? []) lines.push(`  failed page ${page.page}: ${page.error}: ${page.message}`);
  if (ocr && ocr.lowConfidencePages.length > 0) lines.push(`  low OCR confidence: page ${ocr.lowConfidencePages.join(", ")}`);
  for (const chunk of report.failedChunks ?? []) {
    const where = `chunk ${chunk.index}${chunk.part ? ` part ${chunk.part}` : ""}${chunk.recordId ? ` (record ${chunk.recordId})` : ""}`;
    const cause = readableCause(chunk.cause);
    const detail = cause === undefined ? chunk.error : cause.startsWith(`${chunk.error}:`) ? cause : `${chunk.error}: ${cause}`;
    lines.push(`  failed ${where}: ${detail}`);
  }
  if (report.needsReview) {
    const reasons = (report.reviewReasons ?? []).map((reason) =>
      [reason.code, reason.path ?? "", reason.pages ? `page ${reason.pages.join(", ")}` : "", reason.chunks ? `chunk ${reason.chunks.join(", ")}` : ""]
        .filter(Boolean)
        .join(" "),
    );
    lines.push(`  needs review: ${reasons.join("; ")}`);
  }
  if (report.result !== null && report.result !== undefined) {
    lines.push("  result:");
    for (const line of JSON.stringify(withoutFloatNoise(report.result), null, 2).split("\n")) lines.push(`    ${line}`);
  }
  return `${lines.join("\n")}\n`;
}

interface RunningDocument {
  name: string;
  startedAt: number;
  state: string;
  map?: { startedAt: number; done: number; failed: number; total: number };
}

/**
 * The progress of running documents on stderr: each one's state, batches, its own elapsed time, the inference
 * tokens/s (process-wide: the twin has one inference container) and an estimate of the time left in the Map,
 * from the batches done so far. On a terminal it is one line rewritten in place; otherwise a line per document
 * every `intervalMs`.
 */
export class ProgressReporter {
  private readonly running = new Map<string, RunningDocument>();
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  private lastTokens: { at: number; tokens: number } | undefined;
  private rate: number | undefined;

  constructor(
    private readonly stream: { write(text: string): unknown; isTTY?: boolean },
    private readonly tokens: () => number,
    private readonly intervalMs = stream.isTTY ? 1_000 : 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** A log line that must not be mixed into the progress line. */
  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
  }

  executionStarted(executionArn: string, name: string, startedAt: number): void {
    this.running.set(executionArn, { name, startedAt, state: "started" });
  }

  stateEntered(executionArn: string, state: string): void {
    const document = this.running.get(executionArn);
    if (document) document.state = state;
  }

  mapProgress(executionArn: string, progress: { done: number; failed: number; total: number }): void {
    const document = this.running.get(executionArn);
    if (!document) return;
    document.map = { startedAt: document.map?.startedAt ?? this.now(), ...progress };
  }

  executionFinished(executionArn: string): void {
    this.running.delete(executionArn);
  }

  /** The progress text of each running document (what a tick shows). */
  lines(): string[] {
    const now = this.now();
    const tokens = this.tokens();
    if (this.lastTokens && now > this.lastTokens.at && tokens >= this.lastTokens.tokens) {
      this.rate = ((tokens - this.lastTokens.tokens) * 1000) / (now - this.lastTokens.at);
    }
    this.lastTokens = { at: now, tokens };
    return [...this.running.values()].map((document) => {
      const parts = [`${document.name}: ${document.state}`];
      if (document.map) {
        const { done, failed, total, startedAt } = document.map;
        parts.push(`${done}/${total} batches${failed ? ` (${failed} failed)` : ""}`);
        parts.push(formatDuration(now - document.startedAt));
        if (this.rate !== undefined) parts.push(`${this.rate.toFixed(1)} tokens/s`);
        if (done > 0 && done < total) parts.push(`~${formatDuration(((now - startedAt) * (total - done)) / done)} left`);
        else if (done === 0) parts.push("estimate after the first batch");
      } else {
        parts.push(formatDuration(now - document.startedAt));
      }
      return parts.join(" · ");
    });
  }

  private tick(): void {
    const lines = this.lines();
    if (lines.length === 0) return this.clear();
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[K  ${lines.join("  |  ")}`);
      this.shown = true;
    } else {
      for (const line of lines) this.stream.write(`  … ${line}\n`);
    }
  }

  private clear(): void {
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
  }
}
