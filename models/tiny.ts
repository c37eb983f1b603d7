/**
 * npm run model:tiny [-- --out <path>]
 *
 * Writes the tiny random-weight llama test model (default models/tiny.gguf, or $LLAMBDA_MODELS_DIR/tiny.gguf) and
 * prints its path, size and sha256. Deterministic: every run writes the same bytes. No network needed.
 * The model loads in node-llama-cpp in milliseconds and, under a JSON-schema grammar, writes valid JSON (of random
 * content): for tests of the plumbing, never for real extraction.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { tinyModelPath } from "./paths.ts";
import { TINY_SHAPE, writeTinyModel } from "./random-llama.ts";

const USAGE = "Usage: npm run model:tiny [-- --out <path>]";

let values: { out?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
} else {
  const out = values.out !== undefined ? resolve(values.out) : tinyModelPath();
  const result = await writeTinyModel(out);
  const s = TINY_SHAPE;
  process.stdout.write(
    `path:   ${result.path}\n` +
      `size:   ${result.bytes} bytes (${(result.bytes / 1024).toFixed(1)} KiB)\n` +
      `sha256: ${result.sha256}\n` +
      `shape:  vocab ${s.nVocab}, embd ${s.nEmbd}, layers ${s.nLayers}, ff ${s.nFf}, heads ${s.nHead}/${s.nHeadKv} kv, ${s.tensorType}\n`,
  );
}
