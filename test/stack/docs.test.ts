import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CfnOutput, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkFile } from "../../bench/chunk-file.ts";
import { IsolatedExtractor } from "../../functions/chunk/isolated-extract.ts";
import { createCl100kTokenizer } from "../../functions/chunk/tokenizer.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import { ContextKeys } from "../../infra/context.ts";
import { LambdaInvocationError } from "../../infra/local/lambda-runtime.ts";
import { LlambdaStack, type LlambdaStackProps } from "../../infra/llambda-stack.ts";
import { baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";
import {
  chunkRetryPolicy,
  deterministicErrors,
  dynamoDbRetry,
  lambdaRetry,
} from "../../statemachine/retry-policy.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/** Documentation that restates code: kept in step with it. */
const doc = (name: string) => readFileSync(join(repoRoot, "docs", name), "utf8");
const readme = () => readFileSync(join(repoRoot, "README.md"), "utf8");
/** README.md and every docs/*.md, by path relative to the repository. */
const allDocs = (): Array<{ path: string; text: string }> => [
  { path: "README.md", text: readme() },
  ...readdirSync(join(repoRoot, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => ({ path: `docs/${name}`, text: doc(name) })),
];

const numberWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
/** The number a docs sentence states, as a word ("six") or in digits. */
function statedNumber(word: string): number {
  const index = numberWords.indexOf(word.toLowerCase());
  return index >= 0 ? index : Number(word);
}

/** CDK apps get an output folder even when nothing is synthesized: one of ours, removed after the tests. */
const cdkOut = mkdtempSync(join(tmpdir(), "llambda-docs-cdk-"));
afterAll(() => rmSync(cdkOut, { recursive: true, force: true }));

/** The stack as `cdk synth` builds it, but only constructed (no synth, no bundling): its tree is what the tests read. */
function stackOf(props: Partial<LlambdaStackProps> = {}, id = "Docs"): LlambdaStack {
  return new LlambdaStack(unbundledApp(mkdtempSync(join(cdkOut, `${id}-`))), id, { ...baseStackProps, ...props });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = githubSlug(heading[1]!);
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return anchors;
}

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

describe("docs against the stack", () => {
  const stack = stackOf();

  it("deploy.md counts the stack's Lambda functions, zips and images as the stack defines them", () => {
    const functions = stack.node.findAll().filter((construct) => construct instanceof lambda.Function);
    const zips = functions.filter((fn) => fn instanceof NodejsFunction);
    const images = functions.filter((fn) => fn instanceof lambda.DockerImageFunction);
    const text = doc("deploy.md").replace(/\s+/g, " ");
    const stated = /(\w+) Lambda functions \((\w+) small Node\.js zips(?:[^)]*?;)? and (\w+) arm64 container image/.exec(text);
    expect(stated, "deploy.md: '<n> Lambda functions (<n> small Node.js zips …; and <n> arm64 container image'").not.toBeNull();
    expect({ functions: statedNumber(stated![1]!), zips: statedNumber(stated![2]!), images: statedNumber(stated![3]!) }).toEqual({
      functions: functions.length,
      zips: zips.length,
      images: images.length,
    });
  });

  it("observability.md and security.md give the state machine's log level and execution data as the template has them", () => {
    const machine = stack.stateMachine.node.defaultChild as sfn.CfnStateMachine;
    const logging = Stack.of(stack).resolve(machine.loggingConfiguration) as { level: string; includeExecutionData: boolean };
    const observability = doc("observability.md").replace(/\s+/g, " ");
    const stated = /\*\*The state machine\*\* logs [^.]*?level `?(\w+)`?/.exec(observability);
    expect(stated, "observability.md: '**The state machine** logs … level `<LEVEL>`'").not.toBeNull();
    expect(stated![1]).toBe(logging.level);
    expect(logging.includeExecutionData).toBe(false);
    expect(observability).toMatch(/\*\*The state machine\*\* logs [^.]*without execution data/);
    // "every event" is what level ALL means; security.md says so.
    expect(doc("security.md").replace(/\s+/g, " ")).toContain(logging.level === "ALL" ? "logs every event" : `level ${logging.level}`);
  });

  it("deploy.md lists every stack output", () => {
    const outputs = new Set<string>();
    // The default stack, and one with every optional output (isolated mode's VPC, the alarm topic).
    for (const built of [stack, stackOf({ isolated: true, alarmEmail: "ops@example.com" }, "DocsFull")]) {
      for (const construct of built.node.findAll()) if (construct instanceof CfnOutput) outputs.add(construct.node.id);
    }
    expect(outputs.size).toBeGreaterThan(5);
    const text = doc("deploy.md").replace(/\s+/g, " ");
    const listed = /The deploy prints the outputs: ([^.]*)\./.exec(text);
    expect(listed, "deploy.md: 'The deploy prints the outputs: …'").not.toBeNull();
    for (const output of outputs) expect(listed![1], output).toContain(`\`${output}\``);
  });
});

describe("docs against the tests and the code", () => {
  it("counts the cdk-nag variants test/stack/cdk-nag.test.ts checks", () => {
    const source = readFileSync(join(repoRoot, "test/stack/cdk-nag.test.ts"), "utf8");
    const table = /for \(const \[name, props\] of \[([\s\S]*?)\] as const\)/.exec(source);
    expect(table, "test/stack/cdk-nag.test.ts: the variants table").not.toBeNull();
    const variants = [...table![1]!.matchAll(/^\s*\["[^"]+",/gm)].length;
    expect(variants).toBeGreaterThan(1);
    let mentions = 0;
    for (const { path, text } of allDocs()) {
      for (const match of text.replace(/\s+/g, " ").matchAll(/cdk-nag[^.]*? (\w+) (?:stack )?variants/g)) {
        mentions++;
        expect(statedNumber(match[1]!), `${path}: "${match[0]}"`).toBe(variants);
      }
    }
    expect(mentions, "docs/security.md states how many variants are checked").toBeGreaterThan(0);
  });

  it("deploy.md's settings table lists exactly the CDK context keys the app reads", () => {
    const rows = [...doc("deploy.md").matchAll(/^\| `(llambda:[A-Za-z0-9]+)` \|/gm)].map((row) => row[1]!);
    expect([...new Set(rows)].sort()).toEqual(Object.values(ContextKeys).sort());
    // The README's shorter table names only keys that exist.
    const keys: string[] = Object.values(ContextKeys);
    for (const [, key] of readme().matchAll(/^\| `(llambda:[A-Za-z0-9]+)` \|/gm)) expect(keys, `README: ${key}`).toContain(key);
  });

  it("README's environment table lists exactly the functions' settings", () => {
    const text = readme();
    const listed = new Set([...text.matchAll(/^\| ([^|]*LLAMBDA_[^|]*)\|/gm)].flatMap((row) => [...row[1]!.matchAll(/`(LLAMBDA_[A-Z0-9_]+)`/g)].map((m) => m[1]!)));
    // The resources the stack wires in (bucket, table, state machine) are not settings.
    const resources: string[] = [EnvNames.bucket, EnvNames.table, EnvNames.stateMachineArn];
    const settings = Object.values(EnvNames).filter((name) => !resources.includes(name));
    expect([...listed].sort()).toEqual([...settings].sort());
  });

  it("input-errors.md lists every input error code and shows the cause as the item holds it: Lambda's error JSON", () => {
    const text = doc("input-errors.md");
    const codesSection = text.slice(text.indexOf("## Codes"), text.indexOf("\n## ", text.indexOf("## Codes") + 1));
    const tableCodes = [...codesSection.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    expect(tableCodes.sort()).toEqual(Object.values(DocumentInputCodes).sort());
    const example = /```json\n([\s\S]*?)```/.exec(text);
    expect(example, "input-errors.md: the example item").not.toBeNull();
    const item = JSON.parse(example![1]!) as { error: string; cause: string };
    const cause = JSON.parse(item.cause) as Record<string, unknown>;
    // The twin reports a failed invocation in Lambda's shape; the example has the same keys.
    const twin = JSON.parse(new LambdaInvocationError("DocumentInputError", "ENCRYPTED: x").message) as Record<string, unknown>;
    expect(Object.keys(cause).sort()).toEqual(Object.keys(twin).sort());
    expect(cause.errorType).toBe(item.error);
    const code = String(cause.errorMessage).slice(0, String(cause.errorMessage).indexOf(":"));
    expect(Object.values(DocumentInputCodes)).toContain(code);
  });
});

describe("README's examples", () => {
  let extractor: IsolatedExtractor;
  const tokenizer = createCl100kTokenizer();
  beforeAll(() => {
    extractor = new IsolatedExtractor({ memoryMb: 1024, reuse: true });
  });
  afterAll(async () => {
    tokenizer.dispose();
    await extractor.close();
  });

  it("shows the chunk count the chunker gives for the sample at that chunk size", async () => {
    const text = readme();
    const examples = [...text.matchAll(/--chunk-tokens (\d+) (samples\/\S+)\n[^\n]*"chunks":\{"total":(\d+)/g)];
    expect(examples.length, "README: the --json example with --chunk-tokens and a sample").toBeGreaterThan(0);
    for (const [, tokens, sample, total] of examples) {
      const outcome = await chunkFile(join(repoRoot, sample!), { maxTokens: Number(tokens), tokenizer, extractor, timeoutMs: 60_000 });
      expect(outcome.chunks, `${sample} at ${tokens} tokens`).toBe(Number(total));
    }
  }, 60_000);
});

describe("links and wording", () => {
  it("every relative link of README.md and docs/*.md reaches a file, and its #anchor a heading there", () => {
    const problems: string[] = [];
    for (const { path, text } of allDocs()) {
      const withoutCode = text.replace(/```[\s\S]*?```/g, "");
      for (const match of withoutCode.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split("#") as [string, string | undefined];
        const resolved = file === "" ? join(repoRoot, path) : resolve(dirname(join(repoRoot, path)), file);
        if (!existsSync(resolved)) {
          problems.push(`${path}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor)) {
          problems.push(`${path}: ${target} (no heading #${anchor})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("has no phrase that only makes sense inside the project's own work (its issues, its notes)", () => {
    for (const { path, text } of allDocs()) {
      expect(text, path).not.toMatch(/shared\/notes|verified-facts|\bthe issue\b|\bissue's\b|\bissue \d+/i);
    }
  });
});
