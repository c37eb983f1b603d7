import type * as events from "aws-cdk-lib/aws-events";

/** infra/specs.ts writes EventBridge patterns as JSON (`detail-type`); the CDK's EventPattern is camelCase. */
export function toCdkEventPattern(pattern: Record<string, unknown>): events.EventPattern {
  const keys: Record<string, keyof events.EventPattern> = {
    version: "version",
    id: "id",
    "detail-type": "detailType",
    source: "source",
    account: "account",
    time: "time",
    region: "region",
    resources: "resources",
    detail: "detail",
  };
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    const cdkKey = keys[key];
    if (cdkKey === undefined) throw new Error(`Unsupported EventBridge pattern field "${key}"`);
    result[cdkKey] = value;
  }
  return result as events.EventPattern;
}
