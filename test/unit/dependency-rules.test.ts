import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { cruise, type ICruiseOptions, type ICruiseResult, type IConfiguration } from "dependency-cruiser";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * The layer rules (.dependency-cruiser.mjs, `npm run lint:deps`) bite: a fixture tree in the temp dir, shaped like the
 * repo, breaks each rule once, and the cruise reports each break by the rule's name; the repo itself breaks none.
 */

const rules = ((await import(pathToFileURL(join(repoRoot, ".dependency-cruiser.mjs")).href)) as { default: IConfiguration }).default;

async function violations(baseDir: string, paths: string[], tsConfig?: string): Promise<Array<[string, string, string]>> {
  const options: ICruiseOptions = {
    ...rules.options,
    baseDir,
    validate: true,
    ruleSet: { forbidden: rules.forbidden },
    outputType: "json",
  };
  if (tsConfig) options.tsConfig = { fileName: tsConfig };
  else delete options.tsConfig;
  const { output } = await cruise(paths, options);
  const result = (typeof output === "string" ? JSON.parse(output) : output) as ICruiseResult;
  return result.summary.violations.map((v) => [v.rule.name, v.from, v.to] as [string, string, string]).sort();
}

describe("the dependency rules", () => {
  const fixture = mkdtempSync(join(tmpdir(), "llambda-dependency-rules-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };

  it("report an upward import, a cycle and each other broken rule by name", async () => {
    write("package.json", JSON.stringify({ name: "fixture", type: "module", devDependencies: { "dev-only": "1.0.0" } }));
    write("node_modules/dev-only/package.json", JSON.stringify({ name: "dev-only", version: "1.0.0", main: "index.js" }));
    write("node_modules/dev-only/index.js", "export const tool = 1;\n");
    write("node_modules/dev-only/index.d.ts", "export declare const tool: number;\nexport type Tool = number;\n");
    // functions/shared -> functions/merge and back: an upward import and a cycle.
    write("functions/shared/contracts.ts", 'import { merge } from "../merge/merge.ts";\nexport const contract = merge;\n');
    write("functions/merge/merge.ts", 'import { contract } from "../shared/contracts.ts";\nexport const merge = () => contract;\n');
    write("functions/merge/prompt-user.ts", 'import { prompt } from "../infer/prompt.ts";\nexport const p = prompt;\n');
    write("functions/merge/stack-user.ts", 'import { stack } from "../../infra/stack.ts";\nexport const s = stack;\n');
    write("functions/merge/catalogue-user.ts", 'import { catalogue } from "../catalogue.ts";\nexport const c = catalogue;\n');
    // A devDependency in a Lambda bundle is refused; a type-only import of one is erased, so it is fine.
    write("functions/merge/dev-user.ts", 'import { tool } from "dev-only";\nexport const t = tool;\n');
    write("functions/merge/dev-type-user.ts", 'import type { Tool } from "dev-only";\nexport const t: Tool = 1;\n');
    write("functions/infer/prompt.ts", "export const prompt = 1;\n");
    write("functions/schemas/index.ts", 'import { merge } from "../merge/merge.ts";\nexport const schemas = merge;\n');
    write("functions/catalogue.ts", 'import { merge } from "./merge/merge.ts";\nexport const catalogue = merge;\n');
    write("statemachine/definition.ts", 'import { merge } from "../functions/merge/merge.ts";\nexport const definition = merge;\n');
    write("infra/stack.ts", 'import { twin } from "./local/twin.ts";\nexport const stack = twin;\n');
    write("infra/local/twin.ts", 'import { bench } from "../../bench/run.ts";\nexport const twin = bench;\n');
    write("bench/run.ts", 'import { fixture } from "../test/fixture.ts";\nexport const bench = fixture;\n');
    write("test/fixture.ts", "export const fixture = 1;\n");

    const found = await violations(fixture, ["functions", "statemachine", "infra", "bench", "test"]);
    expect(found).toEqual(
      [
        ["no-circular", "functions/merge/merge.ts", "functions/shared/contracts.ts"],
        ["functions-not-to-tools", "functions/merge/stack-user.ts", "infra/stack.ts"],
        ["shared-not-to-functions", "functions/shared/contracts.ts", "functions/merge/merge.ts"],
        ["schemas-only-to-shared", "functions/schemas/index.ts", "functions/merge/merge.ts"],
        ["stage-not-to-other-stage", "functions/merge/prompt-user.ts", "functions/infer/prompt.ts"],
        ["not-to-catalogue", "functions/merge/catalogue-user.ts", "functions/catalogue.ts"],
        ["statemachine-only-to-shared", "statemachine/definition.ts", "functions/merge/merge.ts"],
        ["infra-not-to-twin-bench-test", "infra/stack.ts", "infra/local/twin.ts"],
        ["twin-not-to-bench-test", "infra/local/twin.ts", "bench/run.ts"],
        ["bench-not-to-test", "bench/run.ts", "test/fixture.ts"],
        ["functions-not-to-dev-dependencies", "functions/merge/dev-user.ts", "node_modules/dev-only/index.js"],
      ].sort(),
    );
    // Every rule of the config is shown to bite.
    expect(new Set(found.map(([rule]) => rule))).toEqual(new Set(rules.forbidden!.map((rule) => rule.name)));
  });

  it("find no violation in the repo", async () => {
    const found = await violations(repoRoot, ["functions", "statemachine", "infra", "bench", "models", "test"], "tsconfig.json");
    expect(found).toEqual([]);
  });
});
