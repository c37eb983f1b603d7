/**
 * Loads the extraction engine on a model with the binary choice given (argv: <model.gguf> <auto|prebuilt> [threads])
 * and prints what it runs as one JSON line: the binary, its contexts' schedule, and a short greedy answer's tokens.
 * A process of its own per choice: two llama.cpp builds do not load side by side in one process (same library names).
 */
import { ExtractionEngine } from "../../functions/infer/engine.ts";
import type { LlamaBinaryChoice } from "../../functions/infer/config.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";

const [modelPath, choice, threads = "2"] = process.argv.slice(2);
const engine = await ExtractionEngine.load({
  modelPath: modelPath!,
  modelId: "test",
  threads: Number(threads),
  contextSize: 4096,
  maxOutputTokens: 768,
  schema: getExtractionSchema("generic"),
  sequences: 2,
  binary: choice as LlamaBinaryChoice,
});
try {
  const outcomes = await engine.extractAll([1, 2].map((n) => ({ text: `Invoice ${n} from Acme Corp. Total due 42.00 EUR.`, pageStart: 1, pageEnd: 1 })));
  process.stdout.write(
    `${JSON.stringify({ binary: engine.binary, ok: outcomes.map((outcome) => outcome.ok || (outcome.error.name)) })}\n`,
  );
} finally {
  await engine.dispose();
}
