import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExtractionEngine, type EngineOptions, type Extraction } from "../../functions/infer/engine.ts";
import { extractBatch } from "../../functions/infer/extract-batch.ts";
import { buildUserPrompt, type ChunkPromptInput } from "../../functions/infer/prompt.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { ChunkItem } from "../../functions/shared/contracts.ts";
import { ChunkTooLargeError, DeadlineExceededError, ModelLoadError, OutputTruncatedError } from "../../functions/shared/errors.ts";
import { TINY_SHAPE, writeRandomLora, writeTinyModel } from "../../models/random-llama.ts";
import { chunkItem } from "../helpers/chunk-items.ts";

/** The inference engine on real llama.cpp with the project's tiny random-weight model. */
describe("extraction engine", () => {
  let dir: string;
  let engine: ExtractionEngine;
  const schema = getExtractionSchema("generic");
  const chunk = (n: number, words = 12) => ({
    text: `Invoice ${n} from Acme Corp. ${"Total due 42.00 EUR. ".repeat(words / 4)}`,
    pageStart: n,
    pageEnd: n,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-engine-"));
    const { path } = await writeTinyModel(join(dir, "tiny.gguf"));
    engine = await ExtractionEngine.load({
      modelPath: path,
      modelId: "tiny",
      threads: 1,
      contextSize: 4096,
      maxOutputTokens: 768,
      schema,
      sequences: 2,
    });
  }, 60_000);
  afterAll(async () => {
    await engine?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("extracts on parallel sequences, outcomes in input order, and reuses each sequence's instruction prefix", async () => {
    expect(engine.parallelSequences).toBe(2);
    const chunks = [1, 2, 3, 4, 5].map((n) => chunk(n));
    const outcomes = await engine.extractAll(chunks);
    const extractions = outcomes.map((outcome) => {
      if (!outcome.ok) throw outcome.error;
      return outcome.extraction;
    });
    for (const extraction of extractions) expect(Object.keys(extraction.data).sort()).toEqual(Object.keys(schema.properties!).sort());
    // The first chunk on each of the two sequences evaluates the instructions; every later one only its own turn.
    const firstTwo = extractions.slice(0, 2);
    for (const first of firstTwo) expect(first.tokensReused).toBe(0);
    extractions.slice(2).forEach((extraction, i) => {
      const chunkTokens = engine.countTokens(buildUserPrompt(chunks[i + 2]!));
      expect(extraction.tokensIn).toBeLessThanOrEqual(chunkTokens + 32);
      expect(extraction.tokensReused).toBeGreaterThan(firstTwo[0]!.tokensIn - chunkTokens - 32);
    });
    expect(engine.speeds.promptTokensPerSecond).toBeGreaterThan(0);
    expect(engine.speeds.generationTokensPerSecond).toBeGreaterThan(0);
  }, 120_000);

  it("gives each chunk its own typed error: too large for the context, or past the deadline", async () => {
    const huge = { text: "word ".repeat(5000), pageStart: 9, pageEnd: 9 };
    const outcomes = await engine.extractAll([chunk(1), huge, chunk(2)]);
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true]);
    expect(!outcomes[1]!.ok && outcomes[1]!.error).toBeInstanceOf(ChunkTooLargeError);

    const past = await engine.extractAll([chunk(3)], { at: Date.now() - 1, freshBudgetMs: 600_000 });
    expect(!past[0]!.ok && past[0]!.error).toBeInstanceOf(DeadlineExceededError);
    expect(!past[0]!.ok && (past[0]!.error as DeadlineExceededError).reason).toBe("no-time-left");
  }, 120_000);

  it("stops a chunk at the deadline with DeadlineExceeded, never running on", async () => {
    // A long prompt on a cold sequence (another document's text) takes the tiny model well over 150 ms.
    const long = { text: "Unrelated report text. ".repeat(60), pageStart: 1, pageEnd: 1 };
    const started = Date.now();
    const [outcome] = await engine.extractAll([long], { at: started + 150, freshBudgetMs: 150 });
    const elapsed = Date.now() - started;
    expect(outcome!.ok).toBe(false);
    const error = !outcome!.ok ? (outcome!.error as DeadlineExceededError) : undefined;
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(["cut", "too-slow"]).toContain(error!.reason);
    // One prompt slice or one token past the deadline at most, not the whole chunk (which takes seconds).
    expect(elapsed).toBeLessThan(2000);
  }, 60_000);

  it("reports a hit output cap as OutputTruncated, never a partial result", async () => {
    const small = await ExtractionEngine.load({ ...engine.options, maxOutputTokens: 24, sequences: 1 });
    try {
      const [outcome] = await small.extractAll([chunk(1)]);
      expect(!outcome!.ok && outcome!.error).toBeInstanceOf(OutputTruncatedError);
      expect(!outcome!.ok && outcome!.error.message).toContain("cap of 24 output tokens");
      // The same chunk with a budget of its own (a retry after OutputTruncated) finishes.
      const [retried] = await small.extractAll([{ ...chunk(1), maxOutputTokens: engine.options.maxOutputTokens }]);
      expect(retried!.ok, !retried!.ok ? retried!.error.message : "").toBe(true);
    } finally {
      await small.dispose();
    }
  }, 60_000);

  it("turns a batch into results, failures and the halves left for a fresh invocation", async () => {
    const item = (index: number, text: string): ChunkItem => chunkItem({ documentId: "doc", index, text });
    const tooLarge = "Sentence about the contract terms. ".repeat(90);
    const output = await extractBatch(
      { Items: [item(0, chunk(1).text), item(1, tooLarge)], BatchInput: { documentId: "doc" } },
      { engine, modelId: "tiny", deadline: { at: Date.now() + 600_000, freshBudgetMs: 600_000 } },
    );
    expect(output.results.map((result) => result.index)).toEqual([0]);
    expect(output.failed).toEqual([]);
    expect(output.Items.map((part) => [part.index, part.part])).toEqual([
      [1, "1"],
      [1, "2"],
    ]);
    expect(output.Items.map((part) => part.text).join("")).toBe(tooLarge);
    // The next pass carries the first pass's results along.
    const next = await extractBatch(
      { Items: output.Items, results: output.results, failed: output.failed },
      { engine, modelId: "tiny", deadline: { at: Date.now() - 1, freshBudgetMs: 600_000 } },
    );
    expect(next.results).toHaveLength(1);
    // No time at all in this pass: nothing is handed back forever; the parts fail with DeadlineExceeded.
    expect(next.Items).toEqual([]);
    expect(next.failed.map((failure) => [failure.index, failure.part, failure.error])).toEqual([
      [1, "1", "DeadlineExceeded"],
      [1, "2", "DeadlineExceeded"],
    ]);
  }, 120_000);

  it("gives every scalar value of an answer the model's own confidence, in [0, 1], on split parts and retries too", async () => {
    const [first, second] = await engine.extractAll([chunk(6), chunk(7)]);
    for (const outcome of [first!, second!]) {
      if (!outcome.ok) throw outcome.error;
      const { data, confidence } = outcome.extraction;
      expect(Object.keys(confidence!).sort()).toEqual(scalarLeafPaths(data).sort());
      for (const value of Object.values(confidence!)) expect(value >= 0 && value <= 1, String(value)).toBe(true);
    }
    // A split part and a retried chunk go through the same engine: their results carry it too.
    const output = await extractBatch(
      {
        Items: [
          chunkItem({ documentId: "doc", index: 0, text: chunk(8).text, part: "1" }),
          chunkItem({ documentId: "doc", index: 1, text: chunk(9).text, outputTokens: 768 }),
        ],
      },
      { engine, modelId: "tiny", deadline: { at: Date.now() + 600_000, freshBudgetMs: 600_000 } },
    );
    expect(output.results.map((result) => result.part ?? null)).toEqual(["1", null]);
    for (const result of output.results) expect(Object.keys(result.confidence!).sort()).toEqual(scalarLeafPaths(result.data).sort());
  }, 120_000);

  it("answers exactly the same without reading token probabilities, and then gives no confidence", async () => {
    const plain = await ExtractionEngine.load({ ...engine.options, sequences: 1, tokenConfidence: false });
    try {
      const chunks = [chunk(10), chunk(11)];
      const withConfidence = await engine.extractAll(chunks);
      const without = await plain.extractAll(chunks);
      withConfidence.forEach((outcome, i) => {
        const other = without[i]!;
        if (!outcome.ok || !other.ok) throw new Error("Both extractions should succeed");
        expect(other.extraction.data).toEqual(outcome.extraction.data);
        expect(other.extraction.tokensOut).toBe(outcome.extraction.tokensOut);
        expect(other.extraction.confidence).toBeUndefined();
        expect(outcome.extraction.confidence).toBeDefined();
      });
    } finally {
      await plain.dispose();
    }
  }, 120_000);
});

