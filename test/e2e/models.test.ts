/**
 * Tests of the models/ folder that need llama.cpp or a process: the deterministic random llama models (loaded and run
 * by node-llama-cpp with one thread) and the model:tiny and model:pull scripts. The rest is in test/unit/models.test.ts.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { BANNED_LOGIT_WEIGHT, TINY_SHAPE, writeRandomLlama, writeTinyModel, type LlamaShape, type TensorTypeName } from "../../models/random-llama.ts";
import { listModels } from "../../models/manifest.ts";
import { MODEL_URL_OVERRIDE_ENV, sha256File } from "../../models/download.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { GgmlType } from "../../models/ggml-types.ts";

/** sha256 of models/tiny.gguf. Changes only when the writer or the tiny model's recipe changes on purpose. */
const TINY_SHA256 = "0afef9781c1dc5de4c93c1688bc1d3bfb1bdff06747073329991138232864cda";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "llambda-models-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `node --import tsx <script> …args` from the repository root. */
function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------------------

describe("tiny model", () => {
  let llama: Llama;
  let model: LlamaModel;
  let tinyPath: string;

  beforeAll(async () => {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    tinyPath = join(dir, "tiny.gguf");
    await writeTinyModel(tinyPath);
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
    model = await llama.loadModel({ modelPath: tinyPath });
  });
  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  it("is deterministic and small", async () => {
    const a = await writeTinyModel(join(dir, "tiny-a.gguf"));
    const b = await writeTinyModel(join(dir, "tiny-b.gguf"));
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).toBe(TINY_SHA256);
    expect(await sha256File(a.path)).toBe(a.sha256);
    expect(a.bytes).toBe((await stat(a.path)).size);
    expect(a.bytes).toBeGreaterThan(50_000);
    expect(a.bytes).toBeLessThan(400_000);
    expect((await readdir(dir)).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("`npm run model:tiny -- --out` prints path, size and sha256", async () => {
    const out = join(dir, "cli-tiny.gguf");
    const r = await runScript("models/tiny.ts", ["--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`path:   ${out}`);
    expect(r.stdout).toContain(`sha256: ${TINY_SHA256}`);
    expect(r.stdout).toMatch(new RegExp(`size: +${(await stat(out)).size} bytes`));
  });

  it("has the metadata llama.cpp needs", async () => {
    const { readGgufFileInfo } = await import("node-llama-cpp");
    const info = await readGgufFileInfo(tinyPath, { logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(md.general?.architecture).toBe("llama");
    expect(md.llama).toMatchObject({
      context_length: TINY_SHAPE.contextLength,
      embedding_length: TINY_SHAPE.nEmbd,
      block_count: TINY_SHAPE.nLayers,
      feed_forward_length: TINY_SHAPE.nFf,
      attention: { head_count: TINY_SHAPE.nHead, head_count_kv: TINY_SHAPE.nHeadKv },
      rope: { dimension_count: TINY_SHAPE.nEmbd / TINY_SHAPE.nHead },
    });
    const tensors = new Map((info.tensorInfo ?? []).map((t) => [t.name, t]));
    expect(tensors.get("token_embd.weight")?.dimensions.map(Number)).toEqual([64, 260]);
    expect(tensors.get("blk.0.attn_k.weight")?.dimensions.map(Number)).toEqual([64, 32]);
    expect(tensors.get("blk.1.ffn_down.weight")?.dimensions.map(Number)).toEqual([128, 64]);
    expect(tensors.get("blk.1.ffn_norm.weight")?.ggmlType).toBe(GgmlType.F32);
    expect(tensors.get("output.weight")?.ggmlType).toBe(GgmlType.F16);
    expect(tensors.size).toBe(3 + 9 * TINY_SHAPE.nLayers);
  });

  it("tokenizes and detokenizes ASCII text with spaces exactly", () => {
    for (const text of ["Hello, world!", "Invoice no. 42  from ACME\tGmbH", ' {"a": [1, 2.5, null]} ', "x"]) {
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
    }
    expect(model.tokens.bos).toBe(1);
    expect(model.tokens.eos).toBe(2);
  });

  it("writes schema-valid JSON under a grammar (chat session, no chat template needed)", async () => {
    const { LlamaChatSession, LlamaCompletion } = await import("node-llama-cpp");
    const schema = {
      type: "object",
      properties: {
        vendor: { type: "string", maxLength: 24 },
        kind: { enum: ["invoice", "receipt", "other"] },
        tags: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
        total: { type: ["number", "null"] },
      },
    } as const;
    const validate = new Ajv({ strict: false }).compile({ ...schema, required: ["vendor", "kind", "tags", "total"], additionalProperties: false });
    const grammar = await llama.createGrammarForJsonSchema(schema);
    const context = await model.createContext({ contextSize: 512, threads: 1, sequences: 2 });
    try {
      const session = new LlamaChatSession({ contextSequence: context.getSequence() });
      const prompt = "Extract the vendor, kind, tags and total from: Invoice 42 from ACME GmbH, total 12.50 EUR.";
      const chat = await session.promptWithMeta(prompt, { grammar, maxTokens: 200 });
      const completionSequence = context.getSequence();
      const completion = new LlamaCompletion({ contextSequence: completionSequence });
      const plain = await completion.generateCompletionWithMeta(prompt, { grammar, maxTokens: 200 });
      for (const [text, stopReason] of [
        [chat.responseText, chat.stopReason],
        [plain.response, plain.metadata.stopReason],
      ] as const) {
        expect(stopReason, text).not.toBe("maxTokens");
        expect(text).not.toContain("\uFFFD");
        const parsed = JSON.parse(text) as { total: number | null };
        expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
        expect(grammar.parse(text)).toEqual(parsed);
        // Random weights may write a number like 285e6528528528555285, which the grammar allows and JSON.parse turns
        // into Infinity: consumers must range-check numbers after parsing (see models/README.md).
        expect(parsed.total === null || typeof parsed.total === "number").toBe(true);
      }
      expect(session.chatWrapper.wrapperName).toBeTypeOf("string");
      session.dispose();
      completion.dispose();
    } finally {
      await context.dispose();
    }
  });

  it("never gives <unk>, <s> or bytes ≥ 0x80 a chance (by construction of the weights)", async () => {
    const { LlamaCompletion } = await import("node-llama-cpp");
    const isBanned = (t: number) => t === 0 || t === 1 || (t >= 3 + 0x80 && t <= 258);
    const context = await model.createContext({ contextSize: 512, threads: 1, sequences: 2 });
    try {
      // Full next-token distributions at every position of a prompt.
      const sequence = context.getSequence();
      const tokens = [model.tokens.bos!, ...model.tokenize("Total: 12.50 EUR; vendor \"ACME\" — due 2024-05-01. ñ ü 字")];
      const outputs = await sequence.controlledEvaluate(
        tokens.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1 } } }] as [Token, object]),
      );
      let bannedMass = 0;
      for (const o of outputs) {
        for (const [t, p] of o?.next.probabilities ?? []) if (isBanned(t)) bannedMass = Math.max(bannedMass, p);
      }
      expect(outputs.filter(Boolean).length).toBe(tokens.length);
      expect(bannedMass).toBeLessThan(1e-9);
      sequence.dispose();

      // Hot sampling without a grammar.
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const generated: number[] = [];
      const text = await completion.generateCompletion("Hello", {
        maxTokens: 150,
        temperature: 1.5,
        seed: 7,
        onToken: (t) => generated.push(...t),
      });
      expect(generated.length).toBeGreaterThan(0);
      expect(generated.filter(isBanned)).toEqual([]);
      expect(text).not.toContain("\uFFFD");
      completion.dispose();
    } finally {
      await context.dispose();
    }
    expect(BANNED_LOGIT_WEIGHT).toBeLessThan(-10);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("quantized random models (small shape)", () => {
  const shape: Omit<LlamaShape, "tensorType"> = { nVocab: 300, nEmbd: 64, nLayers: 2, nFf: 128, nHead: 4, nHeadKv: 2, contextLength: 512 };
  let llama: Llama;

  beforeAll(async () => {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
  });
  afterAll(async () => {
    await llama?.dispose();
  });

  /** Next-token distributions over a fixed prompt, and a short greedy generation. */
  async function run(type: TensorTypeName) {
    const { LlamaCompletion } = await import("node-llama-cpp");
    const written = await writeRandomLlama(join(dir, `small-${type}.gguf`), { ...shape, tensorType: type });
    const again = await writeRandomLlama(join(dir, `small-${type}-again.gguf`), { ...shape, tensorType: type });
    expect(again.sha256).toBe(written.sha256);
    const model = await llama.loadModel({ modelPath: written.path });
    const context = await model.createContext({ contextSize: 256, threads: 1, sequences: 2 });
    try {
      const text = "a b ab Invoice 42, total 12.50";
      expect(model.detokenize(model.tokenize(text))).toBe(text);
      const sequence = context.getSequence();
      const tokens = [model.tokens.bos!, ...model.tokenize(text)];
      const outputs = await sequence.controlledEvaluate(
        tokens.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1 } } }] as [Token, object]),
      );
      const dists = outputs.map((o) => o?.next.probabilities ?? new Map<number, number>());
      sequence.dispose();
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const generated: number[] = [];
      await completion.generateCompletion("Hello", { maxTokens: 8, onToken: (t) => generated.push(...t) });
      completion.dispose();
      return { bytes: written.bytes, dists, generated };
    } finally {
      await context.dispose();
      await model.dispose();
    }
  }

  const maxTotalVariation = (a: Map<number, number>[], b: Map<number, number>[]) => {
    let max = 0;
    a.forEach((da, i) => {
      const db = b[i]!;
      let tv = 0;
      for (let t = 0; t < shape.nVocab; t++) tv += Math.abs((da.get(t) ?? 0) - (db.get(t) ?? 0));
      max = Math.max(max, tv / 2);
    });
    return max;
  };

  it("Q8_0 and Q4_0 load, generate, and match the F32 model's distributions", async () => {
    const f32 = await run("f32");
    const q8 = await run("q8_0");
    const q4 = await run("q4_0");
    const isBanned = (t: number) => t === 0 || t === 1 || (t >= 3 + 0x80 && t <= 258);
    for (const r of [f32, q8, q4]) {
      expect(r.generated.length).toBeGreaterThan(0);
      expect(r.generated.filter(isBanned)).toEqual([]);
      const bannedMax = Math.max(0, ...r.dists.flatMap((d) => [...d].filter(([t]) => isBanned(t)).map(([, p]) => p)));
      expect(bannedMax).toBeLessThan(1e-9); // the constant-channel trick survives quantization
    }
    expect(q8.bytes).toBeLessThan(f32.bytes / 3);
    expect(q4.bytes).toBeLessThan(q8.bytes * 0.6);
    // Unrelated random models differ by a total variation of ~0.95; a wrong block layout would look like that.
    expect(maxTotalVariation(f32.dists, q8.dists)).toBeLessThan(0.1);
    expect(maxTotalVariation(f32.dists, q4.dists)).toBeLessThan(0.4);
  });
});

describe("pull", () => {
  it("the CLI exits 1 with that message on a refused connection, in seconds", async () => {
    const url = "http://127.0.0.1:9/model.gguf";
    const r = await runScript("models/pull.ts", [], {
      [MODEL_URL_OVERRIDE_ENV]: url,
      LLAMBDA_MODELS_DIR: join(dir, "pull-cli"),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(url);
    expect(r.stderr).toContain("needs internet access to 127.0.0.1:9");
    expect(r.stderr).toContain("npm run model:tiny");
    expect(r.ms).toBeLessThan(10_000);
  });

  it("the CLI lists the known ids for an unknown id", async () => {
    const r = await runScript("models/pull.ts", ["no-such-model"], { LLAMBDA_MODELS_DIR: join(dir, "pull-unknown") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unknown model id "no-such-model"');
    for (const m of listModels()) expect(r.stderr).toContain(m.id);
  });
});
