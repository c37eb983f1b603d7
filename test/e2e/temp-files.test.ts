import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * Temporary files of a source checkout's extraction worker (the worker bundled from source, see isolated-extract.ts)
 * must not outlive the process, even one ended by a signal, where no 'exit' hook runs (as a test runner or a user
 * stops it). The child process gets its own TMPDIR, so other processes' files do not matter.
 */
const dir = mkdtempSync(join(tmpdir(), "llambda-temp-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("extraction worker files", () => {
  it("leave nothing behind in the temporary folder when the process is killed by SIGTERM after an extraction", () => {
    const script = `
      import { readFileSync } from "node:fs";
      import { extractIsolated } from "./functions/chunk/isolated-extract.ts";
      import "./infra/dev-worker-bundle.ts";
      const bytes = new Uint8Array(readFileSync("samples/acme-invoice.pdf"));
      const { pages } = await extractIsolated(bytes, { key: "a.pdf", timeoutMs: 60000, memoryMb: 256 });
      process.stdout.write(String(pages.length));
      process.kill(process.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 5000));
    `;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: repoRoot,
      env: { ...process.env, TMPDIR: dir },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.signal, run.stderr).toBe("SIGTERM");
    expect(run.stdout).toBe("2");
    // tsx keeps its transform cache there (tsx-<uid>) on purpose; ours start with llambda-.
    expect(readdirSync(dir).filter((name) => name.startsWith("llambda-"))).toEqual([]);
  }, 90_000);
});
