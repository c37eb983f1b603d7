import { statSync } from "node:fs";
import {
  LlamaGrammarEvaluationState,
  resolveChatWrapper,
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
  OutputTruncatedError,
} from "../shared/errors.ts";
import { logger } from "../shared/logger.ts";
import type { LlamaBinaryChoice } from "./config.ts";
import { contextSchedule, loadLlamaBinary, type ContextSchedule, type LlamaBinary } from "./llama-binary.ts";
import { learnSpeeds, planChunk, type Deadline, type MeasuredSpeeds } from "./budget.ts";
import { parseModelAnswer } from "./model-output.ts";
import { tokenCharSpans, valueConfidences } from "./value-confidence.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import { buildSystemPrompt, buildUserPrompt, type ChunkPromptInput } from "./prompt.ts";
import { DraftPredictor } from "./draft-predictor.ts";
import { JsonAnswerTracker } from "./forced-text.ts";
import { SequencePool } from "./sequence-pool.ts";
import { StepBarrier } from "./step-barrier.ts";
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
   * avoid that (docs/performance.md compares both).
   */
  contexts?: number;
  /** A LoRA adapter (GGUF) applied to the model at load, and its scale (default 1). */
  loraPath?: string;
  loraScale?: number;
  /**
   * Read each generated token's probability and give every value of the answer a confidence (`Extraction.confidence`).
   * Default true.
   */
  tokenConfidence?: boolean;
  /**
   * Keep the sequences generating on a context in step (step-barrier.ts), so that each decode holds every one of their
   * next tokens. Default true; false is the path as it was, for the benchmark's comparison.
   */
  stepBarrier?: boolean;
  /**
   * Feed the text the schema's grammar forces (property names, a started `null`, commas; forced-text.ts) in one batch
   * with the token before it, instead of one decode per token. Default true; false is the path as it was.
   */
  forcedTokens?: boolean;
  /**
   * Prompt-lookup speculation (draft-predictor.ts): tokens the answer copies from the prompt are proposed and verified
   * in the decode of the token before them. Greedy output is the same with and without it. Default false
   * (docs/performance.md: what it gains depends on how much the model copies).
   */
  speculation?: boolean;
  /**
   * "auto" (default): the patched llama.cpp build of layers/llama-addon/ when it is there, else node-llama-cpp's
   * prebuilt binaries; "prebuilt": those always (llama-binary.ts).
   */
  binary?: LlamaBinaryChoice;
}

/** The llama.cpp binary an engine runs, and what its contexts report (the patched build's thread pool, KV layout). */
export interface EngineBinary {
  buildType: LlamaBinary["buildType"];
  fallbackReason?: string;
  /** Undefined on the prebuilt addon, which reports nothing. */
  schedule?: ContextSchedule;
}

export interface Extraction {
  data: Record<string, unknown>;
  /**
   * Per scalar leaf path of `data`: the model's probability for the value, the geometric mean of its tokens' (value-confidence.ts).
   * Absent when the engine does not read token probabilities (`tokenConfidence: false`).
   */
  confidence?: Record<string, number>;
  /** Prompt tokens evaluated for this chunk (the reused prefix excluded), by the sequence's token meter. */
  tokensIn: number;
  /** Prompt tokens served from the KV cache (the instructions, after the sequence's first chunk). */
  tokensReused: number;
  tokensOut: number;
  /** How the answer was decoded: evaluations, and answer tokens the grammar forced (fed in a batch, not sampled). */
  decoding?: DecodingStats;
  promptMs: number;
  generationMs: number;
  ms: number;
}

