/** `npm run cost` as a process (bench/cost/run.ts); its arithmetic and chart are in test/unit/cost.test.ts. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { estimateLlambda, hostedDocumentCost } from "../../bench/cost/model.ts";
import { repoRoot } from "../helpers/repo-root.ts";
import { inputs, priceTable } from "../helpers/cost-inputs.ts";

describe("npm run cost (bench/cost/run.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "llambda-cost-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) =>
    promisify(execFile)("npx", ["tsx", "bench/cost/run.ts", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });

  it("estimates from explicit throughput, prints the break-evens and writes an SVG with a line per option", async () => {
    const chart = join(dir, "chart.svg");
    const { stdout } = await run(["--pages", "10", "--prompt-tps", "60.7", "--gen-tps", "13.6", "--chart", chart]);
    expect(stdout).toMatch(/total\s+\$0\.\d+/);
    expect(stdout).toMatch(/break-even/);
    // OCR has its own line, per scanned page, marked as an estimate and kept out of the document's total.
    expect(stdout).toMatch(/OCR, per scanned page \(estimate; not in the total[^\n]*2,048 MB arm64 × 3 s[^\n]*\$0\.0000\d+/);
    expect(stdout).toMatch(/cheaper than llambda above [\d,]+ documents\/month/);
    expect(stdout).toContain(`Chart: ${chart}`);
    for (const model of priceTable.hostedModels) expect(stdout).toContain(model.label);
    const svg = readFileSync(chart, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const series = [...svg.matchAll(/<path data-series="([^"]+)" d="M[^"]+"/g)].map((match) => match[1]);
    expect(series).toHaveLength(1 + priceTable.hostedModels.length);
    expect(series.some((label) => label!.startsWith("llambda"))).toBe(true);
    expect(svg).toContain("document size (pages)");
    expect(svg).toContain("cost per document (USD)");
  });

  it("reads a bench report, and its JSON break-evens are points of equal cost", async () => {
    const bench = join(dir, "bench.json");
    writeFileSync(
      bench,
      JSON.stringify({
        bench: "inference",
        model: "random-llama-3.2-1b-q4_0.gguf",
        cpu: "AMD EPYC",
        cores: 2,
        results: [{ threads: 2, pp: 56.7, tg: 19.3, parallel: [{ sequences: 4, promptTokensPerSecond: 60.7, generationTokensPerSecond: 17.7 }], extraction: [{ sequences: 4, constrainedGenerationTokensPerSecond: 13.6 }] }],
      }),
    );
    // A price table of our own, so the test does not depend on today's prices: one model dear enough to cross.
    const prices = join(dir, "prices.json");
    const table = {
      checkedOn: "2026-11-28",
      currency: "USD",
      hostedModels: [
        { id: "dear", label: "Dear model", provider: "test", inputPerMillionTokens: 1, outputPerMillionTokens: 5, checkedOn: "2026-11-28", source: "https://example.com/dear", verified: true },
        { id: "cheap", label: "Cheap model", provider: "test", inputPerMillionTokens: 0.01, outputPerMillionTokens: 0.01, checkedOn: "2026-11-28", source: "https://example.com/cheap", verified: false, note: "test" },
      ],
      alwaysOnInstances: [{ id: "gpu", label: "GPU", hourlyUsd: 1, checkedOn: "2026-11-28", source: "https://example.com/gpu", verified: true }],
    };
    writeFileSync(prices, JSON.stringify(table));
    const { stdout } = await run(["--pages", "25", "--bench", bench, "--model", "llama-3.2-1b-instruct-q4_k_m", "--speed-factor", "3", "--docs-per-month", "1000", "--prices", prices, "--json", "--chart", join(dir, "b.svg")]);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ model: "llama-3.2-1b-instruct-q4_k_m", modelSource: "--model", measuredModel: "random-llama-3.2-1b-q4_0.gguf" });
    expect(report.modelNote).toMatch(/measured on random-llama-3\.2-1b-q4_0\.gguf, priced as llama-3\.2-1b-instruct-q4_k_m/);
    expect(report.throughput).toMatchObject({ promptTokensPerSecond: 60.7, generationTokensPerSecond: 13.6 });
    expect(report.cost.currency).toBe("USD");
    expect(report.monthly.llambda).toBeCloseTo(1000 * report.cost.total + report.idleMonthlyUsd, 8);
    const [instance] = report.alwaysOn;
    expect(instance.breakEvenDocumentsPerMonth * report.cost.total + report.idleMonthlyUsd).toBeCloseTo(instance.monthlyUsd, 6);
    expect(report.unverifiedPrices).toEqual(["cheap"]);
    const byId = Object.fromEntries(report.hosted.map((h: { id: string }) => [h.id, h]));
    expect(byId.cheap.breakEvenPages).toMatchObject({ crossings: [], llambdaCheaper: "never" });
    expect(byId.dear.breakEvenPages.crossings.length).toBeGreaterThan(0);
    for (const h of [byId.dear]) {
      const price = table.hostedModels.find((model) => model.id === h.id)!;
      const pages = h.breakEvenPages.crossings[0];
      const at = estimateLlambda(inputs({ pages, speedFactor: 3, outputTokensPerChunk: report.inputs.outputTokensPerChunk, modelTokensPerTextToken: report.inputs.modelTokensPerTextToken, instructionTokens: report.inputs.instructionTokens }));
      expect(Math.abs(at.cost.total - hostedDocumentCost(price, at.shape)) / at.cost.total, h.id).toBeLessThan(1e-6);
    }
  });

  const benchReport = (model: string) => ({
    bench: "inference",
    model,
    cpu: "AMD EPYC",
    cores: 2,
    results: [{ threads: 2, pp: 56.7, tg: 19.3, parallel: [{ sequences: 4, promptTokensPerSecond: 60.7, generationTokensPerSecond: 17.7 }], extraction: [{ sequences: 4, constrainedGenerationTokensPerSecond: 13.6 }] }],
  });

  it("refuses to price a bench report of the tiny model as another model unless told which, and then says so", async () => {
    const bench = join(dir, "tiny-bench.json");
    writeFileSync(bench, JSON.stringify(benchReport("tiny.gguf")));
    const refused = await run(["--pages", "10", "--bench", bench, "--chart", join(dir, "tiny.svg")]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/measured tiny\.gguf, which is not a model of models\/models\.json/);
    expect(refused?.stderr).toContain("--model <id>");
    const { stdout, stderr } = await run(["--pages", "10", "--bench", bench, "--model", "qwen2.5-1.5b-instruct-q4_k_m", "--chart", join(dir, "tiny.svg")]);
    expect(stdout).toMatch(/priced as qwen2\.5-1\.5b-instruct-q4_k_m \(--model\)/);
    expect(stdout).toMatch(/NOTE: throughput measured on tiny\.gguf, priced as qwen2\.5-1\.5b-instruct-q4_k_m/);
    expect(stderr).toMatch(/throughput measured on tiny\.gguf/);
  });

  it("prices the model a bench report measured when it is a pulled model of the manifest", async () => {
    const bench = join(dir, "llama-bench.json");
    writeFileSync(bench, JSON.stringify(benchReport("llama-3.2-1b-instruct-q4_k_m.gguf")));
    const { stdout } = await run(["--pages", "10", "--bench", bench, "--json", "--chart", join(dir, "llama.svg")]);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ model: "llama-3.2-1b-instruct-q4_k_m", modelSource: "the model the bench report measured" });
    expect(report.modelNote).toBeUndefined();
  });

  it("refuses without throughput, naming the bench command", async () => {
    const failure = await run(["--pages", "10", "--chart", join(dir, "none.svg")]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("npm run -s bench -- inference --model <gguf> --json");
    expect(failure?.stderr).toContain("--prompt-tps");
  });

  it("refuses a missing --pages and an unknown model with the usage", async () => {
    const noPages = await run(["--prompt-tps", "60", "--gen-tps", "13"]).catch((error: { code: number; stderr: string }) => error);
    expect(noPages).toMatchObject({ code: 2 });
    expect((noPages as { stderr: string }).stderr).toMatch(/--pages is required[\s\S]*Usage: npm run cost/);
    const unknown = await run(["--pages", "3", "--model", "nope", "--prompt-tps", "60", "--gen-tps", "13"]).catch((error: { code: number; stderr: string }) => error);
    expect((unknown as { stderr: string }).stderr).toMatch(/Unknown model id "nope"/);
  });
});
