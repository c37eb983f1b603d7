/**
 * The deploy preflight (infra/preflight.ts): without credentials, region or Docker, `npm run deploy` and
 * `npm run bootstrap` say what is missing and how to fix it, in a second, instead of CDK's generic error after bundling.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/repo-root.ts";

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function fakeHome(files: Record<string, string> = {}): string {
  const home = mkdtempSync(join(tmpdir(), "llambda-preflight-home-"));
  homes.push(home);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(home, path)), { recursive: true });
    writeFileSync(join(home, path), text);
  }
  return home;
}

/** Runs the preflight with only the given environment (no AWS_* of the machine running the tests). */
function runPreflight(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "infra/preflight.ts", ...args], {
      cwd: repoRoot,
      // Instance metadata is not asked: on a machine without it the SDK would wait for its timeout.
      env: { PATH: process.env.PATH ?? "", AWS_EC2_METADATA_DISABLED: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stderr }));
  });
}

describe("deploy preflight", () => {
  it("with an empty environment and HOME, names the missing credentials, region and Docker, and exits 1", async () => {
    const { code, stderr } = await runPreflight(["deploy", "--check"], { HOME: fakeHome(), CDK_DOCKER: "llambda-no-such-docker" });
    expect(code).toBe(1);
    expect(stderr).toContain("cdk deploy cannot run yet");
    expect(stderr).toMatch(/No AWS credentials found \(.+\)/);
    expect(stderr).toContain("aws configure");
    expect(stderr).toContain("AWS_ACCESS_KEY_ID");
    expect(stderr).toContain("No AWS region");
    expect(stderr).toContain("export AWS_REGION=");
    expect(stderr).toContain("Docker is not available");
    expect(stderr).toContain("cdk synth` needs none of this");
    expect(stderr).not.toContain("NodeVersionSupportWarning");
  }, 60_000);

  it("bootstrap needs no Docker; credentials and region from the profile files pass", async () => {
    const home = fakeHome({
      ".aws/credentials": "[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\naws_secret_access_key = not-a-real-secret\n",
      ".aws/config": "[default]\nregion = eu-west-1\n",
    });
    const { code, stderr } = await runPreflight(["bootstrap", "--check"], { HOME: home, CDK_DOCKER: "llambda-no-such-docker" });
    expect(stderr).toContain("Preflight for cdk bootstrap: credentials, region found.");
    expect(code).toBe(0);
  }, 60_000);

  it("names the profile in use and fixes for it", async () => {
    const { code, stderr } = await runPreflight(["bootstrap", "--check"], { HOME: fakeHome(), AWS_PROFILE: "llambda-dev" });
    expect(code).toBe(1);
    expect(stderr).toContain('profile "llambda-dev"');
    expect(stderr).toContain("aws configure set region eu-west-1 --profile llambda-dev`");
    expect(stderr).toContain("aws sso login --profile llambda-dev");
  }, 60_000);

  it("rejects an unknown command with the usage, exit 2", async () => {
    const { code, stderr } = await runPreflight(["destroy"], { HOME: fakeHome() });
    expect(code).toBe(2);
    expect(stderr).toContain("npm run deploy");
  }, 60_000);
});