export interface DecodingStats {
  /** Evaluations of the answer: one per sampled token, a forced run riding along with the token before it. */
  decodes: number;
  /** Answer tokens the grammar forced. */
  forced: number;
  /** With speculation: draft tokens proposed, and those the model's own choices confirmed (taken without a decode). */
  drafted: number;
  accepted: number;
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
 * Tokens generated by every engine of this process so far. Read by the local CLI for its progress line (tokens/s
 * while chunks run); a plain counter, so the decode loop pays nothing for it.
 */
export const generationMeter = { tokens: 0 };

/**
 * llama.cpp loaded once per container: one model, one context with `sequences` parallel sequences decoded in shared
 * batches. Each sequence keeps the chat-formatted instructions in its KV cache, so after its first chunk only the
 * chunk's own tokens are evaluated. Generation runs token by token under the JSON-schema grammar and a deadline.
 */
export class ExtractionEngine {
  private readonly sequences: SequencePool;
  private readonly measured: MeasuredSpeeds = {};
  private readonly tokenTexts = new Map<Token, string>();
  // Schemas other than the default, prepared on first use (documents choose their schema by upload prefix).
  private readonly setups = new Map<JsonSchemaNode, Promise<SchemaSetup>>();
  private readonly forcedTexts = new Map<string, Token[]>();

  private constructor(
    readonly binary: EngineBinary,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly contexts: LlamaContext[],
    private readonly chatWrapper: ChatWrapper,
    private readonly defaultSetup: SchemaSetup,
    readonly options: EngineOptions,
  ) {
    this.setups.set(defaultSetup.schema, Promise.resolve(defaultSetup));
    this.sequences = new SequencePool(
      contexts,
      options.speculation ? (context) => context.getSequence({ tokenPredictor: new DraftPredictor() }) : undefined,
    );
  }

