import { App, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { boolContext, ContextKeys, intContext, schemaRoutingContext, stringContext } from "./context.ts";
import { LlambdaStack, REPO_ROOT } from "./llambda-stack.ts";
import { manifestDefaultModelId } from "./model-artifact.ts";

/** Used when neither context nor models/models.json names a model. */
const FALLBACK_MODEL_ID = "qwen2.5-1.5b-instruct-q4_k_m";

// Fault injection is for the local twin only (infra/local/faults.ts): never deploy with it.
if (process.env.LLAMBDA_FAULTS) {
  throw new Error("LLAMBDA_FAULTS is set: fault injection runs on the local twin only (npm start, npm run soak); unset it to synth or deploy");
}

const app = new App();
const node = app.node;

const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new LlambdaStack(app, "Llambda", {
  stackName: "Llambda",
  description: "llambda: private, scale-to-zero LLM document extraction (S3 -> Step Functions -> llama.cpp on Lambda -> DynamoDB)",
  // Env-agnostic unless the CLI knows the account/region (it sets these from the credentials and config in use).
  ...(account || region ? { env: { ...(account ? { account } : {}), ...(region ? { region } : {}) } } : {}),
  modelId: stringContext(node, ContextKeys.modelId) ?? manifestDefaultModelId(REPO_ROOT) ?? FALLBACK_MODEL_ID,
  modelSha256: stringContext(node, ContextKeys.modelSha256),
  chunkTokens: intContext(node, ContextKeys.chunkTokens, { min: 64, max: 100_000 }) ?? 1000,
  inferMemoryMb: intContext(node, ContextKeys.inferMemoryMb, { min: 128, max: 10_240 }) ?? 10_240,
  maxConcurrency: intContext(node, ContextKeys.maxConcurrency, { min: 1, max: 10_000 }) ?? 20,
  inferReservedConcurrency: intContext(node, ContextKeys.inferReservedConcurrency, { min: 1, max: 10_000 }),
  schemaRouting: schemaRoutingContext((key) => node.tryGetContext(key)),
  destroyOnRemoval: boolContext(node, ContextKeys.destroyOnRemoval) ?? false,
  tracing: boolContext(node, ContextKeys.tracing) ?? false,
  isolated: boolContext(node, ContextKeys.isolated) ?? false,
  bucketKmsKey: boolContext(node, ContextKeys.bucketKmsKey) ?? false,
});

Tags.of(app).add("project", "llambda");
// Every synth and deploy runs the AwsSolutions checks: an unacknowledged finding stops it (docs/security.md).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
