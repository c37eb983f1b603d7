import { statSync } from "node:fs";
import {
  getLlama,
  LlamaGrammarEvaluationState,
  LlamaLogLevel,
  resolveChatWrapper,
  TokenBias,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaJsonSchemaGrammar,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import {
  ChunkTooLargeError,
  DeadlineExceededError,
  ModelLoadError,
  ModelOutputError,
  OutputTruncatedError,
} from "../shared/errors.ts";
import { movingAverage, planChunk, type Deadline, type MeasuredSpeeds } from "./budget.ts";
import { sanitizeModelValue } from "./model-output.ts";
import { buildSystemPrompt, buildUserPrompt, type ChunkPromptInput, type JsonSchemaNode } from "./prompt.ts";
import { fitParallelSequences } from "./sequences.ts";

export interface EngineOptions {
  modelPath: string;
  modelId: string;
  threads: number;
  /** Context size per sequence, in tokens: instructions + chunk + answer must fit. */
  contextSize: number;
  maxOutputTokens: number;
  schema: JsonSchemaNode;
  instructions?: string;
  /** Chunks extracted at once (parallel sequences); lowered to what `memoryBytes` holds. Default 1. */
  sequences?: number;
  /** Memory the container may use; bounds the parallel sequences. Default: no bound beyond `sequences`. */
  memoryBytes?: number;
  /**
   * Contexts the threads and sequences are shared out over (default 1). node-llama-cpp's prebuilt addon starts ggml's
   * worker threads anew for every decode of a multi-threaded context; single-threaded contexts decoding side by side
   * avoid that (README → Performance compares both).
   */
  contexts?: number;
  /** A LoRA adapter (GGUF) applied to the model at load, and its scale (default 1). */
  loraPath?: string;
  loraScale?: number;
}

export interface Extraction {
  data: Record<string, unknown>;
  /** Prompt tokens evaluated for this chunk (the reused prefix excluded), by the sequence's token meter. */
  tokensIn: number;
  /** Prompt tokens served from the KV cache (the instructions, after the sequence's first chunk). */
  tokensReused: number;
  tokensOut: number;
  promptMs: number;
  generationMs: number;
  ms: number;
}

export type ExtractionOutcome = { ok: true; extraction: Extraction } | { ok: false; error: Error };

/** What extraction with one schema needs: its grammar and its instructions (the prompt's reusable prefix). */
interface SchemaSetup {
  schema: JsonSchemaNode;
  grammar: LlamaJsonSchemaGrammar<never>;
  systemPrompt: string;
}

// node-llama-cpp's chat defaults: a mild penalty on the answer's last 64 tokens keeps greedy decoding out of loops.
const repeatPenaltyLastTokens = 64;
const repeatPenalty = 1.1;

const jsonEndTrigger = "\n\n\n\n";

// Prompt tokens are fed in slices so the deadline is checked between them: at most 256 tokens, and once the prompt
// speed is known, no more than about two seconds' worth (a big model on few vCPUs evaluates a few dozen tokens/s).
const maxPromptSliceTokens = 256;
const minPromptSliceTokens = 32;
const promptSliceSeconds = 2;

/**
 * llama.cpp loaded once per container: one model, one context with `sequences` parallel sequences decoded in shared
 * batches. Each sequence keeps the chat-formatted instructions in its KV cache, so after its first chunk only the
 * chunk's own tokens are evaluated. Generation runs token by token under the JSON-schema grammar and a deadline.
 */
export class ExtractionEngine {
  private readonly freeSequences: LlamaContextSequence[] = [];
  private readonly waiting: Array<(sequence: LlamaContextSequence) => void> = [];
  private readonly measured: MeasuredSpeeds = {};
  private readonly tokenTexts = new Map<Token, string>();
  private endBias: TokenBias | undefined;
  // Schemas other than the default, prepared on first use (documents choose their schema by upload prefix).
  private readonly setups = new Map<JsonSchemaNode, Promise<SchemaSetup>>();

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly contexts: LlamaContext[],
    private readonly chatWrapper: ChatWrapper,
    private readonly defaultSetup: SchemaSetup,
    readonly options: EngineOptions,
  ) {
    this.setups.set(defaultSetup.schema, Promise.resolve(defaultSetup));
    // Interleaved, and taken from the end: consecutive chunks land on different contexts.
    const perContext = contexts.map((context) => Array.from({ length: context.totalSequences }, () => context.getSequence()));
    const longest = Math.max(...perContext.map((list) => list.length));
    for (let i = longest - 1; i >= 0; i--) {
      for (let c = perContext.length - 1; c >= 0; c--) {
        const sequence = perContext[c]![i];
        if (sequence) this.freeSequences.push(sequence);
      }
    }
  }

  static async load(options: EngineOptions): Promise<ExtractionEngine> {
    let llama: Llama;
    let model: LlamaModel;
    try {
      // Prebuilt binaries only: a source build would need a compiler and a writable node_modules, neither of which
      // Lambda has. maxThreads caps ggml's pool at what we were given.
      llama = await getLlama({ gpu: false, build: "never", maxThreads: options.threads, logLevel: LlamaLogLevel.warn });
    } catch (error) {
      throw new ModelLoadError(
        `llama.cpp's prebuilt binary could not be loaded (it needs glibc >= 2.34 and GLIBCXX_3.4.30; Alpine is not supported): ${String(error)}`,
        { cause: error },
      );
    }
    try {
      model = await llama.loadModel({ modelPath: options.modelPath });
    } catch (error) {
      throw new ModelLoadError(`Could not load the model file ${options.modelPath}: ${String(error)}`, { cause: error });
    }
    // A context beyond what the model was trained on degrades answers; never ask for more.
    const contextSize = Math.min(options.contextSize, model.trainContextSize);
    const sequences = await parallelSequences(model, contextSize, options);
    const contextCount = Math.max(1, Math.min(options.contexts ?? 1, options.threads, sequences));
    const contexts: LlamaContext[] = [];
    try {
      for (let c = 0; c < contextCount; c++) {
        // Threads and sequences shared out as evenly as they go.
        const threads = Math.floor(options.threads / contextCount) + (c < options.threads % contextCount ? 1 : 0);
        contexts.push(
          await model.createContext({
            contextSize,
            sequences: Math.floor(sequences / contextCount) + (c < sequences % contextCount ? 1 : 0),
            threads: { ideal: threads, min: threads },
            ...(options.loraPath ? { lora: { adapters: [{ filePath: options.loraPath, scale: options.loraScale ?? 1 }] } } : {}),
          }),
        );
      }
    } catch (error) {
      await model.dispose();
      throw new ModelLoadError(
        `Could not create ${contextCount} ${contextSize}-token context(s) with ${sequences} sequences` +
          `${options.loraPath ? ` and the LoRA adapter ${options.loraPath}` : ""}: ${String(error)}`,
        { cause: error },
      );
    }
    const chatWrapper = resolveChatWrapper(model);
    const setup = await prepareSchema(llama, options.schema, options.instructions);
    return new ExtractionEngine(llama, model, contexts, chatWrapper, setup, options);
  }

  private setupFor(schema: JsonSchemaNode | undefined): Promise<SchemaSetup> {
    if (schema === undefined) return Promise.resolve(this.defaultSetup);
    let setup = this.setups.get(schema);
    if (!setup) {
      setup = prepareSchema(this.llama, schema, this.options.instructions);
      this.setups.set(schema, setup);
    }
    return setup;
  }

  /** Chunks this engine extracts at once. */
  get parallelSequences(): number {
    return this.contexts.reduce((sum, context) => sum + context.totalSequences, 0);
  }

  get contextSize(): number {
    return this.contexts[0]!.contextSize;
  }

  /** Per-sequence speeds measured so far in this container. */
  get speeds(): Readonly<MeasuredSpeeds> {
    return this.measured;
  }

  /** A plain text's tokens by the model's own tokenizer. */
  tokenize(text: string): Token[] {
    return this.model.tokenize(text);
  }

  countTokens(text: string): number {
    return this.tokenize(text).length;
  }

  /** The whole chat-formatted prompt of a chunk, by the model's own tokenizer and chat template. */
  promptTokens(chunk: ChunkPromptInput, setup: SchemaSetup = this.defaultSetup): Token[] {
    const { contextText } = this.chatWrapper.generateContextState({
      chatHistory: [
        { type: "system", text: setup.systemPrompt },
        { type: "user", text: buildUserPrompt(chunk) },
        { type: "model", response: [] },
      ],
    });
    return contextText.tokenize(this.model.tokenizer);
  }

  /**
   * Extracts one chunk on the next free sequence, with `schema` (default: the engine's). Without a deadline it runs
   * until the answer is complete.
   */
  async extract(chunk: ChunkPromptInput, deadline?: Deadline, schema?: JsonSchemaNode): Promise<Extraction> {
    const setup = await this.setupFor(schema);
    const tokens = this.promptTokens(chunk, setup);
    const answerCap = chunk.maxOutputTokens ?? this.options.maxOutputTokens;
    // No silent context shift: a prompt that does not fit with its answer budget is refused up front.
    if (tokens.length + answerCap > this.contextSize) {
      throw new ChunkTooLargeError(
        `Chunk needs ${tokens.length} prompt tokens + ${answerCap} answer tokens, ` +
          `more than the context of ${this.contextSize}; use smaller chunks or a larger context`,
      );
    }
    return this.withSequence((sequence) => this.extractOn(sequence, tokens, deadline, setup, answerCap));
  }

  /** Extracts chunks concurrently, as many at once as there are sequences; outcomes in input order. */
  extractAll(chunks: ChunkPromptInput[], deadline?: Deadline, schema?: JsonSchemaNode): Promise<ExtractionOutcome[]> {
    return Promise.all(
      chunks.map((chunk) =>
        this.extract(chunk, deadline, schema).then(
          (extraction): ExtractionOutcome => ({ ok: true, extraction }),
          (error: unknown): ExtractionOutcome => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
        ),
      ),
    );
  }

  private async extractOn(
    sequence: LlamaContextSequence,
    tokens: Token[],
    deadline: Deadline | undefined,
    setup: SchemaSetup,
    answerCap: number,
  ): Promise<Extraction> {
    const reused = commonPrefixLength(sequence.contextTokens, tokens);
    // At least the last prompt token is evaluated: its logits give the first answer token.
    const toEvaluate = tokens.length - Math.min(reused, tokens.length - 1);
    let maxTokens = answerCap;
    if (deadline) {
      const plan = planChunk({ promptTokens: toEvaluate, maxOutputTokens: maxTokens, speeds: this.measured, deadline });
      if (plan.decision === "split") {
        throw new DeadlineExceededError(
          `Chunk would take about ${Math.round(plan.estimatedMs / 1000)} s at the measured speeds, ` +
            `more than a whole invocation's budget of ${Math.round(deadline.freshBudgetMs / 1000)} s`,
          "too-slow",
        );
      }
      if (plan.decision === "later") {
        throw new DeadlineExceededError(
          `Not started: about ${Math.round(plan.estimatedMs / 1000)} s needed, less left before this invocation's deadline`,
          "no-time-left",
        );
      }
      maxTokens = plan.maxTokens;
    }
    const started = performance.now();
    const meterBefore = sequence.tokenMeter.usedInputTokens;
    const pending = await this.feedPrompt(sequence, tokens, deadline);
    const answer = await this.generate(sequence, pending, { maxTokens, deadline, constrained: true, grammar: setup.grammar });
    const { tokens: output, firstTokenAt, truncated } = answer;
    const finished = performance.now();
    const promptMs = (firstTokenAt ?? finished) - started;
    const generationMs = finished - (firstTokenAt ?? finished);
    const tokensIn = sequence.tokenMeter.usedInputTokens - meterBefore;
    this.learn(tokensIn, promptMs, output.length, generationMs);
    if (truncated) {
      if (maxTokens < answerCap) {
        throw new DeadlineExceededError(
          `The answer reached the ${maxTokens} tokens the remaining time allows (cap ${answerCap})`,
          "cut",
        );
      }
      throw new OutputTruncatedError(
        `The answer reached the cap of ${answerCap} output tokens before the JSON was complete`,
      );
    }
    const text = this.model.detokenize(output).trimEnd();
    let parsed: unknown;
    try {
      parsed = setup.grammar.parse(text);
    } catch (error) {
      throw new ModelOutputError(`The model's answer is not valid JSON for the schema: ${String(error)}`, { cause: error });
    }
    const data = sanitizeModelValue(parsed, setup.schema);
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new ModelOutputError("The model's answer is not a JSON object");
    }
    return {
      data: data as Record<string, unknown>,
      tokensIn,
      tokensReused: tokens.length - toEvaluate,
      tokensOut: output.length,
      promptMs: Math.round(promptMs),
      generationMs: Math.round(generationMs),
      ms: Math.round(finished - started),
    };
  }

  /**
   * Brings a sequence's state to `tokens` minus what it must still evaluate: reuses the longest common prefix already
   * in its KV cache, evaluates the rest but the last token in slices (checking the deadline between them), and
   * returns the tokens left for `generate` (at least one: its logits give the first answer token).
   */
  async feedPrompt(sequence: LlamaContextSequence, tokens: Token[], deadline?: Deadline): Promise<Token[]> {
    await sequence.adaptStateToTokens(tokens, false);
    let next = sequence.nextTokenIndex;
    if (next >= tokens.length) {
      await sequence.eraseContextTokenRanges([{ start: tokens.length - 1, end: sequence.nextTokenIndex }]);
      next = tokens.length - 1;
    }
    const speed = this.measured.promptTokensPerSecond;
    const slice = speed
      ? Math.max(minPromptSliceTokens, Math.min(maxPromptSliceTokens, Math.floor(speed * promptSliceSeconds)))
      : maxPromptSliceTokens;
    while (tokens.length - next > slice) {
      checkDeadline(deadline, "the prompt", next);
      await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(next, next + slice));
      next += slice;
    }
    checkDeadline(deadline, "the prompt", next);
    return tokens.slice(next);
  }

  /**
   * Evaluates `pending` and generates greedily, token by token, until the answer ends, `maxTokens` is reached
   * (`truncated`) or the deadline passes (DeadlineExceeded). `constrained`: under the schema's JSON grammar, as
   * extraction runs; unconstrained generation that ignores end-of-text is what speed benchmarks compare.
   */
  async generate(
    sequence: LlamaContextSequence,
    pending: Token[],
    options: { maxTokens: number; deadline?: Deadline; constrained: boolean; grammar?: LlamaJsonSchemaGrammar<never> },
  ): Promise<{ tokens: Token[]; firstTokenAt: number | undefined; truncated: boolean }> {
    const output: Token[] = [];
    let firstTokenAt: number | undefined;
    let truncated = false;
    const generator = sequence.evaluate(pending, {
      temperature: 0,
      ...(options.constrained
        ? {
            grammarEvaluationState: new LlamaGrammarEvaluationState({
              model: this.model,
              grammar: options.grammar ?? this.defaultSetup.grammar,
            }),
            repeatPenalty: { punishTokens: () => output.slice(-repeatPenaltyLastTokens), penalty: repeatPenalty },
          }
        : { tokenBias: this.noEndBias() }),
    });
    try {
      let tail = "";
      for await (const token of generator) {
        firstTokenAt ??= performance.now();
        output.push(token);
        if (options.constrained) {
          // After the closing brace the JSON grammar allows only whitespace, which a weak model can emit forever:
          // stop at node-llama-cpp's own trigger for JSON grammars, four newlines in a row.
          tail = (tail + this.tokenText(token)).slice(-jsonEndTrigger.length);
          if (tail === jsonEndTrigger) break;
        }
        if (output.length >= options.maxTokens) {
          truncated = true;
          break;
        }
        checkDeadline(options.deadline, "the answer", output.length);
      }
    } finally {
      await generator.return();
    }
    return { tokens: output, firstTokenAt, truncated };
  }

  /** Runs `work` on a free sequence of the context (waiting for one), as extract() does. */
  async withSequence<T>(work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const sequence = await this.acquire();
    try {
      return await work(sequence);
    } finally {
      this.release(sequence);
    }
  }

  private noEndBias(): TokenBias {
    if (!this.endBias) {
      this.endBias = new TokenBias(this.model.tokenizer);
      for (const token of [this.model.tokens.eos, this.model.tokens.eot]) if (token !== null) this.endBias.set(token, "never");
    }
    return this.endBias;
  }

  private tokenText(token: Token): string {
    let text = this.tokenTexts.get(token);
    if (text === undefined) {
      text = this.model.detokenize([token]);
      this.tokenTexts.set(token, text);
    }
    return text;
  }

  private learn(promptTokens: number, promptMs: number, outputTokens: number, generationMs: number): void {
    // Short runs say more about overheads than speed.
    if (promptTokens >= 32 && promptMs > 0) {
      this.measured.promptTokensPerSecond = movingAverage(this.measured.promptTokensPerSecond, (promptTokens * 1000) / promptMs);
    }
    if (outputTokens >= 8 && generationMs > 0) {
      this.measured.generationTokensPerSecond = movingAverage(
        this.measured.generationTokensPerSecond,
        ((outputTokens - 1) * 1000) / generationMs,
      );
    }
    if (outputTokens > 0) this.measured.outputTokens = movingAverage(this.measured.outputTokens, outputTokens);
  }

  private acquire(): Promise<LlamaContextSequence> {
    const free = this.freeSequences.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(sequence: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next(sequence);
    else this.freeSequences.push(sequence);
  }

  async dispose(): Promise<void> {
    for (const context of this.contexts) await context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

async function prepareSchema(llama: Llama, schema: JsonSchemaNode, instructions: string | undefined): Promise<SchemaSetup> {
  const grammar = (await llama.createGrammarForJsonSchema(schema as never)) as LlamaJsonSchemaGrammar<never>;
  return { schema, grammar, systemPrompt: buildSystemPrompt(schema, instructions) };
}

function checkDeadline(deadline: Deadline | undefined, phase: string, done: number): void {
  if (deadline && Date.now() >= deadline.at) {
    throw new DeadlineExceededError(`Deadline reached during ${phase} after ${done} tokens`, "cut");
  }
}

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a[i] === b[i]) i++;
  return i;
}

async function parallelSequences(model: LlamaModel, contextSize: number, options: EngineOptions): Promise<number> {
  const wanted = Math.max(1, options.sequences ?? 1);
  if (wanted === 1 || options.memoryBytes === undefined) return wanted;
  return fitParallelSequences({
    wanted,
    memoryBytes: options.memoryBytes,
    modelBytes: statSync(options.modelPath).size,
    contextBytes: async (n) =>
      (await model.fileInsights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: 0, sequences: n })).cpuRam,
  });
}
