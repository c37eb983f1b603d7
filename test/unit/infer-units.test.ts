import { describe, expect, it } from "vitest";
import { extractBatch, parseInferBatchInput, type ChunkExtractor } from "../../functions/infer/extract-batch.ts";
import { parseModelAnswer, sanitizeModelValue } from "../../functions/infer/model-output.ts";
import { buildDocumentItems, collectMapRunResults } from "../../functions/merge/document.ts";
import { buildSystemPrompt, buildUserPrompt, describeFields } from "../../functions/infer/prompt.ts";
import { readInferConfig } from "../../functions/infer/config.ts";
import { inferenceThreads } from "../../functions/infer/threads.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { ConfigurationError, ModelOutputError } from "../../functions/shared/errors.ts";
import { chunkItem, mergeTaskInput } from "../helpers/chunk-items.ts";

describe("inference threads", () => {
  it("derive from Lambda memory at 1,769 MB per vCPU", () => {
    expect(inferenceThreads({ lambdaMemoryMb: 10240, availableCores: 6 })).toBe(5);
    expect(inferenceThreads({ lambdaMemoryMb: 1769, availableCores: 6 })).toBe(1);
    expect(inferenceThreads({ lambdaMemoryMb: 512, availableCores: 6 })).toBe(1);
  });

  it("never exceed the available cores, whatever is configured", () => {
    expect(inferenceThreads({ configured: 16, availableCores: 2 })).toBe(2);
    expect(inferenceThreads({ lambdaMemoryMb: 10240, availableCores: 2 })).toBe(2);
    expect(inferenceThreads({ availableCores: 3 })).toBe(3);
    expect(inferenceThreads({ configured: 1, lambdaMemoryMb: 10240, availableCores: 6 })).toBe(1);
  });
});

describe("model output sanitizing", () => {
  const schema = getExtractionSchema("generic");

  it("keeps ordinary values", () => {
    const value = { title: "A", amounts: [{ value: 12.5, unit: "EUR", label: "total" }] };
    expect(sanitizeModelValue(value, schema)).toEqual(value);
  });

  it("turns numbers JSON or DynamoDB cannot hold into null where the schema allows null", () => {
    const value = { amounts: [{ value: Infinity }, { value: 1e200 }, { value: -1e-200 }, { value: 0 }] };
    expect(sanitizeModelValue(value, schema)).toEqual({ amounts: [{ value: null }, { value: null }, { value: null }, { value: 0 }] });
  });

  it("rejects such numbers where the schema does not allow null", () => {
    expect(() => sanitizeModelValue({ n: Infinity }, { type: "object", properties: { n: { type: "number" } } })).toThrow(ModelOutputError);
  });
});

