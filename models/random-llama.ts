/**
 * Deterministic random-weight llama models, written with the project's GGUF writer.
 *
 * What they are for: tests (a tiny model that llama.cpp loads in milliseconds and that can produce any JSON under a
 * grammar) and benchmarks (real Llama shapes and tensor types: speed depends on shapes and types, not on weights).
 *
 * The same shape and seed always give a byte-identical file: weights come from a seeded mulberry32 PRNG, one stream
 * per tensor, and nothing depends on time, locale or platform.
 *
 * Never-chosen tokens BY CONSTRUCTION. With random weights, byte tokens ≥ 0x80 could be picked one at a time and
 * leave invalid UTF-8 (U+FFFD) in grammar-constrained output. The weights rule them out:
 *   - hidden dimension 0 is a constant channel: token_embd[t][0] = EMBED_CONSTANT > 0 for every token t;
 *   - the rows of attn_output and ffn_down that write dimension 0 are zero, so the residual stream's dim 0 stays
 *     EMBED_CONSTANT through every layer, and after the final RMS norm (output_norm[0] = 1 > 0) it is positive;
 *   - output.weight[t][0] = BANNED_LOGIT_WEIGHT (-50) for <unk>, <s> and the byte tokens <0x80>…<0xFF>, and 0 for
 *     every other token, whose other weights are at most ~2/√n_embd in magnitude.
 * So those tokens' logits are always about 50 × h[0] below the others' (h[0] ≈ 1), whatever the context and sampler.
 */
import { GgmlType, LLAMA_FILE_TYPE } from "./ggml-types.ts";
import { gguf, writeGguf, type GgufTensor, type GgufValue, type GgufWriteResult } from "./gguf-writer.ts";

export type TensorTypeName = "f32" | "f16" | "q4_0" | "q8_0";

export const TENSOR_TYPES: Readonly<Record<TensorTypeName, GgmlType>> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  q4_0: GgmlType.Q4_0,
  q8_0: GgmlType.Q8_0,
};

export interface LlamaShape {
  /** Vocabulary size, ≥ 260 (the base vocabulary below); extra tokens are generated procedurally. */
  nVocab: number;
  nEmbd: number;
  nLayers: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  contextLength: number;
  /** Type of the 2-D weight matrices (token_embd, output and the blocks' projections). Norm weights stay F32. */
  tensorType: TensorTypeName;
  /** RoPE base frequency; llama.cpp's default 10000 when omitted. */
  ropeFreqBase?: number;
}

export interface RandomLlamaOptions {
  /** PRNG seed (uint32). Default 1. */
  seed?: number;
  /** `general.name`. Keep "llama 3.x" out of it: node-llama-cpp would then try a Llama 3 chat wrapper. */
  name?: string;
  /** Called before each tensor is written (for progress output on big shapes). */
  onTensor?: (name: string, index: number, count: number) => void;
}

/** The tiny test model: F16, 64-wide, 2 layers, GQA (4 heads, 2 KV heads): about 225 KB. */
export const TINY_SHAPE: Readonly<LlamaShape> = {
  nVocab: 260,
  nEmbd: 64,
  nLayers: 2,
  nFf: 128,
  nHead: 4,
  nHeadKv: 2,
  contextLength: 8192,
  tensorType: "f16",
};

/** Real shapes (hyperparameters of the published models) for benchmark models; pick the type separately. */
export const REAL_SHAPES: Readonly<Record<"llama-3.2-1b" | "llama-3.1-8b", Omit<LlamaShape, "tensorType">>> = {
  "llama-3.2-1b": {
    nVocab: 128256,
    nEmbd: 2048,
    nLayers: 16,
    nFf: 8192,
    nHead: 32,
    nHeadKv: 8,
    contextLength: 131072,
    ropeFreqBase: 500000,
  },
  "llama-3.1-8b": {
    nVocab: 128256,
    nEmbd: 4096,
    nLayers: 32,
    nFf: 14336,
    nHead: 32,
    nHeadKv: 8,
    contextLength: 131072,
    ropeFreqBase: 500000,
  },
};

export const DEFAULT_SEED = 1;
export const EMBED_CONSTANT = 1;
export const BANNED_LOGIT_WEIGHT = -50;
export const RMS_NORM_EPS = 1e-5;

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string mixed with the seed: one independent PRNG stream per tensor name. */
function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary

