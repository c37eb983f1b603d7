/**
 * cdk-nag's AwsSolutions checks over the stack as `cdk synth` builds it, in its variants (default, KMS bucket,
 * tracing, destroy, isolated, alarm e-mail topic, environment-agnostic). A finding that infra/stack/nag-acknowledgements.ts
 * does not acknowledge, with its reason, fails the synth.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validations } from "aws-cdk-lib";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { LlambdaStack, type LlambdaStackProps } from "../../infra/llambda-stack.ts";
import { baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";

/** Synthesizes with the checks (after `extend` adds to the stack); returns the error with cdk-nag's report, or undefined. */
function nagSynth(props: Partial<LlambdaStackProps>, extend?: (stack: LlambdaStack) => void): string | undefined {
  const outdir = mkdtempSync(join(tmpdir(), "llambda-nag-"));
  try {
    // Bundling is skipped: the checks read the template, not the code.
    const app = unbundledApp(outdir);
    extend?.(new LlambdaStack(app, "Nag", { ...baseStackProps, ...props }));
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
    // The alarm topic it creates: SSL-only; its encryption finding acknowledged with the reason.
    ["alarm e-mail topic", { alarmEmail: "ops@example.com" }],
    // As `cdk synth` builds it without credentials: account and region unresolved.
    ["environment-agnostic", { env: undefined }],
  ] as const) {
    it(`pass on the ${name} stack, every finding acknowledged with a reason`, () => {
      expect(nagSynth(props)).toBeUndefined();
    }, 120_000);
  }

  it("fail on a finding that is not acknowledged (the check is live)", () => {
    // A bucket without SSL enforcement or server access logs: AwsSolutions must object, naming the rules and the bucket.
    const failure = nagSynth({}, (stack) => new Bucket(stack, "CarelessBucket"));
    expect(failure).toMatch(/AwsSolutions-S10/);
    expect(failure).toMatch(/AwsSolutions-S1\b/);
    expect(failure).toMatch(/CarelessBucket/);
  }, 120_000);
});
