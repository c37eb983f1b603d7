import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildDocumentItems, collectMapRunResults } from "../../functions/merge/document.ts";
import { mergeChunkResults, mergeRecordResults } from "../../functions/merge/merge.ts";
import { assertValidResult } from "../../functions/merge/result-validation.ts";
import { extractionSchemaProblems, getExtractionSchema } from "../../functions/schemas/index.ts";
import type { ChunkFailure, ChunkResult, MergeTaskInput } from "../../functions/shared/contracts.ts";
import { ResultFormatError, ResultInvalidError } from "../../functions/shared/errors.ts";
import { chunkResult, genericData, mergeTaskInput } from "../helpers/chunk-items.ts";
import { mergeAnnotationProblems } from "../../functions/shared/merge-keywords.ts";

const schema = getExtractionSchema("generic");
const validate = new Ajv2020.default({ allErrors: true, strict: false }).compile(schema);

const chunk = (index: number, data: Record<string, unknown>): ChunkResult => chunkResult({ index, data });

const mergedValue = (results: ChunkResult[]) => mergeChunkResults(results, schema).value;

describe("merging chunk results", () => {
  it("takes scalars from the first chunk that has a value, in chunk order whatever the arrival order", () => {
    const merged = mergedValue([
      chunk(2, genericData({ title: "Third" })),
      chunk(0, genericData({ title: null, summary: "" })),
      chunk(1, genericData({ title: "Second", summary: "S1" })),
    ]);
    expect(merged.title).toBe("Second");
    expect(merged.summary).toBe("S1");
  });

  it("unites arrays in chunk order, drops duplicates by the schema's x-merge-key and respects maxItems, recording the cut", () => {
    const entities = (n: number, start: number) => Array.from({ length: n }, (_, i) => ({ name: `E${start + i}`, kind: "person" }));
    const { value, conflicts, provenance } = mergeChunkResults(
      [chunk(1, genericData({ entities: entities(8, 5) })), chunk(0, genericData({ entities: entities(8, 0) }))],
      schema,
    );
    const names = (value.entities as Array<{ name: string }>).map((e) => e.name);
    expect(names).toEqual(["E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11"]);
    // E5..E7 are in both chunks; E12 was cut by maxItems 12, and says so.
    expect(provenance["entities[5]"]).toEqual({ chunks: [0, 1], pages: [{ start: 1, end: 2 }] });
    expect(provenance["entities[11]"]).toEqual({ chunks: [1], pages: [{ start: 2, end: 2 }] });
    expect(conflicts).toEqual([
      { path: "entities", strategy: "union", reason: "over-limit", chosen: 12, candidates: [{ value: { name: "E12", kind: "person" }, chunks: [1] }] },
    ]);
  });

  it("treats objects with the same fields in another key order as duplicates", () => {
    const list = { type: "array", maxItems: 5, items: { type: "object" } };
    const wrap = (items: unknown[], index: number) => ({ ...chunk(index, {}), data: { list: items } });
    const { value } = mergeChunkResults([wrap([{ a: 1, b: 2 }], 0), wrap([{ b: 2, a: 1 }], 1)], { type: "object", properties: { list } });
    expect(value.list).toEqual([{ a: 1, b: 2 }]);
  });

  it("produces a schema-valid result from schema-valid chunks", () => {
    const merged = mergedValue([
      chunk(0, genericData({ title: "T", documentType: "invoice", amounts: [{ value: 5, unit: "EUR", label: "total" }] })),
      chunk(1, genericData({ dates: [{ date: "2024-01-01", label: "issued" }] })),
    ]);
    expect(validate(merged), JSON.stringify(validate.errors)).toBe(true);
    expect(merged.documentType).toBe("invoice");
  });
});