describe("a model answer that quotes the document never reaches a failure's cause", () => {
  const schema = getExtractionSchema("generic");
  /** Document text the model's answer quotes: a name, and an amount as the answer wrote it. */
  const marker = "QUENTIN-7731";
  const markedNumber = 7.31e200;
  // JSON.parse's message quotes only the text near the error, cut short: look for the start of the marker.
  const quotes = (text: string) => text.includes(marker.slice(0, 7)) || text.includes(String(markedNumber));
  /** How the inference function's schema check words a value it refuses (node-llama-cpp's validator quotes it). */
  const refuseValue = (text: string) => {
    const value = (JSON.parse(text) as { documentType: unknown }).documentType;
    throw new Error(`Expected one of ["invoice", "letter", "other"] but got ${JSON.stringify(value)}`);
  };
  const errorOf = (answer: () => unknown): Error => {
    try {
      answer();
    } catch (error) {
      return error as Error;
    }
    throw new Error("the answer was accepted");
  };
  const refused = [
    // Not JSON: JSON.parse's message quotes the text around the error.
    errorOf(() => parseModelAnswer(`{"title": ${marker}}`, JSON.parse, schema)),
    // Valid JSON the schema refuses.
    errorOf(() => parseModelAnswer(JSON.stringify(genericDataWith({ documentType: marker })), refuseValue, schema)),
    // A number storage cannot hold, under a key the model chose and where the schema does not allow null.
    errorOf(() => parseModelAnswer(`{"${marker}": 1e999}`, JSON.parse, { type: "object", additionalProperties: { type: "number" } })),
    errorOf(() => sanitizeModelValue({ total: markedNumber }, { type: "object", properties: { total: { type: "number", maximum: 1e300 } } })),
  ];

  it("the errors say what was wrong with the answer, not what it said", () => {
    for (const error of refused) expect(error).toBeInstanceOf(ModelOutputError);
    expect(refused.map((error) => error.message).filter(quotes)).toEqual([]);
  });

  it("neither the chunks' failure records, the item's failed chunks nor its cause quote the answer", async () => {
    const engine: ChunkExtractor = { extractAll: async (chunks) => chunks.map((_, i) => ({ ok: false, error: refused[i]! })) };
    const items = refused.map((_, index) => chunkItem({ index, text: `Invoice for ${marker}` }));
    const output = await extractBatch({ Items: items }, { engine, modelId: "m", deadline: { at: Date.now() + 60_000, freshBudgetMs: 60_000 } });
    expect(output.failed.map((failure) => failure.error)).toEqual(refused.map(() => "ModelOutputError"));
    expect(output.failed.map((failure) => failure.cause).filter(quotes)).toEqual([]);

    // The merge reads them from the Map Run's results, as the workflow writes them, and records them on the item.
    const objects = new Map<string, string>([
      ["manifest.json", JSON.stringify({ DestinationBucket: "bucket", ResultFiles: { SUCCEEDED: [{ Key: "SUCCEEDED_0.json" }] } })],
      ["SUCCEEDED_0.json", JSON.stringify([{ ExecutionArn: "child-1", Input: JSON.stringify({ Items: items }), Output: JSON.stringify(output), Status: "SUCCEEDED" }])],
    ]);
    const collected = await collectMapRunResults("bucket", "manifest.json", async (_bucket, key) => objects.get(key)!);
    const { item } = buildDocumentItems({
      input: mergeTaskInput({ documentId: "doc-1", chunking: { chunkCount: refused.length } }),
      collected,
      schema,
      schemaId: "generic",
      now: new Date(),
    });
    expect(item).toMatchObject({ status: "FAILED", error: "TooManyFailedChunks", chunks: { failed: refused.length } });
    expect(item.failedChunks).toHaveLength(refused.length);
    // The cause is also the execution's Fail cause (the workflow's "Document failed" state reads it from the merge).
    expect(quotes(JSON.stringify(item)), JSON.stringify({ cause: item.cause, failedChunks: item.failedChunks })).toBe(false);
  });
});

/** A generic-schema answer with the given fields. */
function genericDataWith(fields: Record<string, unknown>): Record<string, unknown> {
  return { title: null, documentType: "other", summary: "", language: "en", entities: [], dates: [], amounts: [], ...fields };
}

describe("prompts", () => {
  const schema = getExtractionSchema("generic");

  it("describe every schema field, nested ones included", () => {
    const lines = describeFields(schema).join("\n");
    for (const field of ["title", "documentType", "summary", "entities[].name", "dates[].date", "amounts[].value"]) {
      expect(lines).toContain(`- ${field} (`);
    }
    expect(lines).toContain('"invoice"');
  });

  it("keep the system prompt independent of the chunk (so its KV cache is reused) and put the chunk in the user turn", () => {
    const system = buildSystemPrompt(schema);
    const user = buildUserPrompt({ text: "Hello world", pageStart: 2, pageEnd: 3 });
    expect(system).not.toContain("Hello world");
    expect(user).toContain("Hello world");
    expect(user).toContain("pages 2-3");
    expect(buildUserPrompt({ text: "x", pageStart: 4, pageEnd: 4 })).toContain("page 4");
  });
});

