import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExtractionEngine } from "../../functions/infer/engine.ts";
import { extractionSchemas, getExtractionSchema } from "../../functions/schemas/index.ts";
import { writeTinyModel } from "../../models/random-llama.ts";

/** The shipped schemas run through llama.cpp (the tiny model); their static checks are in test/unit/schemas.test.ts. */
describe("shipped extraction schemas", () => {
  let dir: string;
  let modelPath: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-schemas-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(Object.keys(extractionSchemas))("%s: llama.cpp decodes under its grammar into a schema-valid answer", async (id) => {
    const schema = getExtractionSchema(id);
    const engine = await ExtractionEngine.load({ modelPath, modelId: "tiny", threads: 1, contextSize: 4096, maxOutputTokens: 1500, schema });
    try {
      const [outcome] = await engine.extractAll([{ text: "Invoice 7 from Acme Corp, 3 widgets at 4.50 USD, total 13.50 USD. Great service!", pageStart: 1, pageEnd: 1 }]);
      if (!outcome!.ok) throw outcome!.error;
      const validate = new Ajv2020.default({ strict: false }).compile(schema);
      expect(validate(outcome!.extraction.data), JSON.stringify(validate.errors)).toBe(true);
    } finally {
      await engine.dispose();
    }
  }, 120_000);
});
