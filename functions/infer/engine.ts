import { getLlama, LlamaChatSession, LlamaLogLevel, type Llama, type LlamaContext, type LlamaJsonSchemaGrammar, type LlamaModel } from "node-llama-cpp";
import { ChunkTooLargeError, ModelLoadError, ModelOutputError, OutputTruncatedError } from "../shared/errors.ts";
import { sanitizeModelValue } from "./model-output.ts";
import { buildSystemPrompt, buildUserPrompt, type ChunkPromptInput, type JsonSchemaNode } from "./prompt.ts";

export interface EngineOptions {
  modelPath: string;
  modelId: string;
  threads: number;
  /** Context size per sequence, in tokens: instructions + chunk + answer must fit. */
  contextSize: number;
  maxOutputTokens: number;
  schema: JsonSchemaNode;
  instructions?: string;
}

export interface Extraction {
  data: Record<string, unknown>;
  tokensIn: number;
  tokensOut: number;
  ms: number;
}

// Chat templates add a few tokens around each turn that tokenize() of the bare text does not count.
const chatTemplateAllowance = 64;

/**
 * llama.cpp loaded once per container: one model, one context, one sequence, one chat session whose system prompt
 * stays in the KV cache between chunks. Extractions run one at a time (Lambda sends one invocation per container; the
 * local twin may call concurrently, so calls queue).
 */
export class ExtractionEngine {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly systemPromptTokens: number;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly session: LlamaChatSession,
    private readonly grammar: LlamaJsonSchemaGrammar<never>,
    readonly options: EngineOptions,
    systemPrompt: string,
  ) {
    this.systemPromptTokens = model.tokenize(systemPrompt).length;
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
    const context = await model.createContext({
      contextSize,
      sequences: 1,
      threads: { ideal: options.threads, min: options.threads },
    });
    const systemPrompt = buildSystemPrompt(options.schema, options.instructions);
    const session = new LlamaChatSession({ contextSequence: context.getSequence(), systemPrompt });
    const grammar = await llama.createGrammarForJsonSchema(options.schema as never);
    return new ExtractionEngine(llama, model, context, session, grammar as LlamaJsonSchemaGrammar<never>, options, systemPrompt);
  }

  /** Tokens of the user turn plus the fixed system prompt, by the model's own tokenizer. */
  promptTokens(chunk: ChunkPromptInput): number {
    return this.systemPromptTokens + this.model.tokenize(buildUserPrompt(chunk)).length + chatTemplateAllowance;
  }

  extract(chunk: ChunkPromptInput, signal?: AbortSignal): Promise<Extraction> {
    const run = this.queue.then(() => this.extractNow(chunk, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async extractNow(chunk: ChunkPromptInput, signal?: AbortSignal): Promise<Extraction> {
    const promptTokens = this.promptTokens(chunk);
    // No silent context shift: a prompt that does not fit with its answer budget is refused up front.
    if (promptTokens + this.options.maxOutputTokens > this.context.contextSize) {
      throw new ChunkTooLargeError(
        `Chunk needs ${promptTokens} prompt tokens + ${this.options.maxOutputTokens} answer tokens, ` +
          `more than the context of ${this.context.contextSize}; use smaller chunks or a larger context`,
      );
    }
    const meter = this.session.sequence.tokenMeter;
    const before = { input: meter.usedInputTokens, output: meter.usedOutputTokens };
    const started = performance.now();
    this.session.resetChatHistory();
    const response = await this.session.promptWithMeta(buildUserPrompt(chunk), {
      grammar: this.grammar,
      maxTokens: this.options.maxOutputTokens,
      temperature: 0,
      signal,
    });
    const ms = Math.round(performance.now() - started);
    const tokensIn = meter.usedInputTokens - before.input;
    const tokensOut = meter.usedOutputTokens - before.output;
    if (response.stopReason === "maxTokens") {
      throw new OutputTruncatedError(
        `The answer reached the cap of ${this.options.maxOutputTokens} output tokens before the JSON was complete`,
      );
    }
    let parsed: unknown;
    try {
      parsed = this.grammar.parse(response.responseText);
    } catch (error) {
      throw new ModelOutputError(`The model's answer is not valid JSON for the schema: ${String(error)}`, { cause: error });
    }
    const data = sanitizeModelValue(parsed, this.options.schema);
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new ModelOutputError("The model's answer is not a JSON object");
    }
    return { data: data as Record<string, unknown>, tokensIn, tokensOut, ms };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
