/**
 * The deploy preflight's rules (infra/preflight.ts) on given dependencies; the command run as a process, without
 * credentials, region or Docker, is in test/e2e/preflight.test.ts.
 */
import { describe, expect, it } from "vitest";
import { preflightProblems, type PreflightDeps } from "../../infra/preflight.ts";

describe("deploy preflight", () => {
  describe("arm64 image builds", () => {
    const deps = (overrides: Partial<PreflightDeps>): PreflightDeps => ({
      env: { AWS_REGION: "eu-west-1" },
      credentials: async () => ({ accessKeyId: "x", secretAccessKey: "y" }),
      region: async () => "eu-west-1",
      docker: async () => ({ server: "linux/amd64" }),
      arm64Emulation: () => false,
      hostPlatform: "linux",
      ...overrides,
    });

    it("on a Linux x86 host, requires arm64 emulation and says how to register it", async () => {
      const problems = await preflightProblems("deploy", deps({}));
      expect(problems.map((problem) => problem.check)).toEqual(["docker"]);
      expect(problems[0]?.message).toContain("tonistiigi/binfmt --install arm64");
      expect(await preflightProblems("deploy", deps({ arm64Emulation: () => true }))).toEqual([]);
    });

    it("accepts an arm64 daemon, and Docker Desktop (which emulates arm64 in its VM)", async () => {
      expect(await preflightProblems("deploy", deps({ docker: async () => ({ server: "linux/arm64" }) }))).toEqual([]);
      expect(await preflightProblems("deploy", deps({ hostPlatform: "darwin" }))).toEqual([]);
      expect(await preflightProblems("bootstrap", deps({ docker: async () => ({ error: "not running" }) }))).toEqual([]);
    });
  });
});
