import { App, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ContextKeys, stackFromContext, stringContext } from "./context.ts";
import { LlambdaStack } from "./llambda-stack.ts";

// Fault injection is for the local twin only (infra/local/faults.ts): never deploy with it.
if (process.env.LLAMBDA_FAULTS) {
  throw new Error("LLAMBDA_FAULTS is set: fault injection runs on the local twin only (npm start, npm run soak); unset it to synth or deploy");
}

const app = new App();
// Env-agnostic unless the CLI knows the account/region (it sets these from the credentials and config in use).
const { id, props } = stackFromContext(app.node, { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION });
new LlambdaStack(app, id, props);

Tags.of(app).add("project", "llambda");
const stage = stringContext(app.node, ContextKeys.stage);
if (stage) Tags.of(app).add("stage", stage);
// Every synth and deploy runs the AwsSolutions checks: an unacknowledged finding stops it (docs/security.md).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