describe("decoding: forced tokens and speculation", () => {
  let dir: string;
  let model: string;
  const invoice = getExtractionSchema("invoice");
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-decoding-"));
    model = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The chunks' extractions by a fresh engine with the invoice schema and these options. */
  async function extractions(chunks: ChunkPromptInput[], options: Partial<EngineOptions>): Promise<Extraction[]> {
    const engine = await ExtractionEngine.load({ modelPath: model, modelId: "tiny", threads: 1, contextSize: 4096, maxOutputTokens: 1024, schema: invoice, ...options });
    try {
      return (await engine.extractAll(chunks)).map((outcome) => {
        if (!outcome.ok) throw outcome.error;
        return outcome.extraction;
      });
    } finally {
      await engine.dispose();
    }
  }

  it("feeds the text the grammar forces in the next evaluation: fewer decodes, answers still valid against the schema", async () => {
    const validate = new Ajv2020.default({ strict: false }).compile(invoice);
    const chunks = [1, 2, 3].map((n) => ({ text: `Invoice ${n} from Acme Corp, total 42.00 EUR, dated 2024-03-0${n}.`, pageStart: 1, pageEnd: 1 }));
    const forced = await extractions(chunks, { forcedTokens: true });
    const sampled = await extractions(chunks, { forcedTokens: false });
    for (const extraction of forced) {
      expect(validate(extraction.data), JSON.stringify(validate.errors)).toBe(true);
      // Every answer token was either sampled (one decode each) or forced along with the one before it.
      expect(extraction.decoding!.decodes + extraction.decoding!.forced).toBe(extraction.tokensOut);
      // The ten property names alone are forced in every answer.
      expect(extraction.decoding!.forced).toBeGreaterThanOrEqual(10);
    }
    for (const extraction of sampled) {
      expect(extraction.decoding).toEqual({ decodes: extraction.tokensOut, forced: 0, drafted: 0, accepted: 0 });
    }
    const decodes = (list: Extraction[]) => list.reduce((sum, extraction) => sum + extraction.decoding!.decodes, 0);
    expect(decodes(forced)).toBeLessThan(decodes(sampled));
  }, 180_000);

  it("proposes drafts from the prompt and verifies them, and greedy answers stay exactly the same", async () => {
    // Chunks that hold JSON like the answer's: the answer's tokens recur in the prompt, so drafts are proposed.
    const chunks = [1, 2, 3].map((n) => ({
      text: `Exported record: {"issuer": "Acme ${n}", "invoice_number": "INV-${n}", "date": null, "currency": "EUR", "amount": ${n}2.5}`,
      pageStart: 1,
      pageEnd: 1,
    }));
    for (const forcedTokens of [false, true]) {
      const plain = await extractions(chunks, { sequences: 2, speculation: false, forcedTokens });
      const drafted = await extractions(chunks, { sequences: 2, speculation: true, forcedTokens });
      drafted.forEach((extraction, i) => {
        expect(extraction.data).toEqual(plain[i]!.data);
        expect(extraction.tokensOut).toBe(plain[i]!.tokensOut);
        expect(extraction.decoding!.decodes + extraction.decoding!.accepted + extraction.decoding!.forced).toBe(extraction.tokensOut);
      });
      expect(drafted.reduce((sum, extraction) => sum + extraction.decoding!.drafted, 0)).toBeGreaterThan(0);
    }
  }, 240_000);
});