describe("merge strategies (x-merge), provenance and conflicts", () => {
  const numbers = { type: ["number", "null"] };
  const strategySchema = {
    type: "object",
    properties: {
      first: { type: ["string", "null"] },
      last: { type: ["string", "null"], "x-merge": "last" },
      vote: { enum: ["a", "b", "c"], "x-merge": "vote" },
      sum: { ...numbers, "x-merge": "sum" },
      max: { ...numbers, "x-merge": "max" },
      min: { ...numbers, "x-merge": "min" },
      notes: { type: "string", maxLength: 12, "x-merge": "concat" },
      tags: { type: "array", maxItems: 10, items: { type: "string" }, "x-merge": "concat" },
      lines: {
        type: "array",
        maxItems: 10,
        "x-merge-key": "sku",
        items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "number" } } },
      },
    },
  };
  const at = (index: number, data: Record<string, unknown>, pages: [number, number] = [index + 1, index + 1]): ChunkResult => ({
    ...chunk(index, data),
    pageStart: pages[0],
    pageEnd: pages[1],
  });
  const results = [
    at(0, { first: null, last: "L0", vote: "a", sum: 1.1, max: 3, min: 3, notes: "one", tags: ["x"], lines: [{ sku: "A", qty: 1 }] }, [1, 2]),
    at(1, { first: "F1", last: null, vote: "b", sum: 2.2, max: 9, min: null, notes: "", tags: ["x", "y"], lines: [{ sku: "A", qty: 2 }, { sku: "B", qty: 1 }] }, [2, 3]),
    at(2, { first: "F2", last: "L2", vote: "b", sum: null, max: 5, min: 2, notes: "two three", tags: [], lines: [{ sku: "B", qty: 1 }] }, [5, 5]),
  ];

  it("applies each declared strategy in page order", () => {
    const { value } = mergeChunkResults([...results].reverse(), strategySchema);
    expect(value).toEqual({
      first: "F1",
      last: "L2",
      vote: "b",
      sum: 3.3,
      max: 9,
      min: 2,
      notes: "one\ntwo thre",
      tags: ["x", "x", "y"],
      lines: [{ sku: "A", qty: 1 }, { sku: "B", qty: 1 }],
    });
  });

  it("records the chunks and merged page ranges behind every value", () => {
    const { provenance } = mergeChunkResults(results, strategySchema);
    expect(provenance.first).toEqual({ chunks: [1], pages: [{ start: 2, end: 3 }] });
    expect(provenance.vote).toEqual({ chunks: [1, 2], pages: [{ start: 2, end: 3 }, { start: 5, end: 5 }] });
    expect(provenance.sum).toEqual({ chunks: [0, 1], pages: [{ start: 1, end: 3 }] });
    expect(provenance["lines[0]"]).toEqual({ chunks: [0, 1], pages: [{ start: 1, end: 3 }] });
    expect(provenance["lines[1]"]).toEqual({ chunks: [1, 2], pages: [{ start: 2, end: 3 }, { start: 5, end: 5 }] });
    expect(provenance["tags[2]"]).toEqual({ chunks: [1], pages: [{ start: 2, end: 3 }] });
  });

  it("keeps disagreements as conflicts instead of dropping them", () => {
    const { conflicts } = mergeChunkResults(results, strategySchema);
    const byPath = Object.fromEntries(conflicts.map((c) => [c.path, c]));
    expect(byPath.first).toEqual({
      path: "first", strategy: "first", reason: "disagreement", chosen: "F1",
      candidates: [{ value: "F1", chunks: [1] }, { value: "F2", chunks: [2] }],
    });
    expect(byPath.vote?.candidates).toEqual([{ value: "a", chunks: [0] }, { value: "b", chunks: [1, 2] }]);
    expect(byPath.max?.chosen).toBe(9);
    expect(byPath["lines[0]"]).toMatchObject({ reason: "key-collision", chosen: { sku: "A", qty: 1 } });
    expect(byPath["lines[0]"]?.candidates).toEqual([{ value: { sku: "A", qty: 1 }, chunks: [0] }, { value: { sku: "A", qty: 2 }, chunks: [1] }]);
    expect(byPath.notes).toMatchObject({ reason: "over-limit", chosen: "one\ntwo thre", candidates: [{ value: "e", chunks: [0, 2] }] });
    // Sums and agreeing chunks are not conflicts.
    expect(byPath.sum).toBeUndefined();
    expect(byPath["lines[1]"]).toBeUndefined();
  });

  it("gives empty fields no provenance and null (or the type's empty value) as their value", () => {
    const { value, provenance, conflicts } = mergeChunkResults([at(0, {}), at(1, { first: "" })], strategySchema);
    expect(value).toMatchObject({ first: null, sum: null, lines: [], tags: [] });
    expect(Object.keys(provenance)).toEqual([]);
    expect(conflicts).toEqual([]);
  });

  it("finds strategies that do not fit their field, unknown strategies and bad keys", () => {
    expect(mergeAnnotationProblems(strategySchema)).toEqual([]);
    const bad = {
      type: "object",
      properties: {
        a: { type: "string", "x-merge": "sum" },
        b: { type: "string", "x-merge": "union" },
        c: { type: "number", "x-merge": "average" },
        d: { type: "array", "x-merge-key": "nope", items: { type: "object", properties: { sku: { type: "string" } } } },
      },
    };
    expect(mergeAnnotationProblems(bad)).toEqual([
      "$.a: sum needs a number",
      "$.b: union needs an array",
      '$.c: x-merge "average" is not one of first, last, concat, union, sum, max, min, vote',
      '$.d: x-merge-key "nope" must name fields of the list\'s items (sku)',
    ]);
    expect(extractionSchemaProblems()).toEqual([]);
  });

  it("validates merged results with ajv and names what is wrong", () => {
    expect(() => assertValidResult(genericData({}), schema, "generic")).not.toThrow();
    expect(() => assertValidResult(genericData({ documentType: "poem" }), schema, "generic")).toThrow(ResultInvalidError);
    expect(() => assertValidResult({ title: "x" }, schema, "generic")).toThrow(/must have required property/);
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

const buildItem = (args: Parameters<typeof buildDocumentItems>[0]) => buildDocumentItems(args).item;

const mergeInput = (chunkCount: number, toleratedFailurePercentage = 0): MergeTaskInput =>
  mergeTaskInput({ chunking: { chunkCount }, toleratedFailurePercentage });

describe("reading a Map Run's results and building the document item", () => {
  it("is COMPLETED when every chunk has a result, with counts, timings and model id", async () => {
    const files = mapRunFiles(
      [
        { items: [0, 1], results: [chunk(0, genericData({ title: "A" })), chunk(1, genericData({}))] },
        { items: [2], results: [chunk(2, genericData({ title: "C" }))] },
      ],
      [],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const item = buildItem({ input: mergeInput(3), collected, schema, schemaId: "generic", now: new Date("2024-05-01T10:02:00.000Z") });
    expect(item.status).toBe("COMPLETED");
    expect(item.chunks).toEqual({ total: 3, succeeded: 3, failed: 0 });
    expect(item.result?.title).toBe("A");
    expect(item.modelId).toBe("m");
    expect(item.timings).toMatchObject({ totalMs: 120_000, chunkingMs: 40, inferenceMs: 300 });
    expect(item.failedChunks).toBeUndefined();
    expect(validate(item.result)).toBe(true);
  });

  it("is PARTIAL, naming the failed chunks and their error, when a batch failed within the tolerance", async () => {
    const files = mapRunFiles([{ items: [0], results: [chunk(0, genericData({ title: "A" }))] }], [{ items: [1, 2] }]);
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const failed = buildItem({ input: mergeInput(3, 66), collected, schema, schemaId: "generic", now: new Date() });
    expect(failed).toMatchObject({ status: "FAILED", error: "TooManyFailedChunks", chunks: { total: 3, succeeded: 1, failed: 2 } });
    expect(failed.cause).toMatch(/2 of the document's 3 chunks failed, more than the tolerated 66%; first: chunk 1: ModelOutputError/);
    expect(failed.failedChunks).toHaveLength(2);
    expect(failed.result).toBeUndefined();
    const item = buildItem({ input: mergeInput(3, 67), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.status).toBe("PARTIAL");
    expect(item.chunks).toEqual({ total: 3, succeeded: 1, failed: 2 });
    expect(item.failedChunks).toEqual([
      { index: 1, error: "ModelOutputError", cause: '{"errorMessage":"bad"}' },
      { index: 2, error: "ModelOutputError", cause: '{"errorMessage":"bad"}' },
    ]);
  });

  it("counts chunks the inference function gave up on, and a split chunk by its parts", async () => {
    const part = (index: number, p: string, title: string): ChunkResult => ({ ...chunk(index, genericData({ title })), part: p });
    const files = mapRunFiles(
      [
        {
          items: [0, 1],
          // Chunk 0 was split; its second half was split again. Parts arrive in any order.
          results: [part(0, "2.2", "Z"), part(0, "1", "first half"), part(0, "2.1", "Y"), chunk(1, genericData({ title: "B" }))],
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
    const item = buildItem({ input: mergeInput(4, 50), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.status).toBe("PARTIAL");
    expect(item.chunks).toEqual({ total: 4, succeeded: 2, failed: 2 });
    expect(item.failedChunks).toEqual([
      { index: 2, part: "2", error: "OutputTruncated", cause: "cap" },
      { index: 3, error: "ModelOutputError", cause: "not JSON" },
    ]);
    // Scalars keep the first value in document order: part 1 of chunk 0 comes before parts 2.1 and 2.2.
    expect(item.result?.title).toBe("first half");
  });

  it("writes no result when no chunk succeeded, and refuses results with a chunk twice", async () => {
    const none = mapRunFiles([], [{ items: [0] }]);
    const collected = await collectMapRunResults("bucket", none.manifestKey, none.read);
    expect(buildItem({ input: mergeInput(1, 100), collected, schema, schemaId: "generic", now: new Date() })).toMatchObject({
      status: "FAILED",
      error: "TooManyFailedChunks",
    });
    // Two different child executions answering for chunk 0: a bug upstream, never silently merged.
    const twice = mapRunFiles([{ items: [0], results: [chunk(0, genericData({}))] }, { items: [0, 1], results: [chunk(0, genericData({}))] }], []);
    const dup = await collectMapRunResults("bucket", twice.manifestKey, twice.read);
    expect(() => buildItem({ input: mergeInput(1), collected: dup, schema, schemaId: "generic", now: new Date() })).toThrow(/more than once/);
  });

  it("counts a redriven child execution once: its success wins over its earlier failure", async () => {
    // After a Map Run redrive, the child of batch [1, 2] (same ARN) may be listed as failed and as succeeded.
    const files = mapRunFiles(
      [
        { items: [0], results: [chunk(0, genericData({ title: "A" }))] },
        { items: [1, 2], results: [chunk(1, genericData({})), chunk(2, genericData({}))] },
        { items: [1, 2], results: [chunk(1, genericData({})), chunk(2, genericData({}))] },
      ],
      [{ items: [1, 2] }, { items: [3] }, { items: [3] }],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    expect(collected.results.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(collected.failedChunks.map((f) => f.index)).toEqual([3]);
    const item = buildItem({ input: mergeInput(4, 50), collected, schema, schemaId: "generic", now: new Date() });
    expect(item.chunks).toEqual({ total: 4, succeeded: 3, failed: 1 });
  });

  it("gives a record batch one item per record, merged per record, and a batch item with counts per status", async () => {
    const rec = (index: number, recordId: string, data: Record<string, unknown>): ChunkResult => ({ ...chunk(index, data), recordId, pageStart: 1, pageEnd: 1 });
    const files = mapRunFiles(
      [
        { items: [2, 3], results: [rec(2, "b", genericData({ title: "B" })), rec(3, "c", genericData({ title: "C" }))] },
        {
          items: [0, 1, 4, 5],
          results: [rec(0, "a", genericData({ title: null })), rec(1, "a", genericData({ title: "A from chunk 2" })), rec(4, "d", genericData({ title: "D" }))],
          failed: [
            { documentId: "d", index: 5, recordId: "d", error: "OutputTruncated", cause: "cap" },
            { documentId: "d", index: 6, recordId: "e", error: "ModelOutputError", cause: "not JSON" },
          ],
        },
      ],
      [],
    );
    const collected = await collectMapRunResults("bucket", files.manifestKey, files.read);
    const input = { ...mergeInput(7, 50), chunking: { ...mergeInput(7).chunking, recordCount: 6, pageCount: 6 } };
    const { item, records } = buildDocumentItems({ input, collected, schema, schemaId: "generic", now: new Date() });
    expect(item).toMatchObject({ kind: "batch", status: "PARTIAL", records: { total: 6, completed: 3, partial: 1, failed: 2 } });
    expect(item.result).toBeUndefined();
    expect(records.map((r) => [r.documentId, r.recordId, r.status, r.result?.title ?? null])).toEqual([
      ["d#a", "a", "COMPLETED", "A from chunk 2"],
      ["d#b", "b", "COMPLETED", "B"],
      ["d#c", "c", "COMPLETED", "C"],
      ["d#d", "d", "PARTIAL", "D"],
      ["d#e", "e", "FAILED", null],
    ]);
    const byId = Object.fromEntries(records.map((r) => [r.recordId, r]));
    expect(byId.a).toMatchObject({ kind: "record", batchId: "d", chunks: { total: 2, succeeded: 2, failed: 0 } });
    expect(byId.a!.provenance?.title).toEqual({ chunks: [1], pages: [{ start: 1, end: 1 }] });
    expect(byId.d!.failedChunks).toEqual([{ index: 5, recordId: "d", error: "OutputTruncated", cause: "cap" }]);
    expect(byId.e).toMatchObject({ error: "ModelOutputError", cause: "not JSON", chunks: { total: 1, succeeded: 0, failed: 1 } });
    for (const record of records) if (record.result) expect(validate(record.result)).toBe(true);
    expect(() => mergeRecordResults([chunk(0, genericData({}))], schema)).toThrow(/no recordId/);
  });


  it("reports malformed result files as ResultFormatError", async () => {
    await expect(collectMapRunResults("bucket", "m", async () => "not json")).rejects.toThrow(ResultFormatError);
    await expect(collectMapRunResults("bucket", "m", async () => "{}")).rejects.toThrow(/ResultFiles/);
  });
});
