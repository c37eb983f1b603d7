import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildDocumentItem, collectMapRunResults } from "../functions/merge/document.ts";
import { mergeChunkResults, mergeRecordResults, mergeValues } from "../functions/merge/merge.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import type { ChunkFailure, ChunkResult, MergeTaskInput } from "../functions/shared/contracts.ts";
import { ResultFormatError, TooManyFailedChunksError } from "../functions/shared/errors.ts";

const schema = getExtractionSchema("generic");
const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(schema);

function chunk(index: number, data: Record<string, unknown>): ChunkResult {
  return { documentId: "d", index, pageStart: index + 1, pageEnd: index + 1, data, modelId: "m", tokensIn: 10, tokensOut: 5, ms: 100 };
}

function generic(overrides: Record<string, unknown>): Record<string, unknown> {
  return { title: null, documentType: "other", summary: "", language: "en", entities: [], dates: [], amounts: [], ...overrides };
}

describe("merging chunk results", () => {
  it("takes scalars from the first chunk that has a value, in chunk order whatever the arrival order", () => {
    const merged = mergeChunkResults(
      [chunk(2, generic({ title: "Third" })), chunk(0, generic({ title: null, summary: "" })), chunk(1, generic({ title: "Second", summary: "S1" }))],
      schema,
    );
    expect(merged.title).toBe("Second");
    expect(merged.summary).toBe("S1");
  });

  it("concatenates arrays in chunk order, drops duplicates and respects maxItems", () => {
    const entities = (n: number, start: number) => Array.from({ length: n }, (_, i) => ({ name: `E${start + i}`, kind: "person" }));
    const merged = mergeChunkResults(
      [chunk(1, generic({ entities: entities(8, 5) })), chunk(0, generic({ entities: entities(8, 0) }))],
      schema,
    );
    const names = (merged.entities as Array<{ name: string }>).map((e) => e.name);
    expect(names).toEqual(["E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11"]);
  });

  it("treats objects with the same fields in another key order as duplicates", () => {
    expect(mergeValues([[{ a: 1, b: 2 }], [{ b: 2, a: 1 }]], { type: "array", items: { type: "object" } })).toEqual([{ a: 1, b: 2 }]);
  });

  it("produces a schema-valid result from schema-valid chunks", () => {
    const merged = mergeChunkResults(
      [
        chunk(0, generic({ title: "T", documentType: "invoice", amounts: [{ value: 5, unit: "EUR", label: "total" }] })),
        chunk(1, generic({ dates: [{ date: "2024-01-01", label: "issued" }] })),
      ],
      schema,
    );
    expect(validate(merged), JSON.stringify(validate.errors)).toBe(true);
    expect(merged.documentType).toBe("invoice");
  });
});

/** Result files exactly as Step Functions' ResultWriter writes them (JSON, no transformation). */
function mapRunFiles(succeeded: Array<{ items: number[]; results: ChunkResult[]; failed?: ChunkFailure[] }>, failed: Array<{ items: number[] }>) {
  const prefix = "map-results/5f2c1a3e-0000-4000-8000-000000000001";
  const record = (items: number[], status: string) => ({
    ExecutionArn: `arn:aws:states:us-east-1:123456789012:execution:wf/ExtractChunks:${items.join("-")}`,
    Input: JSON.stringify({ Items: items.map((index) => ({ documentId: "d", index, pageStart: 1, pageEnd: 1, tokenCount: 3, text: "x" })), BatchInput: { documentId: "d" } }),
    InputDetails: { Included: true },
    Name: items.join("-"),
    RedriveCount: 0,
    StartDate: "2024-05-01T10:00:00.000Z",
    StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:wf/ExtractChunks",
    Status: status,
    StopDate: "2024-05-01T10:01:00.000Z",
  });
  const files: Record<string, string> = {};
  const resultFiles: Record<string, Array<{ Key: string; Size: number }>> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  if (succeeded.length) {
    const body = JSON.stringify(
      succeeded.map((s) => ({ ...record(s.items, "SUCCEEDED"), Output: JSON.stringify({ results: s.results, failed: s.failed ?? [], Items: [] }), OutputDetails: { Included: true } })),
    );
    files[`${prefix}/SUCCEEDED_0.json`] = body;
    resultFiles.SUCCEEDED!.push({ Key: `${prefix}/SUCCEEDED_0.json`, Size: body.length });
  }
  if (failed.length) {
    const body = JSON.stringify(failed.map((f) => ({ ...record(f.items, "FAILED"), Error: "ModelOutputError", Cause: '{"errorMessage":"bad"}' })));
    files[`${prefix}/FAILED_0.json`] = body;
    resultFiles.FAILED!.push({ Key: `${prefix}/FAILED_0.json`, Size: body.length });
  }
  files[`${prefix}/manifest.json`] = JSON.stringify({ DestinationBucket: "bucket", MapRunArn: "arn:aws:states:us-east-1:123456789012:mapRun:wf/ExtractChunks:1", ResultFiles: resultFiles });
  const read = async (bucket: string, key: string) => {
    expect(bucket).toBe("bucket");
    const body = files[key];
    if (body === undefined) throw new Error(`NoSuchKey ${key}`);
    return body;
  };
  return { manifestKey: `${prefix}/manifest.json`, read };
}

function mergeInput(chunkCount: number, toleratedFailurePercentage = 0): MergeTaskInput {
  return {
    toleratedFailurePercentage,
    documentId: "d",
    source: { bucket: "bucket", key: "uploads/a.pdf", etag: "e", size: 5 },
    chunking: { manifest: { bucket: "bucket", key: "chunks/d/manifest.jsonl" }, chunkCount, pageCount: 3, tokenCount: 900, ms: 40 },
    mapRun: { ResultWriterDetails: { Bucket: "bucket", Key: "unused" } },
    execution: { id: "arn:aws:states:us-east-1:123456789012:execution:wf:x", startTime: "2024-05-01T10:00:00.000Z" },
  };
}

