import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * The inference image's inputs that can be checked without building it (npm run test:image builds and runs it).
 */
describe("inference image inputs", () => {
  const entrypoint = "infra/image/lambda-entrypoint.sh";

  it("the entrypoint runs as a program, as its own message tells users (aws-lambda-rie /lambda-entrypoint.sh)", () => {
    const env = { ...process.env };
    delete env.AWS_LAMBDA_RUNTIME_API;
    // Executed directly, not through sh: a file without its executable bit fails here with EACCES.
    const run = spawnSync(entrypoint, ["handler.handler"], { env, encoding: "utf8" });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(64);
    expect(run.stderr).toContain("AWS_LAMBDA_RUNTIME_API is not set");
  });

  // A checkout gets its modes from git, not from the working tree this test runs in.
  const gitMode = spawnSync("git", ["ls-files", "--stage", "--", entrypoint], { encoding: "utf8" });
  it.skipIf(gitMode.status !== 0 || gitMode.stdout === "")("the entrypoint is committed as executable", () => {
    expect(gitMode.stdout.split(" ")[0]).toBe("100755");
  });

  it("the Runtime Interface Client is installed from a lockfile, at an exact version with its integrity", () => {
    const manifest = JSON.parse(readFileSync("infra/image/ric/package.json", "utf8")) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync("infra/image/ric/package-lock.json", "utf8")) as {
      packages: Record<string, { version?: string; integrity?: string; dependencies?: Record<string, string> }>;
    };
    const wanted = manifest.dependencies["aws-lambda-ric"];
    expect(wanted).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lock.packages[""]?.dependencies?.["aws-lambda-ric"]).toBe(wanted);
    expect(lock.packages["node_modules/aws-lambda-ric"]).toMatchObject({ version: wanted, integrity: expect.stringMatching(/^sha512-/) });
    for (const [location, entry] of Object.entries(lock.packages)) {
      if (location !== "") expect(entry.integrity, location).toMatch(/^sha512-/);
    }
    const dockerfile = readFileSync("infra/image/Dockerfile", "utf8");
    const ricStage = dockerfile.slice(dockerfile.indexOf("AS ric"), dockerfile.indexOf("AS platform"));
    expect(ricStage).toContain("COPY infra/image/ric/package.json infra/image/ric/package-lock.json");
    expect(ricStage).toMatch(/npm ci\b/);
    expect(ricStage).not.toMatch(/npm install\b/);
  });
});
