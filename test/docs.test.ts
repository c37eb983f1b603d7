import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  chunkRetryPolicy,
  deterministicErrors,
  dynamoDbRetry,
  lambdaRetry,
} from "../statemachine/retry-policy.ts";

/** Documentation that restates code: kept in step with it. */
const doc = (name: string) => readFileSync(join(import.meta.dirname, "..", "docs", name), "utf8");

describe("docs/resilience.md", () => {
  it("names every error of the retry policy, with each rule's attempts", () => {
    const text = doc("resilience.md");
    const errors = [
      ...lambdaRetry.flatMap((rule) => rule.ErrorEquals),
      ...dynamoDbRetry.flatMap((rule) => rule.ErrorEquals),
      ...deterministicErrors,
      ...chunkRetryPolicy.split,
      ...chunkRetryPolicy.largerAnswerBudget.errors,
    ];
    for (const error of errors) expect(text, error).toContain(`\`${error}\``);
    for (const rule of [...lambdaRetry, ...dynamoDbRetry]) expect(text, rule.ErrorEquals[0]).toContain(`${rule.MaxAttempts} retries`);
  });
});
