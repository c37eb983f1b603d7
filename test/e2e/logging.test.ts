import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LocalTwin } from "../../infra/local/twin.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * What the handlers log while a document goes through the twin at INFO: JSON lines with the correlation keys
 * (document, execution, chunk), and never the document's text. Everything the process writes to stdout and stderr
 * while the document runs is captured (the logger writes INFO to stdout, WARN and ERROR to stderr); metrics are
 * recorded but, on the twin, not printed as EMF.
 */

const savedLogLevel = process.env.POWERTOOLS_LOG_LEVEL;
process.env.POWERTOOLS_LOG_LEVEL = "INFO";

/** A sentence no log line has any reason to contain, among ordinary paragraphs: several chunks at the fixture's 60 tokens. */
const secretSentence = "Ottoline Vasquez-Brandauer wired 91,406.27 kroner to Quillfeather Orchards under contract QX-7734.";
const documentText = [
  "Quarterly statement of the Brackenridge cooperative, prepared for the members' assembly in the spring.",
  `${secretSentence} The transfer settled the outstanding balance for the orchard equipment lease.`,
  "The assembly approved the new irrigation budget and deferred the vote on the cold storage extension.",
  "Membership grew by eleven households; the treasurer reported no arrears beyond the usual thirty days.",
].join("\n\n");

/** Every substring of `text` of `length` characters. */
function windows(text: string, length: number): Set<string> {
  const all = new Set<string>();
  for (let i = 0; i + length <= text.length; i++) all.add(text.slice(i, i + length));
  return all;
}

/** The first substring of `output` of `length` characters that is also one of `text`'s, if any. */
function sharedSubstring(output: string, text: Set<string>, length: number): string | undefined {
  for (let i = 0; i + length <= output.length; i++) {
    const piece = output.slice(i, i + length);
    if (text.has(piece)) return piece;
  }
  return undefined;
}

/** All string values of a parsed JSON line, nested ones included (JSON escapes undone). */
function stringsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(stringsOf);
  return [];
}

type LogLine = Record<string, unknown> & { level?: string; message?: string };

describe("logs on the twin", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;
  let metrics: typeof import("../../functions/shared/metrics.ts").metrics;
  let MetricNames: typeof import("../../functions/shared/metrics.ts").MetricNames;

  beforeAll(async () => {
    fixture = await startTestTwin();
    twin = fixture.twin;
    // Imported after the twin has set the handlers' environment, as the handlers are (on their first invocation).
    ({ metrics, MetricNames } = await import("../../functions/shared/metrics.ts"));
    const { logger } = await import("../../functions/shared/logger.ts");
    logger.setLogLevel("INFO");
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
    if (savedLogLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = savedLogLevel;
  }, 60_000);

  it("logs each step of a document at INFO with its correlation keys, and no document text anywhere", async () => {
    const written: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      written.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
    const recorded = vi.spyOn(metrics, "addMetric");
    const published = vi.spyOn(metrics, "publishStoredMetrics");
    let documentId: string;
    let item: Awaited<ReturnType<LocalTwin["waitForDocument"]>>;
    try {
      ({ documentId } = await twin.uploadBytes(new TextEncoder().encode(documentText), "uploads/e2e/statement.txt"));
      item = await twin.waitForDocument(documentId);
      await twin.streamSettled(); // the example consumer logs the finished document
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(item?.status, JSON.stringify(item)).toBe("COMPLETED");
    const chunkCount = item!.chunks!.total;
    expect(chunkCount).toBeGreaterThan(1);
    const [execution] = twin.stepFunctions.executions().filter((e) => e.input.includes(documentId));
    const executionArn = execution!.executionArn;

    // Something was captured, so the checks below can fail.
    const output = written.join("");
    const lines = output.split("\n").filter((line) => line.trim() !== "");
    const json = lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as LogLine);
    const info = json.filter((line) => line.level === "INFO");
    const byMessage = (message: string) => info.filter((line) => line.message === message);
    for (const message of ["Started document workflow", "Document chunked", "Model loaded", "Chunk extracted", "Document merged", "Document ready"]) {
      expect(byMessage(message).length, `INFO "${message}" in:\n${lines.join("\n")}`).toBeGreaterThan(0);
    }

    // Correlation keys: every INFO line about the document names it (the model's load belongs to the container's init).
    for (const line of info.filter((l) => l.message !== "Model loaded")) {
      expect(line.document, JSON.stringify(line)).toBe(documentId);
      expect(line.service).toBe("llambda");
    }
    // Every function logs the execution by its ARN (the workflow passes it to chunk and infer).
    for (const message of ["Started document workflow", "Document chunked", "Chunk extracted", "Document merged", "Document ready"]) {
      expect(byMessage(message).length, message).toBeGreaterThan(0);
      for (const line of byMessage(message)) expect(line.execution, message).toBe(executionArn);
    }
    // The chunk: a "Chunk extracted" line for every chunk, with its index.
    const extracted = new Set(byMessage("Chunk extracted").map((line) => line.chunk as number));
    expect([...extracted].sort((a, b) => a - b)).toEqual(Array.from({ length: chunkCount }, (_, i) => i));

    // No document text: not the sentence, not any 20 characters of the document, raw or JSON-decoded.
    const documentWindows = windows(documentText, 20);
    expect(output).not.toContain("Vasquez-Brandauer");
    expect(sharedSubstring(output, documentWindows, 20)).toBeUndefined();
    for (const line of json) {
      for (const value of stringsOf(line)) expect(sharedSubstring(value, documentWindows, 20), JSON.stringify(line)).toBeUndefined();
    }

    // Metrics were recorded with llambda's names and flushed, but the twin prints no EMF blob.
    const names = new Set(recorded.mock.calls.map(([name]) => name));
    for (const name of [
      MetricNames.chunkTokensIn,
      MetricNames.chunkTokensOut,
      MetricNames.chunkDuration,
      MetricNames.chunksSucceeded,
      MetricNames.chunksFailed,
      MetricNames.modelInitDuration,
      MetricNames.documentPages,
      MetricNames.documentChunks,
      MetricNames.documentChunkingDuration,
    ]) {
      expect(names, name).toContain(name);
    }
    for (const name of names) expect(Object.values(MetricNames)).toContain(name);
    expect(published).toHaveBeenCalled();
    expect(lines.filter((line) => line.includes('"_aws"'))).toEqual([]);
  }, 300_000);
});
