/**
 * The function catalogue (functions/catalogue.ts): what it says of each function is what the function does. Each
 * configuration reader reads exactly the variables the catalogue lists, the environment a deployment gives holds
 * only variables the function reads, and a value the function would refuse at init is refused when the environment
 * is built (synth time, twin start), naming the function and the variable.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  FunctionCatalogue,
  functionEnvironment,
  functionSpecs,
  validateFunctionEnvironment,
  type DeploymentValues,
} from "../../functions/catalogue.ts";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { reviewMaxPagesRange } from "../../functions/review/config.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { ConfigurationError } from "../../functions/shared/errors.ts";
import { REPO_ROOT } from "../../infra/repo-root.ts";

const values: DeploymentValues = {
  bucketName: "bucket",
  tableName: "table",
  stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:wf",
  schemaRouting: { routes: { "uploads/invoices/": "invoice" }, defaultSchemaId: "generic" },
  ocrRouting: { routes: { "uploads/scans/": "always" }, defaultMode: "auto" },
  ocrLanguage: "eng",
  maxRunningDocuments: 10,
  chunkTokens: 800,
  model: { path: "/opt/model.gguf", id: "model" },
  parallelSequences: 4,
};

/** Runs the reader on `env` and records every variable it looks at. */
function variablesRead(read: (env: Record<string, string | undefined>) => unknown, env: Record<string, string>): Set<string> {
  const seen = new Set<string>();
  read(
    new Proxy(env, {
      get(target, key) {
        if (typeof key === "string") seen.add(key);
        return target[key as string];
      },
    }),
  );
  return seen;
}

