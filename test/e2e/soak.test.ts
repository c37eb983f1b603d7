import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultInjector, FaultSpecError, parseFaults } from "../../infra/local/faults.ts";
import { formatSoakReport, runSoak, soakPassed } from "../../bench/soak.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/**
 * Faults injected on the twin, through the real workflow definition: throttles and service errors of every function,
 * Lambda timeouts of the inference function, and throttled DynamoDB writes of the workflow are retried by its Retry
 * rules, and every document still ends terminal, once, with the result a fault-free run gives.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

describe("fault specs", () => {
  it("parses targets, faults and rates, and refuses anything else with a clear message", () => {
    expect(parseFaults("infer:error=0.2, infer:timeout=0.05,ddb:throttle=0.1")).toEqual([
      { target: "infer", fault: "error", rate: 0.2 },
      { target: "infer", fault: "timeout", rate: 0.05 },
      { target: "ddb", fault: "throttle", rate: 0.1 },
    ]);
    expect(() => parseFaults("gpu:error=0.1")).toThrow(/unknown target "gpu"/);
    expect(() => parseFaults("ddb:timeout=0.1")).toThrow(/ddb has no fault "timeout"/);
    expect(() => parseFaults("infer:error=2")).toThrow(/from 0 to 1/);
    expect(() => parseFaults("infer=0.1")).toThrow(FaultSpecError);
  });

  it("draws faults at their rates with AWS's error names, the same for the same seed", () => {
    const draw = (seed: number) => {
      const injector = new FaultInjector(parseFaults("infer:error=0.2,infer:timeout=0.05,ddb:throttle=0.5"), seed);
      return Array.from({ length: 4000 }, (_, i) => injector.draw(i % 2 ? "infer" : "ddb")?.name ?? "-");
    };
    const names = draw(7);
    expect(draw(7)).toEqual(names);
    const share = (name: string) => names.filter((n) => n === name).length / 2000;
    expect(share("Lambda.ServiceException")).toBeCloseTo(0.2, 1);
    expect(share("Sandbox.Timedout")).toBeCloseTo(0.8 * 0.05, 1);
    expect(share("DynamoDB.ThrottlingException")).toBeCloseTo(0.5, 1);
    // Per target, the n-th draw does not depend on how calls of other targets interleave.
    const inferOnly = new FaultInjector(parseFaults("infer:error=0.2,ddb:throttle=0.5"), 7);
    const interleaved = new FaultInjector(parseFaults("infer:error=0.2,ddb:throttle=0.5"), 7);
    const alone = Array.from({ length: 50 }, () => inferOnly.draw("infer")?.name ?? "-");
    const mixed = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? (interleaved.draw("ddb"), "") : (interleaved.draw("infer")?.name ?? "-"))).filter(Boolean);
    expect(mixed.slice(0, 50)).toEqual(alone);
    const off = new FaultInjector(parseFaults("infer:error=1"));
    off.enabled = false;
    expect(off.draw("infer")).toBeUndefined();
  });

  it("keeps fault injection off AWS: cdk synth refuses to run with LLAMBDA_FAULTS set", async () => {
    const { spawnSync } = await import("node:child_process");
    const outdir = mkdtempSync(join(tmpdir(), "llambda-synth-"));
    const run = spawnSync(process.execPath, ["--import", "tsx", "infra/app.ts"], {
      cwd: repoRoot,
      env: { ...process.env, LLAMBDA_FAULTS: "infer:error=0.1", CDK_OUTDIR: outdir },
      encoding: "utf8",
    });
    rmSync(outdir, { recursive: true, force: true });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("fault injection runs on the local twin only");
  });
});

describe("a soak on the twin with faults", () => {
  let dir: string;
  let modelPath: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-soak-test-"));
    modelPath = (await writeTinyModel(join(dir, "tiny.gguf"))).path;
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ends every document terminal, once, with unbroken versions and the fault-free results, never more than the admitted number running", async () => {
    const report = await runSoak({
      docs: 10,
      // Every retry rule of the workflow gets work: Lambda service errors and throttles, Lambda timeouts, DynamoDB throttles.
      // infer:timeout has 2 retries, so a batch that draws it 3 times fails (0.1³ per batch at 0.1: seen once in a full
      // run, as which batch gets which draw depends on timing); at 0.05 that is 8× rarer and timeouts still happen.
      faults: "start:error=0.1,chunk:throttle=0.3,infer:error=0.25,infer:timeout=0.05,merge:error=0.3,ddb:throttle=0.2",
      modelPath,
      threads: 1,
      seed: 3,
      baseline: true,
      dataDir: join(dir, "data"),
      retryIntervalMs: 5,
      // A burst of 10 against room for 3: the rest wait in the upload queue.
      maxRunningDocuments: 3,
    });
    expect(soakPassed(report), formatSoakReport(report)).toBe(true);
    expect(report.statuses).toEqual({ COMPLETED: 10 });
    expect(report.baseline?.statuses).toEqual({ COMPLETED: 10 });
    for (const kind of ["chunk:throttle", "infer:error", "merge:error", "ddb:throttle"]) expect(report.injected[kind], kind).toBeGreaterThan(0);
    expect(formatSoakReport(report)).toContain("PASS");
    // Two start invocations may each take a slot of the same free room: at most one over the limit.
    expect(report.peakRunning).toBeLessThanOrEqual(3 + 1);
    expect(report.peakRunning).toBeGreaterThan(1);
  }, 600_000);
});

describe("npm run soak's arguments", () => {
  async function soak(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", join(repoRoot, "bench/soak.ts"), ...args], {
        cwd: repoRoot,
      });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const failed = error as { stdout: string; stderr: string; code: number };
      return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
    }
  }

  it("refuses unknown options, missing and bad values before anything starts: one line, the usage, exit 2, no stack trace", async () => {
    const cases: Array<[string[], string]> = [
      [["--data-dir"], "Unknown option '--data-dir'"],
      [["--docs"], "Option '--docs <value>' argument missing"],
      [["--docs", "0"], "--docs must be an integer ≥ 1, got 0"],
      [["--seed=-1", "--no-baseline"], "--seed must be an integer ≥ 0, got -1"],
      [["extra"], "Unexpected argument 'extra'"],
    ];
    for (const [args, message] of cases) {
      const run = await soak(...args);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.split("\n")[0]).toContain(message);
      expect(run.stderr).toContain("Usage: npm run soak");
      expect(run.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS|TypeError/);
      expect(run.stdout).toBe("");
    }
  }, 120_000);
});
