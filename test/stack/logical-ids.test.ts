/**
 * The logical ids of the resources that hold data or audit trails, pinned. CloudFormation treats a resource whose
 * logical id changed as a new one: it creates an empty bucket or table and drops the old one from the stack (a
 * retained one is orphaned with its data). A refactor that moved these resources under a new construct would do
 * that to every existing deployment, so this test spells the ids out instead of deriving them from the constructs.
 */
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { LlambdaStack } from "../../infra/llambda-stack.ts";
import { baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";

describe("retained resources keep their logical ids", () => {
  it("buckets, key, table and log groups", () => {
    const stack = new LlambdaStack(unbundledApp(), "Llambda", { ...baseStackProps, bucketKmsKey: true });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>;
    const retained = Object.entries(resources)
      .filter(([, resource]) => resource.DeletionPolicy === "Retain")
      .map(([id, resource]) => `${id} ${resource.Type}`);
    expect(retained.sort()).toEqual(
      [
        "AccessLogsBucket83982689 AWS::S3::Bucket",
        "DocumentBucketAE41E5A9 AWS::S3::Bucket",
        "DocumentBucketKeyD3AFBA69 AWS::KMS::Key",
        "DocumentTable9FE6D880 AWS::DynamoDB::Table",
        "StartFunctionLogs8D595A45 AWS::Logs::LogGroup",
        "ChunkFunctionLogs18FF6767 AWS::Logs::LogGroup",
        "MergeFunctionLogsF3A096CF AWS::Logs::LogGroup",
        "InferFunctionLogs02017F37 AWS::Logs::LogGroup",
        // Added with the OCR function; pinned from then on like the others.
        "OcrFunctionLogs7A71A4EE AWS::Logs::LogGroup",
        // Added with the review function.
        "ReviewFunctionLogs867C707D AWS::Logs::LogGroup",
        "ResultsConsumerFunctionLogs9489F424 AWS::Logs::LogGroup",
        "DocumentWorkflowLogsE5650210 AWS::Logs::LogGroup",
        "FailedExecutionFunctionLogs2E8C7C78 AWS::Logs::LogGroup",
      ].sort(),
    );
  });
});