describe("function catalogue", () => {
  it.each(functionSpecs.map((spec) => [spec.id, spec] as const))("%s: its reader reads exactly the variables listed", (_id, spec) => {
    const env = functionEnvironment(spec, values);
    const read = variablesRead(spec.readConfig, { ...env, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb) });
    read.delete("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"); // Lambda's own, set by the runtime
    expect([...read].sort()).toEqual([...spec.reads].sort());
    // Nothing is set that the function does not read.
    for (const name of Object.keys(env)) expect(spec.reads, `${spec.id} gets ${name}`).toContain(name);
  });

  it("gives each function the resource names it reads and its own values", () => {
    expect(functionEnvironment(FunctionCatalogue.chunk, values)).toEqual({
      [EnvNames.bucket]: "bucket",
      [EnvNames.chunkTokens]: "800",
    });
    expect(functionEnvironment(FunctionCatalogue.merge, values)).toEqual({
      [EnvNames.table]: "table",
      [EnvNames.bucket]: "bucket",
      [EnvNames.schemaId]: "generic",
    });
    expect(functionEnvironment(FunctionCatalogue.start, values)).toEqual({
      [EnvNames.stateMachineArn]: values.stateMachineArn,
      [EnvNames.schemaRouting]: JSON.stringify(values.schemaRouting),
      [EnvNames.ocr]: "auto",
      [EnvNames.ocrRoutes]: JSON.stringify({ "uploads/scans/": "always" }),
      [EnvNames.maxRunningDocuments]: "10",
    });
    expect(functionEnvironment(FunctionCatalogue.ocr, values)).toEqual({ [EnvNames.bucket]: "bucket", [EnvNames.ocrLanguage]: "eng" });
    const infer = functionEnvironment(FunctionCatalogue.infer, {
      ...values,
      model: { path: "/opt/model.gguf", id: "model", loraPath: "/opt/lora.gguf", loraScale: 0.5 },
      settings: { infer: { [EnvNames.threads]: 6, [EnvNames.contextSize]: undefined } },
    });
    expect(infer).toEqual({
      [EnvNames.modelPath]: "/opt/model.gguf",
      [EnvNames.modelId]: "model",
      [EnvNames.loraPath]: "/opt/lora.gguf",
      [EnvNames.loraScale]: "0.5",
      [EnvNames.parallelSequences]: "4",
      [EnvNames.schemaId]: "generic",
      [EnvNames.threads]: "6",
    });
    expect(functionEnvironment(FunctionCatalogue.consumer, values)).toEqual({});
    expect(functionEnvironment(FunctionCatalogue.review, values)).toEqual({ [EnvNames.table]: "table", [EnvNames.bucket]: "bucket" });
    expect(functionEnvironment(FunctionCatalogue.review, { ...values, settings: { review: { [EnvNames.reviewMaxPages]: 5 } } })).toEqual({
      [EnvNames.table]: "table",
      [EnvNames.bucket]: "bucket",
      [EnvNames.reviewMaxPages]: "5",
    });
  });

  it("refuses, at build time, a value the function would refuse at init, with the function's own message", () => {
    const tooMany = functionEnvironment(FunctionCatalogue.chunk, { ...values, chunkTokens: chunkTokensRange.max + 1 });
    expect(() => validateFunctionEnvironment(FunctionCatalogue.chunk, tooMany, 2048)).toThrow(ConfigurationError);
    expect(() => validateFunctionEnvironment(FunctionCatalogue.chunk, tooMany, 2048)).toThrow(
      `ChunkFunction: Environment variable ${EnvNames.chunkTokens} must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}, got "${chunkTokensRange.max + 1}"`,
    );
    const unknownSchema = functionEnvironment(FunctionCatalogue.merge, {
      ...values,
      schemaRouting: { routes: {}, defaultSchemaId: "no-such-schema" },
    });
    expect(() => validateFunctionEnvironment(FunctionCatalogue.merge, unknownSchema, 1024)).toThrow(/MergeFunction: .*no-such-schema/);
    // A language whose model package is not installed (a well-formed code), and one that is no language code at all.
    const uninstalled = functionEnvironment(FunctionCatalogue.ocr, { ...values, ocrLanguage: "xyz" });
    expect(() => validateFunctionEnvironment(FunctionCatalogue.ocr, uninstalled, 3584)).toThrow(ConfigurationError);
    expect(() => validateFunctionEnvironment(FunctionCatalogue.ocr, uninstalled, 3584)).toThrow(
      /^OcrFunction: LLAMBDA_OCR_LANGUAGE=xyz: its model package @tesseract\.js-data\/xyz is not installed/,
    );
    const notACode = functionEnvironment(FunctionCatalogue.ocr, { ...values, ocrLanguage: "../eng" });
    expect(() => validateFunctionEnvironment(FunctionCatalogue.ocr, notACode, 3584)).toThrow(/^OcrFunction: LLAMBDA_OCR_LANGUAGE must be one Tesseract language code/);
    const noPages = functionEnvironment(FunctionCatalogue.review, { ...values, settings: { review: { [EnvNames.reviewMaxPages]: 0 } } });
    expect(() => validateFunctionEnvironment(FunctionCatalogue.review, noPages, 2048)).toThrow(
      `ReviewFunction: Environment variable ${EnvNames.reviewMaxPages} must be an integer from ${reviewMaxPagesRange.min} to ${reviewMaxPagesRange.max}, got "0"`,
    );
    for (const spec of functionSpecs) {
      expect(() => validateFunctionEnvironment(spec, functionEnvironment(spec, values), spec.memoryMb)).not.toThrow();
    }
  });

  it("names entries that exist and factories that export createHandler", async () => {
    for (const spec of functionSpecs) {
      expect(existsSync(join(REPO_ROOT, spec.entry)), spec.entry).toBe(true);
      // The inference factory loads node-llama-cpp's bindings when imported: its file is checked, not imported.
      if (spec.id === "infer") {
        expect(existsSync(join(REPO_ROOT, spec.factory)), spec.factory).toBe(true);
        continue;
      }
      const factory = (await import(join(REPO_ROOT, spec.factory))) as { createHandler?: unknown };
      expect(typeof factory.createHandler, spec.factory).toBe("function");
    }
    expect(new Set(functionSpecs.map((spec) => spec.constructId)).size).toBe(functionSpecs.length);
  });
});
