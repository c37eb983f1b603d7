import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InferBatchInput, InferBatchOutput } from "../../functions/shared/contracts.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { handlerBuildOptions } from "../../infra/esbuild-options.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { chunkItem } from "../helpers/chunk-items.ts";

/** bubblewrap (Debian `bubblewrap`, installed by .ci/run) and a kernel that lets it create namespaces. */
function bubblewrapProblem(): string | undefined {
  const probe = spawnSync("bwrap", ["--ro-bind", "/", "/", "--unshare-all", "true"], { encoding: "utf8" });
  if (probe.error) return `bwrap is not installed (${probe.error.message}); apt-get install bubblewrap`;
  if (probe.status !== 0) return `bwrap cannot create a sandbox here: ${probe.stderr.trim()}`;
  return undefined;
}
const sandboxProblem = bubblewrapProblem();
if (sandboxProblem) console.warn(`Skipping the read-only sandbox test: ${sandboxProblem}`);

/**
 * The inference handler as the container image runs it: bundled by the image's esbuild settings, node-llama-cpp
 * external (the image copies it beside the bundle), model loaded at init, one batch of chunks per invocation.
 */
describe("inference handler bundle", () => {
  let dir: string;
  let modelPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-infer-bundle-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
    await build({ ...handlerBuildOptions("functions/infer/handler.ts", join(dir, "handler.mjs")), logLevel: "error" });
    // The image has node-llama-cpp in node_modules next to the bundle; so does this directory.
    symlinkSync(resolve("node_modules"), join(dir, "node_modules"), "dir");
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs an ES module script in a fresh Node process (a file, not --eval: node-llama-cpp forks with execArgv). */
  function runScript(name: string, source: string, env: NodeJS.ProcessEnv) {
    const file = join(dir, name);
    writeFileSync(file, source);
    return promisify(execFile)(process.execPath, [file], { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 });
  }

  it("loads the model at init and returns one result per chunk, in order, with token counts", async () => {
    const batch: InferBatchInput = {
      Items: [0, 1].map((index) => chunkItem({ documentId: "doc", index, pageStart: index + 1, pageEnd: index + 1, charEnd: 17, tokenCount: 6, text: `Invoice ${index} from Acme.` })),
      BatchInput: { documentId: "doc" },
    };
    const script = `const { handler } = await import(${JSON.stringify(join(dir, "handler.mjs"))}); ` +
      `process.stdout.write("RESULT" + JSON.stringify(await handler(${JSON.stringify(batch)})));`;
    const { stdout } = await runScript("invoke.mjs", script, {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: "SILENT",
      [EnvNames.modelPath]: modelPath,
      [EnvNames.modelId]: "tiny-test",
      [EnvNames.threads]: "1",
      [EnvNames.maxOutputTokens]: "768",
    });
    const output = JSON.parse(stdout.slice(stdout.indexOf("RESULT") + "RESULT".length)) as InferBatchOutput;
    expect(output.results.map((r) => [r.index, r.pageStart, r.modelId])).toEqual([[0, 1, "tiny-test"], [1, 2, "tiny-test"]]);
    for (const result of output.results) {
      expect(result.tokensIn).toBeGreaterThan(0);
      expect(result.tokensOut).toBeGreaterThan(0);
      expect(Object.keys(result.data).sort()).toEqual(["amounts", "dates", "documentType", "entities", "language", "summary", "title"]);
    }
    // The instructions stay in the KV cache: the second chunk evaluates far fewer prompt tokens than the first.
    expect(output.results[1]!.tokensIn).toBeLessThan(output.results[0]!.tokensIn / 2);
  }, 120_000);

  it("fails the init with a message naming the missing setting", async () => {
    const script = `await import(${JSON.stringify(join(dir, "handler.mjs"))});`;
    const env: NodeJS.ProcessEnv = { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT" };
    delete env[EnvNames.modelPath];
    await expect(runScript("init-config.mjs", script, env)).rejects.toMatchObject({
      stderr: expect.stringContaining(`Environment variable ${EnvNames.modelPath} is required`),
    });
  });

  it("fails the init with ModelLoadError when the model file cannot be loaded", async () => {
    const script = `await import(${JSON.stringify(join(dir, "handler.mjs"))});`;
    const env = { ...process.env, POWERTOOLS_LOG_LEVEL: "SILENT", [EnvNames.modelPath]: join(dir, "missing.gguf"), [EnvNames.threads]: "1" };
    await expect(runScript("init-model.mjs", script, env)).rejects.toMatchObject({
      stderr: expect.stringMatching(/ModelLoadError[\s\S]*missing\.gguf/),
    });
  });

  // Lambda's file system: everything read-only but /tmp. The handler must load llama.cpp's prebuilt binary and the
  // model, and answer, without writing anywhere else (a source build or a cache in node_modules would fail here).
  it.skipIf(sandboxProblem !== undefined)("runs under Lambda's constraints: read-only root, only /tmp writable, no network", async () => {
    const batch: InferBatchInput = {
      Items: [chunkItem({ documentId: "doc", charEnd: 18, tokenCount: 6, text: "Invoice 7 from Acme." })],
    };
    writeFileSync(
      join(dir, "sandboxed.mjs"),
      `import { writeFileSync } from "node:fs";
      for (const path of ["/var/task/probe", "/opt/llambda/probe", "/probe"]) {
        try { writeFileSync(path, "x"); throw new Error("writable: " + path); } catch (e) { if (!["EROFS", "EACCES", "ENOENT"].includes(e.code)) throw e; }
      }
      writeFileSync("/tmp/probe", "x");
      const { handler } = await import("/var/task/handler.mjs");
      const context = { getRemainingTimeInMillis: () => 60000 };
      process.stdout.write("RESULT" + JSON.stringify(await handler(${JSON.stringify(batch)}, context)));`,
    );
    // A root of its own, like Lambda's: the system (/usr, /etc), the code at /var/task, the model under /opt, the
    // dependencies the bundle's node_modules link points to; then the root itself is made read-only.
    const args = [
      "--ro-bind", "/usr", "/usr",
      ...["bin", "lib", "lib64", "sbin"].flatMap((name) => ["--symlink", `usr/${name}`, `/${name}`]),
      "--ro-bind", "/etc", "/etc",
      // /tmp first: the repository (hence node_modules) may itself live under /tmp, and is bound on top of it.
      "--tmpfs", "/tmp",
      "--ro-bind", dir, "/var/task",
      "--ro-bind", resolve("node_modules"), resolve("node_modules"),
      "--ro-bind", modelPath, "/opt/llambda/model.gguf",
      "--dev", "/dev",
      "--proc", "/proc",
      "--remount-ro", "/",
      "--unshare-all",
      "--die-with-parent",
      "--chdir", "/var/task",
      "--clearenv",
      "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
      "--setenv", "HOME", "/tmp",
      "--setenv", "POWERTOOLS_LOG_LEVEL", "SILENT",
      "--setenv", EnvNames.modelPath, "/opt/llambda/model.gguf",
      "--setenv", EnvNames.modelId, "tiny-sandboxed",
      "--setenv", EnvNames.threads, "1",
      "--setenv", EnvNames.maxOutputTokens, "768",
      process.execPath, "/var/task/sandboxed.mjs",
    ];
    const { stdout } = await promisify(execFile)("bwrap", args, { maxBuffer: 16 * 1024 * 1024 });
    const output = JSON.parse(stdout.slice(stdout.indexOf("RESULT") + "RESULT".length)) as InferBatchOutput;
    expect(output.failed).toEqual([]);
    expect(output.results.map((result) => [result.index, result.modelId])).toEqual([[0, "tiny-sandboxed"]]);
    expect(Object.keys(output.results[0]!.data)).toContain("documentType");
  }, 120_000);
});