/** llama.cpp's `enum llama_token_type` (gguf-py TokenType). */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const BYTE_TOKEN_BASE = 3;
export const SPACE_TOKEN_ID = 259;
/** "▁" (U+2581), SentencePiece's space marker. */
export const SPACE_MARKER = "\u2581";
export const BASE_VOCAB_SIZE = 260;

export interface Vocabulary {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  /** Tokens whose logits the weights push far down: <unk>, <s> and the byte tokens <0x80>…<0xFF>. */
  banned: Uint8Array;
}

/**
 * A SentencePiece-style ("llama") vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3–258 the byte tokens <0x00>…<0xFF>, 259 "▁".
 * With byte fallback this tokenizes any text, and "▁" makes spaces survive tokenize → detokenize. Bigger vocabularies
 * are padded deterministically with unique lowercase pieces: "▁a", "a", "▁b", "b", …, "▁zz", "zz", "▁aaa", …
 */
export function buildVocabulary(nVocab: number): Vocabulary {
  if (!Number.isInteger(nVocab) || nVocab < BASE_VOCAB_SIZE) {
    throw new Error(`nVocab must be an integer ≥ ${BASE_VOCAB_SIZE}, got ${nVocab}`);
  }
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  for (let b = 0; b < 256; b++) tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  tokens.push(SPACE_MARKER);

  const scores = new Float32Array(nVocab);
  const types = new Int32Array(nVocab);
  const banned = new Uint8Array(nVocab);
  types[UNK_ID] = TokenType.UNKNOWN;
  types[BOS_ID] = TokenType.CONTROL;
  types[EOS_ID] = TokenType.CONTROL;
  for (let b = 0; b < 256; b++) types[BYTE_TOKEN_BASE + b] = TokenType.BYTE;
  types[SPACE_TOKEN_ID] = TokenType.NORMAL;
  scores[SPACE_TOKEN_ID] = -1;
  banned[UNK_ID] = 1;
  banned[BOS_ID] = 1;
  for (let b = 0x80; b < 256; b++) banned[BYTE_TOKEN_BASE + b] = 1;

  // Padding: all lowercase strings of length 1, 2, 3, … in order, each as "▁s" then "s".
  const alphabet = "abcdefghijklmnopqrstuvwxyz";
  const digits: number[] = [0];
  while (tokens.length < nVocab) {
    const s = digits.map((d) => alphabet[d]).join("");
    for (const piece of [SPACE_MARKER + s, s]) {
      if (tokens.length >= nVocab) break;
      const id = tokens.length;
      tokens.push(piece);
      types[id] = TokenType.NORMAL;
      // SentencePiece merges the highest-scoring pair first; shorter (earlier) pieces score higher.
      scores[id] = -2 - (id - BASE_VOCAB_SIZE) / 1024;
    }
    // next string: increment in base 26, growing the length when all digits wrap
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === alphabet.length - 1) digits[i--] = 0;
    if (i < 0) digits.unshift(0);
    else digits[i]! += 1;
  }
  return { tokens, scores, types, banned };
}

// ---------------------------------------------------------------------------------------------------------------
// Model

export function validateShape(shape: LlamaShape): void {
  const ints: (keyof LlamaShape)[] = ["nVocab", "nEmbd", "nLayers", "nFf", "nHead", "nHeadKv", "contextLength"];
  for (const k of ints) {
    const v = shape[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`shape.${k} must be a positive integer`);
  }
  if (!(shape.tensorType in TENSOR_TYPES)) {
    throw new Error(`shape.tensorType must be one of ${Object.keys(TENSOR_TYPES).join(", ")}`);
  }
  if (shape.nEmbd % shape.nHead !== 0) throw new Error("nEmbd must be a multiple of nHead");
  if (shape.nHead % shape.nHeadKv !== 0) throw new Error("nHead must be a multiple of nHeadKv");
  if ((shape.nEmbd / shape.nHead) % 2 !== 0) throw new Error("the head size (nEmbd / nHead) must be even for RoPE");
  if (shape.nVocab < BASE_VOCAB_SIZE) throw new Error(`nVocab must be ≥ ${BASE_VOCAB_SIZE}`);
  const type = TENSOR_TYPES[shape.tensorType];
  if (type === GgmlType.Q4_0 || type === GgmlType.Q8_0) {
    if (shape.nEmbd % 32 !== 0 || shape.nFf % 32 !== 0) {
      throw new Error(`${shape.tensorType} needs nEmbd and nFf to be multiples of 32 (the block size)`);
    }
  }
}

