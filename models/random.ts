/**
 * tsx models/random.ts --shape llama-3.2-1b|llama-3.1-8b --type q4_0|q8_0|f16|f32 --out <path> [--seed N]
 *
 * Writes a random-weight llama model with a real model's shapes, for benchmarks: llama.cpp's speed depends on the
 * shapes and tensor types, not on the weight values, so these measure tokens/s and memory without downloading a
 * model. Streams to disk (constant memory). The output is deterministic for a given shape, type and seed.
 * Sizes: llama-3.2-1b q4_0 ≈ 0.85 GB, q8_0 ≈ 1.6 GB; llama-3.1-8b q4_0 ≈ 4.6 GB, q8_0 ≈ 8.5 GB (output.weight is
 * written untied, so files are a little bigger than the published ones).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { tensorByteSize } from "./ggml-types.ts";
import { REAL_SHAPES, TENSOR_TYPES, buildRandomLlama, parameterCount, writeRandomLlama, type LlamaShape, type TensorTypeName } from "./random-llama.ts";

const shapeNames = Object.keys(REAL_SHAPES) as (keyof typeof REAL_SHAPES)[];
const typeNames = Object.keys(TENSOR_TYPES) as TensorTypeName[];
const USAGE = `Usage: tsx models/random.ts --shape ${shapeNames.join("|")} --type ${typeNames.join("|")} --out <path> [--seed N]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let values: { shape?: string; type?: string; out?: string; seed?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      shape: { type: "string" },
      type: { type: "string", default: "q4_0" },
      out: { type: "string" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const shapeName = values.shape as keyof typeof REAL_SHAPES | undefined;
if (!shapeName || !(shapeName in REAL_SHAPES)) fail(`--shape must be one of ${shapeNames.join(", ")}`);
const type = values.type as TensorTypeName;
if (!typeNames.includes(type)) fail(`--type must be one of ${typeNames.join(", ")}`);
if (!values.out) fail("--out <path> is required");
const seed = Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail("--seed must be an integer from 0 to 4294967295");

const shape: LlamaShape = { ...REAL_SHAPES[shapeName], tensorType: type };
const out = resolve(values.out);
const { tensors } = buildRandomLlama(shape, { seed });
const expectedBytes = tensors.reduce((sum, t) => sum + tensorByteSize(t.ne, t.type), 0);
process.stderr.write(
  `Writing ${out}\n  ${shapeName} shapes, ${type}, seed ${seed}: ${(parameterCount(shape) / 1e9).toFixed(2)} B parameters, ` +
    `≈ ${(expectedBytes / 1e9).toFixed(2)} GB\n`,
);
const started = Date.now();
const result = await writeRandomLlama(out, shape, {
  seed,
  // Not "llama-3.2…" in the name: node-llama-cpp would then try a Llama 3 chat wrapper on a vocabulary without its tokens.
  name: `llambda random (shapes of ${shapeName.replace(/^llama-/, "L")}, ${type})`,
  onTensor: (name, index, count) => {
    if (process.stderr.isTTY) process.stderr.write(`\r  tensor ${index + 1}/${count} ${name}\x1b[K`);
    else if (index % 10 === 0 || index === count - 1) process.stderr.write(`  tensor ${index + 1}/${count} ${name}\n`);
  },
});
if (process.stderr.isTTY) process.stderr.write("\n");
process.stdout.write(
  `path:   ${result.path}\nsize:   ${result.bytes} bytes (${(result.bytes / 1e9).toFixed(2)} GB)\nsha256: ${result.sha256}\n` +
    `time:   ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
