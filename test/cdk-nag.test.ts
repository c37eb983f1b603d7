/**
 * cdk-nag's AwsSolutions checks over the stack as `cdk synth` builds it, in its variants (default, KMS bucket,
 * tracing). A finding that infra/llambda-stack.ts does not acknowledge, with its reason, fails the synth.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { LlambdaStack, REPO_ROOT, type LlambdaStackProps } from "../infra/llambda-stack.ts";

const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> };
const featureFlags = Object.fromEntries(Object.entries(cdkJson.context).filter(([key]) => !key.startsWith("llambda:")));

const baseProps: LlambdaStackProps = {
  env: { account: "123456789012", region: "eu-west-1" },
  modelId: "test-model-never-pulled",
  chunkTokens: 1000,
  inferMemoryMb: 10240,
  maxConcurrency: 20,
};

/** Synthesizes with the checks; returns the error (with cdk-nag's report) or undefined. */
function nagSynth(props: Partial<LlambdaStackProps>): string | undefined {
  const outdir = mkdtempSync(join(tmpdir(), "llambda-nag-"));
  try {
    // Bundling is skipped: the checks read the template, not the code.
    const app = new App({ outdir, context: { ...featureFlags, "aws:cdk:bundling-stacks": [] } });
    new LlambdaStack(app, "Nag", { ...baseProps, ...props });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    try {
      app.synth();
      return undefined;
    } catch (error) {
      let report = "";
      try {
        report = readFileSync(join(outdir, "validation-report.json"), "utf8");
      } catch {
        // No report: the error itself says what failed.
      }
      return `${String(error)}\n${report.slice(0, 4000)}`;
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

describe("cdk-nag AwsSolutions checks", () => {
  for (const [name, props] of [
    ["default", {}],
    ["KMS-encrypted bucket", { bucketKmsKey: true }],
    ["X-Ray tracing", { tracing: true }],
    ["destroy on removal", { destroyOnRemoval: true }],
    ["isolated (VPC)", { isolated: true }],
    // As `cdk synth` builds it without credentials: account and region unresolved.
    ["environment-agnostic", { env: undefined }],
  ] as const) {
    it(`pass on the ${name} stack, every finding acknowledged with a reason`, () => {
      expect(nagSynth(props)).toBeUndefined();
    }, 120_000);
  }

  it("fail on a finding that is not acknowledged (the check is live)", () => {
    const outdir = mkdtempSync(join(tmpdir(), "llambda-nag-"));
    try {
      const app = new App({ outdir, context: { ...featureFlags, "aws:cdk:bundling-stacks": [] } });
      const stack = new LlambdaStack(app, "Nag", baseProps);
      // A bucket without SSL enforcement or logging: AwsSolutions must object.
      new Bucket(stack, "CarelessBucket");
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow();
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
