/**
 * Greedy answers of four sequences of one context, each generated alone and then all four at once with the later
 * sequences asking first (argv: <model.gguf> <auto|prebuilt>), so a decode holds their tokens out of sequence order.
 * Prints one JSON line: the binary's schedule and both runs' tokens per sequence. A process of its own: two llama.cpp
 * builds do not load side by side in one process.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { contextSchedule, loadLlamaBinary } from "../../functions/infer/llama-binary.ts";
import type { LlamaBinaryChoice } from "../../functions/infer/config.ts";

const [modelPath, choice] = process.argv.slice(2);
const { llama, buildType } = await loadLlamaBinary({ threads: 2, choice: choice as LlamaBinaryChoice });
const model = await llama.loadModel({ modelPath: modelPath! });
const context = await model.createContext({ contextSize: 512, sequences: 4, threads: 2 });
const sequences = Array.from({ length: 4 }, () => context.getSequence());
const prompts = ["Invoice 7 from Acme Corp", "Minutes of the board meeting", "Patient transcript, page 2", "Total due: 42.00 EUR"].map((text) =>
  model.tokenize(text),
);
const tokensPerAnswer = 24;

async function answer(sequence: LlamaContextSequence, prompt: Token[], delayMs: number): Promise<Token[]> {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const tokens: Token[] = [];
  for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    tokens.push(token);
    if (tokens.length >= tokensPerAnswer) break;
  }
  await sequence.clearHistory();
  return tokens;
}

try {
  const alone: Token[][] = [];
  for (const [i, sequence] of sequences.entries()) alone.push(await answer(sequence, prompts[i]!, 0));
  // The last sequence asks first: node-llama-cpp adds sequences to a decode in the order they asked.
  const together = await Promise.all(sequences.map((sequence, i) => answer(sequence, prompts[i]!, (sequences.length - 1 - i) * 5)));
  console.log(JSON.stringify({ buildType, schedule: contextSchedule(context) ?? null, alone, together }));
} finally {
  await llama.dispose();
}