describe("inference configuration", () => {
  const base = { [EnvNames.modelPath]: "/opt/llambda/model.gguf" };

  it("defaults: one sequence and context, a 10 s deadline margin, no LoRA, memory from Lambda's setting", () => {
    const config = readInferConfig({ ...base, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "10240" });
    expect(config).toMatchObject({ modelId: "model", parallelSequences: 1, contexts: 1, deadlineMarginMs: 10_000, memoryBytes: 10240 * 2 ** 20 });
    expect(config.loraPath).toBeUndefined();
  });

  it("reads the stack's settings, and refuses a bad LoRA scale at init", () => {
    const config = readInferConfig({
      ...base,
      [EnvNames.parallelSequences]: "4",
      [EnvNames.inferContexts]: "2",
      [EnvNames.deadlineMarginMs]: "2500",
      [EnvNames.loraPath]: "/opt/llambda/lora.gguf",
      [EnvNames.loraScale]: "0.5",
    });
    expect(config).toMatchObject({ parallelSequences: 4, contexts: 2, deadlineMarginMs: 2500, loraPath: "/opt/llambda/lora.gguf", loraScale: 0.5 });
    expect(() => readInferConfig({ ...base, [EnvNames.loraPath]: "/x.gguf", [EnvNames.loraScale]: "lots" })).toThrow(ConfigurationError);
    expect(() => readInferConfig({ ...base, [EnvNames.parallelSequences]: "0" })).toThrow(new RegExp(EnvNames.parallelSequences));
  });

  it("reads token probabilities unless switched off, and refuses a switch that is neither true nor false", () => {
    expect(readInferConfig(base).tokenConfidence).toBe(true);
    expect(readInferConfig({ ...base, [EnvNames.tokenConfidence]: "false" }).tokenConfidence).toBe(false);
    expect(() => readInferConfig({ ...base, [EnvNames.tokenConfidence]: "off" })).toThrow(new RegExp(EnvNames.tokenConfidence));
  });

  it("loads the patched llama.cpp build when there is one unless told prebuilt, and refuses any other choice at init", () => {
    expect(readInferConfig(base).binary).toBe("auto");
    expect(readInferConfig({ ...base, [EnvNames.llamaBinary]: " prebuilt " }).binary).toBe("prebuilt");
    expect(() => readInferConfig({ ...base, [EnvNames.llamaBinary]: "cuda" })).toThrow(/LLAMBDA_LLAMA_BINARY must be one of auto, prebuilt, got "cuda"/);
  });

  it("speculates only when switched on", () => {
    expect(readInferConfig(base).speculation).toBe(false);
    expect(readInferConfig({ ...base, [EnvNames.speculation]: "true" }).speculation).toBe(true);
    expect(() => readInferConfig({ ...base, [EnvNames.speculation]: "maybe" })).toThrow(new RegExp(EnvNames.speculation));
  });
});

describe("infer batch input", () => {
  const item = chunkItem({ documentId: "d1", chunkId: "c", tokenCount: 2, text: "hello" });

  it("accepts the workflow's batch (inline text or an S3 pointer)", () => {
    const event = { Items: [item, { ...item, index: 1, text: undefined, textLocation: { bucket: "b", key: "chunks/d1/1.txt" } }] };
    expect(parseInferBatchInput(event)).toBe(event);
    expect(parseInferBatchInput({ Items: [] })).toEqual({ Items: [] });
  });

  it("refuses a malformed event with a TypeError naming the field, before any work", () => {
    const cases: Array<[unknown, RegExp]> = [
      [5, /must be an object/],
      [{ Items: 5 }, /Items must be an array of chunk items, got number/],
      [{}, /Items must be an array of chunk items, got undefined/],
      [{ Items: [null] }, /Items\[0\] must be an object/],
      [{ Items: [item, { ...item, documentId: "" }] }, /Items\[1\]\.documentId/],
      [{ Items: [{ ...item, index: -1 }] }, /Items\[0\]\.index must be a non-negative integer/],
      [{ Items: [{ ...item, pageEnd: "2" }] }, /Items\[0\]\.pageEnd/],
      [{ Items: [{ ...item, text: undefined }] }, /Items\[0\] needs text or textLocation/],
    ];
    for (const [event, message] of cases) {
      expect(() => parseInferBatchInput(event), JSON.stringify(event)).toThrow(TypeError);
      expect(() => parseInferBatchInput(event), JSON.stringify(event)).toThrow(message);
    }
  });
});