  static async load(options: EngineOptions): Promise<ExtractionEngine> {
    let loaded: LlamaBinary;
    let model: LlamaModel;
    try {
      // Never a compile (Lambda has no compiler and a read-only /var/task); maxThreads caps ggml's threads at ours.
      loaded = await loadLlamaBinary({ threads: options.threads, ...(options.binary ? { choice: options.binary } : {}) });
    } catch (error) {
      throw new ModelLoadError(
        `llama.cpp's prebuilt binary could not be loaded (it needs glibc >= 2.34 and GLIBCXX_3.4.30; Alpine is not supported): ${String(error)}`,
        { cause: error },
      );
    }
    const { llama } = loaded;
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
    const schedule = contextSchedule(contexts[0]!);
    const binary: EngineBinary = {
      buildType: loaded.buildType,
      ...(loaded.fallbackReason ? { fallbackReason: loaded.fallbackReason } : {}),
      ...(schedule ? { schedule } : {}),
    };
    return new ExtractionEngine(binary, llama, model, contexts, chatWrapper, setup, options);
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
    // The prompt's evaluated tokens: the meter's count so far and the ones the first generation step evaluates (forced
    // answer tokens, evaluated as input later, are the answer's, not the prompt's).
    const tokensIn = sequence.tokenMeter.usedInputTokens - meterBefore + pending.length;
    const answer = await this.generate(sequence, pending, { maxTokens, deadline, grammar: setup.grammar, schema: setup.schema, prompt: tokens });
    const { tokens: output, probabilities, firstTokenAt, truncated, decoding } = answer;
    const finished = performance.now();
    const promptMs = (firstTokenAt ?? finished) - started;
    const generationMs = finished - (firstTokenAt ?? finished);
    learnSpeeds(this.measured, tokensIn, promptMs, output.length, generationMs);
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
    const data = parseModelAnswer(text, (answer) => setup.grammar.parse(answer), setup.schema);
    const confidence = probabilities ? this.valueConfidences(text, output, probabilities) : undefined;
    return {
      data,
      ...(confidence ? { confidence } : {}),
      tokensIn,
      tokensReused: tokens.length - toEvaluate,
      tokensOut: output.length,
      decoding,
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
   * Evaluates `pending` and generates greedily under the schema's JSON grammar, token by token, until the answer ends,
   * `maxTokens` is reached (`truncated`) or the deadline passes (DeadlineExceeded). With `tokenConfidence` (the
   * default) it also returns each chosen token's probability among the tokens the grammar allows at that point, after
   * the repeat penalty: exact on the prebuilt binaries, a lower bound within 1 % of it on the patched build
   * (docs/inference.md, "The model's confidence in each value"). (The unconstrained
   * generation that speed benchmarks compare with is bench/inference.ts's.)
   */
  private async generate(
    sequence: LlamaContextSequence,
    pending: Token[],
    options: { maxTokens: number; deadline?: Deadline; grammar: LlamaJsonSchemaGrammar<never>; schema: JsonSchemaNode; prompt: Token[] },
  ): Promise<{ tokens: Token[]; probabilities?: number[]; firstTokenAt: number | undefined; truncated: boolean; decoding: DecodingStats }> {
    const output: Token[] = [];
    const readConfidence = this.options.tokenConfidence ?? true;
    const probabilities: number[] = [];
    const decoding: DecodingStats = { decodes: 0, forced: 0, drafted: 0, accepted: 0 };
    const predictor = sequence.tokenPredictor instanceof DraftPredictor ? sequence.tokenPredictor : undefined;
    // Drafts come from this chunk's prompt.
    predictor?.updateInputTokens(options.prompt);
    const proposedBefore = predictor?.proposed ?? 0;
    const usedBefore = sequence.tokenPredictions.used;
    let steps = 0;
    let firstTokenAt: number | undefined;
    let truncated = false;
    const grammarState = new LlamaGrammarEvaluationState({ model: this.model, grammar: options.grammar });
    const tracker = this.options.forcedTokens === false ? undefined : new JsonAnswerTracker(options.schema);
    // evaluate() is this same generator with no metadata, yielding the bare token.
    const generator = sequence.evaluateWithMetadata(pending, { confidence: readConfidence }, {
      temperature: 0,
      grammarEvaluationState: grammarState,
      repeatPenalty: {
        // With drafts, the position sampled now also follows the drafts before it (draft-predictor.ts).
        punishTokens: () => (predictor ? [...output, ...predictor.penaltyExtra()] : output).slice(-repeatPenaltyLastTokens),
        penalty: repeatPenalty,
      },
    });
    const barrier = this.options.stepBarrier === false ? undefined : StepBarrier.of(sequence.context);
    barrier?.join(sequence);
    try {
      let tail = "";
      let step = await generator.next();
      while (!step.done) {
        steps++;
        const generated = step.value;
        const { token } = generated;
        firstTokenAt ??= performance.now();
        // Typed by the option's literal value; `confidence: readConfidence` is a boolean, so read it as optional.
        const answerTokens: Array<{ token: Token; probability: number }> = [
          { token, probability: (generated as { confidence?: number }).confidence ?? Number.NaN },
        ];
        tracker?.append(this.tokenText(token));
        // Verified drafts waiting: the next tokens come without a decode (forcing now would throw them away).
        const draftsWaiting = predictor !== undefined && sequence.tokenPredictions.unused > 0;
        // The grammar's forced text goes into the next evaluation with this token: no sampling, no decode of its own.
        const forced = tracker && !draftsWaiting ? this.acceptForced(tracker, grammarState, options.maxTokens - output.length - 1) : [];
        // A forced token has no alternative under the grammar: probability 1.
        for (const forcedToken of forced) answerTokens.push({ token: forcedToken, probability: 1 });
        decoding.forced += forced.length;
        let ended = false;
        for (const answerToken of answerTokens) {
          output.push(answerToken.token);
          if (readConfidence) probabilities.push(answerToken.probability);
          generationMeter.tokens++;
          // After the closing brace the JSON grammar allows only whitespace, which a weak model can emit forever:
          // stop at node-llama-cpp's own trigger for JSON grammars, four newlines in a row.
          tail = (tail + this.tokenText(answerToken.token)).slice(-jsonEndTrigger.length);
          if (tail === jsonEndTrigger) ended = true;
        }
        if (ended) break;
        if (output.length >= options.maxTokens) {
          truncated = true;
          break;
        }
        checkDeadline(options.deadline, "the answer", output.length);
        // In step with the others only for a step that decodes: a verified draft token needs no decode to wait for.
        if (!draftsWaiting) await barrier?.arrive(sequence);
        step = await generator.next(forced.length > 0 ? [token, ...forced] : undefined);
      }
    } finally {
      barrier?.leave(sequence);
      await generator.return();
    }
    // A confirmed draft token is yielded without a decode of its own.
    decoding.accepted = sequence.tokenPredictions.used - usedBefore;
    decoding.drafted = (predictor?.proposed ?? 0) - proposedBefore;
    decoding.decodes = steps - decoding.accepted;
    return { tokens: output, ...(readConfidence ? { probabilities } : {}), firstTokenAt, truncated, decoding };
  }

  /**
   * The tokens of the text the grammar forces now (at most `budget`), each checked against and accepted by the
   * grammar's state, up to the first it would refuse; the tracker follows them.
   */
  private acceptForced(tracker: JsonAnswerTracker, state: LlamaGrammarEvaluationState, budget: number): Token[] {
    const text = tracker.forced();
    if (text === "" || budget <= 0) return [];
    const accepted: Token[] = [];
    for (const token of this.forcedTokenCache(text).slice(0, budget)) {
      if (!grammarAllows(this.llama, state, token)) break;
      acceptOnGrammar(this.llama, state, token);
      accepted.push(token);
      tracker.append(this.tokenText(token));
    }
    return accepted;
  }

  /** A forced text's tokens; the same few texts (property names) recur in every answer. */
  private forcedTokenCache(text: string): Token[] {
    let tokens = this.forcedTexts.get(text);
    if (tokens === undefined) {
      // Mid-answer text: no leading space of its own (SentencePiece tokenizers add one to a text that starts a prompt).
      tokens = this.model.tokenize(text, false, "trimLeadingSpace");
      this.forcedTexts.set(text, tokens);
    }
    return tokens;
  }

  /**
   * The answer's confidence per value. A by-product: should mapping tokens to values ever fail on an answer that
   * parsed, the chunk keeps its data without confidences rather than failing.
   */
  private valueConfidences(text: string, output: Token[], probabilities: number[]): Record<string, number> | undefined {
    try {
      return valueConfidences(text, tokenCharSpans(output, (tokens, last) => this.model.detokenize(tokens, false, last)), probabilities);
    } catch (error) {
      logger.warn("Token confidences not mapped to the answer's values", { error: String(error).slice(0, 300) });
      return undefined;
    }
  }

  /** Runs `work` on a free sequence of the context (waiting for one), as extract() does. */
  withSequence<T>(work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    return this.sequences.withSequence(work);
  }

  private tokenText(token: Token): string {
    let text = this.tokenTexts.get(token);
    if (text === undefined) {
      text = this.model.detokenize([token]);
      this.tokenTexts.set(token, text);
    }
    return text;
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

/**
 * node-llama-cpp's own grammar checks (internal: the addon's sampler binding, which its token predictors use to
 * check a predicted token against a grammar state). Forcing text needs them; they are not part of its public API.
 */
interface GrammarBindings {
  canBeNextTokenForGrammarEvaluationState(state: unknown, token: Token): boolean;
  acceptGrammarEvaluationStateToken(state: unknown, token: Token): void;
}

function grammarBindings(llama: Llama): GrammarBindings {
  return (llama as unknown as { _bindings: { AddonSampler: GrammarBindings } })._bindings.AddonSampler;
}

function grammarAllows(llama: Llama, state: LlamaGrammarEvaluationState, token: Token): boolean {
  return grammarBindings(llama).canBeNextTokenForGrammarEvaluationState((state as unknown as { _state: unknown })._state, token);
}

function acceptOnGrammar(llama: Llama, state: LlamaGrammarEvaluationState, token: Token): void {
  grammarBindings(llama).acceptGrammarEvaluationStateToken((state as unknown as { _state: unknown })._state, token);
}