describe("reading a Map Run's results and building the document item", () => {
  it("is COMPLETED when every chunk has a result, with counts, timings and model id", async () => {
    const files = mapRunFiles(
      [
        { items: [0, 1], results: [chunk(0, generic({ title: "A" })), chunk(1, generic({}))] },
        { items: [2], results: [chunk(2, generic({ title: "C" }))] },
      ],
      [],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const item = buildDocumentItem({ input: mergeInput(3), collected, schema, schemaId: "generic", now: new Date("2024-05-01T10:02:00.000Z") });
    expect(item.status).toBe("COMPLETED");
    expect(item.chunks).toEqual({ total: 3, succeeded: 3, failed: 0 });
    expect(item.result?.title).toBe("A");
    expect(item.modelId).toBe("m");
    expect(item.timings).toMatchObject({ totalMs: 120_000, chunkingMs: 40, inferenceMs: 300 });
    expect(item.failedChunks).toBeUndefined();
    expect(validate(item.result)).toBe(true);
  });

  it("is PARTIAL, naming the failed chunks and their error, when a batch failed within the tolerance", async () => {
    const files = mapRunFiles([{ items: [0], results: [chunk(0, generic({ title: "A" }))] }], [{ items: [1, 2] }]);
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    expect(() => buildDocumentItem({ input: mergeInput(3, 66), collected, schema, schemaId: "generic", now: new Date() })).toThrow(
      TooManyFailedChunksError,
    );
    const item = buildDocumentItem({ input: mergeInput(3, 67), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.status).toBe("PARTIAL");
    expect(item.chunks).toEqual({ total: 3, succeeded: 1, failed: 2 });
    expect(item.failedChunks).toEqual([
      { index: 1, error: "ModelOutputError", cause: '{"errorMessage":"bad"}' },
      { index: 2, error: "ModelOutputError", cause: '{"errorMessage":"bad"}' },
    ]);
  });

  it("counts chunks the inference function gave up on, and a split chunk by its parts", async () => {
    const part = (index: number, p: string, title: string): ChunkResult => ({ ...chunk(index, generic({ title })), part: p });
    const files = mapRunFiles(
      [
        {
          items: [0, 1],
          // Chunk 0 was split; its second half was split again. Parts arrive in any order.
          results: [part(0, "2.2", "Z"), part(0, "1", "first half"), part(0, "2.1", "Y"), chunk(1, generic({ title: "B" }))],
        },
        {
          items: [2, 3],
          results: [part(2, "1", "C1")],
          failed: [
            { documentId: "d", index: 2, part: "2", error: "OutputTruncated", cause: "cap" },
            { documentId: "d", index: 3, error: "ModelOutputError", cause: "not JSON" },
          ],
        },
      ],
      [],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const item = buildDocumentItem({ input: mergeInput(4, 50), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.status).toBe("PARTIAL");
    expect(item.chunks).toEqual({ total: 4, succeeded: 2, failed: 2 });
    expect(item.failedChunks).toEqual([
      { index: 2, part: "2", error: "OutputTruncated", cause: "cap" },
      { index: 3, error: "ModelOutputError", cause: "not JSON" },
    ]);
    // Scalars keep the first value in document order: part 1 of chunk 0 comes before parts 2.1 and 2.2.
    expect(item.result?.title).toBe("first half");
  });

  it("refuses to write a result when no chunk succeeded or a chunk appears twice", async () => {
    const none = mapRunFiles([], [{ items: [0] }]);
    const collected = await collectMapRunResults("bucket", none.manifestKey, none.read);
    expect(() => buildDocumentItem({ input: mergeInput(1, 100), collected, schema, schemaId: "generic", now: new Date() })).toThrow(
      TooManyFailedChunksError,
    );
    const twice = mapRunFiles([{ items: [0], results: [chunk(0, generic({}))] }, { items: [0], results: [chunk(0, generic({}))] }], []);
    const dup = await collectMapRunResults("bucket", twice.manifestKey, twice.read);
    expect(() => buildDocumentItem({ input: mergeInput(1), collected: dup, schema, schemaId: "generic", now: new Date() })).toThrow(/more than once/);
  });

  it("merges a record batch per record, never across records", async () => {
    const rec = (index: number, recordId: string, data: Record<string, unknown>): ChunkResult => ({ ...chunk(index, data), recordId });
    const files = mapRunFiles(
      [
        { items: [2, 3], results: [rec(2, "b", generic({ title: "B" })), rec(3, "c", generic({ title: "C" }))] },
        { items: [0, 1], results: [rec(0, "a", generic({ title: null })), rec(1, "a", generic({ title: "A from chunk 2" }))] },
      ],
      [],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const item = buildDocumentItem({ input: mergeInput(4), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.status).toBe("COMPLETED");
    const records = item.result?.records as Array<{ recordId: string; data: Record<string, unknown> }>;
    expect(records.map((r) => [r.recordId, r.data.title])).toEqual([
      ["a", "A from chunk 2"],
      ["b", "B"],
      ["c", "C"],
    ]);
    for (const record of records) expect(validate(record.data)).toBe(true);
    expect(() => mergeRecordResults([chunk(0, generic({}))], schema)).toThrow(/no recordId/);
  });

  it("reports malformed result files as ResultFormatError", async () => {
    await expect(collectMapRunResults("bucket", "m", async () => "not json")).rejects.toThrow(ResultFormatError);
    await expect(collectMapRunResults("bucket", "m", async () => "{}")).rejects.toThrow(/ResultFiles/);
  });
});