/** Paths of a value's strings, numbers, booleans and nulls, in the item's notation (`entities[0].name`). */
function scalarLeafPaths(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => scalarLeafPaths(item, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => scalarLeafPaths(item, path ? `${path}.${key}` : key));
  }
  return [path];
}

describe("several contexts", () => {
  it("shares threads and sequences out over contexts, consecutive chunks on different ones, each keeping its prefix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llambda-contexts-"));
    const { path } = await writeTinyModel(join(dir, "tiny.gguf"));
    const engine = await ExtractionEngine.load({
      modelPath: path, modelId: "tiny", threads: 2, contextSize: 4096, maxOutputTokens: 768, schema: getExtractionSchema("generic"), sequences: 3, contexts: 2,
    });
    try {
      expect(engine.parallelSequences).toBe(3);
      const chunks = [1, 2, 3, 4, 5, 6].map((n) => ({ text: `Receipt ${n} from Initech, paid 12.50 USD.`, pageStart: n, pageEnd: n }));
      const outcomes = await engine.extractAll(chunks);
      const extractions = outcomes.map((outcome) => {
        if (!outcome.ok) throw outcome.error;
        return outcome.extraction;
      });
      // Three sequences: three cold starts, then every chunk reuses its sequence's instructions.
      expect(extractions.filter((extraction) => extraction.tokensReused === 0)).toHaveLength(3);
      extractions.slice(3).forEach((extraction, i) => {
        expect(extraction.tokensIn).toBeLessThanOrEqual(engine.countTokens(buildUserPrompt(chunks[i + 3]!)) + 32);
      });
    } finally {
      await engine.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("LoRA adapters", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "llambda-lora-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("applies an adapter at load (answers change) and refuses one made for another model with ModelLoadError", async () => {
    const { path: modelPath } = await writeTinyModel(join(dir, "tiny.gguf"));
    const { path: loraPath } = await writeRandomLora(join(dir, "tiny-lora.gguf"), TINY_SHAPE, { rank: 4 });
    const { path: otherLora } = await writeRandomLora(join(dir, "other-lora.gguf"), { ...TINY_SHAPE, nEmbd: 128 }, { rank: 4 });
    const options = { modelPath, modelId: "tiny", threads: 1, contextSize: 4096, maxOutputTokens: 768, schema: getExtractionSchema("generic") };
    const text = { text: "Invoice 12 from Acme Corp, total 99.00 EUR.", pageStart: 1, pageEnd: 1 };
    const answer = async (engine: ExtractionEngine) => {
      try {
        const [outcome] = await engine.extractAll([text]);
        // A random adapter may well push the tiny model into an over-long answer: that is a change too.
        return outcome!.ok ? JSON.stringify(outcome!.extraction.data) : outcome!.error.name;
      } finally {
        await engine.dispose();
      }
    };
    const base = await answer(await ExtractionEngine.load(options));
    expect(base).toMatch(/^\{/);
    const adapted = await answer(await ExtractionEngine.load({ ...options, loraPath, loraScale: 2 }));
    expect(adapted).not.toBe(base);
    await expect(ExtractionEngine.load({ ...options, loraPath: otherLora })).rejects.toBeInstanceOf(ModelLoadError);
  }, 120_000);
});
