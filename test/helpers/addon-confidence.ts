/**
 * Generates the same greedy JSON answer twice on one llama.cpp binary (argv: <model.gguf> <auto|prebuilt>): once asking
 * for the chosen token's confidence only (the patched addon's top-K path) and once also for the whole distribution
 * (the grammar pass over the whole vocabulary, exact on every build). Prints one JSON line: the binary, each run's
 * tokens and confidences. A process of its own: two llama.cpp builds do not load side by side in one process.
 */
import { LlamaGrammarEvaluationState, type LlamaJsonSchemaGrammar, type Token } from "node-llama-cpp";
import { contextSchedule, loadLlamaBinary } from "../../functions/infer/llama-binary.ts";
import type { LlamaBinaryChoice } from "../../functions/infer/config.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";

const [modelPath, choice] = process.argv.slice(2);
const { llama, buildType } = await loadLlamaBinary({ threads: 2, choice: choice as LlamaBinaryChoice });
const model = await llama.loadModel({ modelPath: modelPath! });
const context = await model.createContext({ contextSize: 2048, threads: 2 });
const grammar = (await llama.createGrammarForJsonSchema(getExtractionSchema("generic") as never)) as LlamaJsonSchemaGrammar<never>;
const prompt = model.tokenize("Invoice 7 from Acme Corp, 1 Main Street. Total due 42.00 EUR. Answer in JSON: ");

async function answer(withDistribution: boolean): Promise<{ tokens: Token[]; confidences: number[] }> {
  const sequence = context.getSequence();
  const tokens: Token[] = [];
  const confidences: number[] = [];
  try {
    const generator = sequence.evaluateWithMetadata(prompt, { confidence: true, probabilities: withDistribution }, {
      temperature: 0,
      grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar }),
      repeatPenalty: { punishTokens: () => tokens.slice(-64), penalty: 1.1 },
    });
    for await (const { token, confidence } of generator) {
      tokens.push(token);
      confidences.push(confidence);
      if (tokens.length >= 48) break;
    }
  } finally {
    sequence.dispose();
  }
  return { tokens, confidences };
}

try {
  const topK = await answer(false);
  const exact = await answer(true);
  process.stdout.write(`${JSON.stringify({ buildType, schedule: contextSchedule(context), topK, exact })}\n`);
} finally {
  await llama.dispose();
}
