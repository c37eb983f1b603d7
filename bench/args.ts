/** Command-line handling the model benchmarks share: their options and their `--model`. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

type BenchValues = Record<string, string | boolean | undefined>;

/** A bench's options parsed; on a bad option, the message and the usage on stderr and undefined (exit 2). */
function parseBenchArgs(argv: string[], options: NonNullable<ParseArgsConfig["options"]>, usage: string): BenchValues | undefined {
  try {
    return parseArgs({ args: argv, options }).values as BenchValues;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    return undefined;
  }
}

/** `--model` resolved to an absolute path; undefined, after saying why with the usage, when absent or no such file. */
function benchModel(values: BenchValues, usage: string): string | undefined {
  const model = typeof values.model === "string" ? resolve(values.model) : undefined;
  if (model && existsSync(model)) return model;
  process.stderr.write(`${model ? `No such model file: ${model}\n` : ""}${usage}\n`);
  return undefined;
}

/** A model benchmark's options and its `--model` (added to `options`); undefined when either is wrong (exit 2). */
export function parseModelBenchArgs(
  argv: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
  usage: string,
): { values: BenchValues; model: string } | undefined {
  const values = parseBenchArgs(argv, { model: { type: "string" }, ...options }, usage);
  const model = values && benchModel(values, usage);
  return values && model ? { values, model } : undefined;
}