/** The GGUF metadata and streamed tensors of a random llama model (exported so callers can inspect or extend it). */
export function buildRandomLlama(
  shape: LlamaShape,
  options: Pick<RandomLlamaOptions, "seed" | "name"> = {},
): { metadata: [string, GgufValue][]; tensors: GgufTensor[] } {
  validateShape(shape);
  const seed = (options.seed ?? DEFAULT_SEED) >>> 0;
  const { nVocab, nEmbd, nLayers, nFf, nHead, nHeadKv } = shape;
  const headDim = nEmbd / nHead;
  const nEmbdKv = headDim * nHeadKv;
  const matType = TENSOR_TYPES[shape.tensorType];
  const vocab = buildVocabulary(nVocab);

  const metadata: [string, GgufValue][] = [
    ["general.architecture", gguf.str("llama")],
    ["general.name", gguf.str(options.name ?? `llambda random ${nEmbd}x${nLayers} ${shape.tensorType}`)],
    ["general.alignment", gguf.u32(32)],
    ["general.file_type", gguf.u32(LLAMA_FILE_TYPE[matType])],
    ["general.quantization_version", gguf.u32(2)],
    ["llama.vocab_size", gguf.u32(nVocab)],
    ["llama.context_length", gguf.u32(shape.contextLength)],
    ["llama.embedding_length", gguf.u32(nEmbd)],
    ["llama.block_count", gguf.u32(nLayers)],
    ["llama.feed_forward_length", gguf.u32(nFf)],
    ["llama.attention.head_count", gguf.u32(nHead)],
    ["llama.attention.head_count_kv", gguf.u32(nHeadKv)],
    ["llama.rope.dimension_count", gguf.u32(headDim)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(RMS_NORM_EPS)],
    ...(shape.ropeFreqBase !== undefined ? [["llama.rope.freq_base", gguf.f32(shape.ropeFreqBase)] as [string, GgufValue]] : []),
    ["tokenizer.ggml.model", gguf.str("llama")],
    ["tokenizer.ggml.tokens", gguf.strArr(vocab.tokens)],
    ["tokenizer.ggml.scores", gguf.f32Arr(vocab.scores)],
    ["tokenizer.ggml.token_type", gguf.i32Arr(vocab.types)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(BOS_ID)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(EOS_ID)],
    ["tokenizer.ggml.unknown_token_id", gguf.u32(UNK_ID)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
  ];

  /** A dense random matrix: every row uniform in [-scale, scale], except rows for which `zeroRow` says so. */
  const matrix = (name: string, ne0: number, ne1: number, scale: number, zeroRow?: (r: number) => boolean): GgufTensor => {
    const rng = mulberry32(streamSeed(seed, name));
    return {
      name,
      ne: [ne0, ne1],
      type: matType,
      fillRow: (r, out) => {
        // Draw the row even when it is zeroed so that later rows do not depend on which rows are zero.
        for (let i = 0; i < ne0; i++) out[i] = (rng() * 2 - 1) * scale;
        if (zeroRow?.(r)) out.fill(0);
      },
    };
  };
  const norm = (name: string, n: number): GgufTensor => ({
    name,
    ne: [n],
    type: GgmlType.F32,
    fillRow: (_r, out) => out.fill(1),
  });

  const tokenEmbdRng = mulberry32(streamSeed(seed, "token_embd.weight"));
  const outputRng = mulberry32(streamSeed(seed, "output.weight"));
  const outScale = 2 / Math.sqrt(nEmbd);
  // Residual writers are scaled down with depth (as in GPT-2's init) so the residual stream's RMS stays near 1 and
  // the constant channel keeps its weight after the final norm even for 32 layers.
  const residualScale = 1 / Math.sqrt(2 * nLayers);
  const isRow0 = (r: number) => r === 0;

  const tensors: GgufTensor[] = [
    {
      name: "token_embd.weight",
      ne: [nEmbd, nVocab],
      type: matType,
      fillRow: (_t, out) => {
        for (let i = 0; i < nEmbd; i++) out[i] = tokenEmbdRng() * 2 - 1;
        out[0] = EMBED_CONSTANT;
      },
    },
  ];
  for (let l = 0; l < nLayers; l++) {
    const p = `blk.${l}`;
    const inScale = Math.sqrt(3 / nEmbd);
    tensors.push(
      norm(`${p}.attn_norm.weight`, nEmbd),
      matrix(`${p}.attn_q.weight`, nEmbd, nEmbd, inScale),
      matrix(`${p}.attn_k.weight`, nEmbd, nEmbdKv, inScale),
      matrix(`${p}.attn_v.weight`, nEmbd, nEmbdKv, inScale),
      matrix(`${p}.attn_output.weight`, nEmbd, nEmbd, inScale * residualScale, isRow0),
      norm(`${p}.ffn_norm.weight`, nEmbd),
      matrix(`${p}.ffn_gate.weight`, nEmbd, nFf, inScale),
      matrix(`${p}.ffn_up.weight`, nEmbd, nFf, inScale),
      matrix(`${p}.ffn_down.weight`, nFf, nEmbd, Math.sqrt(3 / nFf) * residualScale, isRow0),
    );
  }
  tensors.push(norm("output_norm.weight", nEmbd), {
    name: "output.weight",
    ne: [nEmbd, nVocab],
    type: matType,
    fillRow: (t, out) => {
      for (let i = 0; i < nEmbd; i++) out[i] = (outputRng() * 2 - 1) * outScale;
      out[0] = vocab.banned[t] ? BANNED_LOGIT_WEIGHT : 0;
    },
  });
  return { metadata, tensors };
}

/** Writes a random llama model to `path` (atomically) and returns its size and sha256. */
export async function writeRandomLlama(path: string, shape: LlamaShape, options: RandomLlamaOptions = {}): Promise<GgufWriteResult> {
  const { metadata, tensors } = buildRandomLlama(shape, options);
  const onTensor = options.onTensor;
  const observed = onTensor
    ? tensors.map((t, i) => {
        let started = false;
        return {
          ...t,
          fillRow: (r: number, out: Float32Array) => {
            if (!started) {
              started = true;
              onTensor(t.name, i, tensors.length);
            }
            t.fillRow(r, out);
          },
        };
      })
    : tensors;
  return writeGguf(path, { metadata, tensors: observed });
}

/** Writes the tiny test model (TINY_SHAPE, default seed). */
export function writeTinyModel(path: string): Promise<GgufWriteResult> {
  return writeRandomLlama(path, TINY_SHAPE, { name: "llambda tiny random llama" });
}

/** Parameter count of a shape (for reports). */
export function parameterCount(shape: LlamaShape): number {
  const headDim = shape.nEmbd / shape.nHead;
  const kv = headDim * shape.nHeadKv;
  const perLayer = 2 * shape.nEmbd * shape.nEmbd + 2 * shape.nEmbd * kv + 3 * shape.nEmbd * shape.nFf + 2 * shape.nEmbd;
  return 2 * shape.nVocab * shape.nEmbd + shape.nLayers * perLayer + shape.nEmbd;
}

/**
 * A random LoRA adapter (GGUF, llama.cpp's format: general.type "adapter", adapter.type "lora", per adapted weight a
 * `<name>.lora_a` of ne [n_in, rank] and a `<name>.lora_b` of ne [rank, n_out]) for the query and value projections
 * of a model of `shape`. For tests of adapter loading: it changes the model's outputs, not for the better.
 */
export function writeRandomLora(path: string, shape: LlamaShape, options: { rank?: number; seed?: number } = {}): Promise<GgufWriteResult> {
  validateShape(shape);
  const rank = options.rank ?? 4;
  const seed = (options.seed ?? DEFAULT_SEED + 1) >>> 0;
  const nEmbdKv = (shape.nEmbd / shape.nHead) * shape.nHeadKv;
  const random = (name: string, ne0: number, ne1: number, scale: number): GgufTensor => {
    const rng = mulberry32(streamSeed(seed, name));
    return { name, ne: [ne0, ne1], type: GgmlType.F32, fillRow: (_r, out) => out.forEach((_, i) => (out[i] = (rng() * 2 - 1) * scale)) };
  };
  const tensors: GgufTensor[] = [];
  for (let l = 0; l < shape.nLayers; l++) {
    for (const [weight, nOut] of [["attn_q", shape.nEmbd], ["attn_v", nEmbdKv]] as const) {
      const name = `blk.${l}.${weight}.weight`;
      tensors.push(random(`${name}.lora_a`, shape.nEmbd, rank, 1 / Math.sqrt(shape.nEmbd)), random(`${name}.lora_b`, rank, nOut, 1));
    }
  }
  return writeGguf(path, {
    metadata: [
      ["general.architecture", gguf.str("llama")],
      ["general.type", gguf.str("adapter")],
      ["general.name", gguf.str("llambda random lora")],
      ["adapter.type", gguf.str("lora")],
      ["adapter.lora.alpha", gguf.f32(rank)],
    ],
    tensors,
  });
}
