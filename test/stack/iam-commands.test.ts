/**
 * Least privilege, checked from both ends: every AWS SDK command a function's code sends (found in the handler and
 * every module it imports) must be allowed by that function's role in the synthesized template, and the role may
 * allow nothing else except what the Lambda platform itself needs for that function (listed below, with reasons).
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { LlambdaStack, REPO_ROOT } from "../../infra/llambda-stack.ts";
import { baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";


/** IAM service prefix of each SDK package whose commands the functions send. */
const sdkServices: Record<string, string> = {
  "@aws-sdk/client-s3": "s3",
  "@aws-sdk/client-sfn": "states",
  "@aws-sdk/client-dynamodb": "dynamodb",
  "@aws-sdk/client-sqs": "sqs",
  "@aws-sdk/lib-dynamodb": "dynamodb",
};
/** The DynamoDB document client's commands and the API operations they send. */
const documentClientOperations: Record<string, string> = {
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  Query: "Query",
  Scan: "Scan",
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  TransactGet: "TransactGetItems",
  TransactWrite: "TransactWriteItems",
};

/** The IAM actions a module's source sends through the AWS SDK. */
export function sdkActionsIn(source: string): string[] {
  const imported = new Map<string, string>();
  for (const match of source.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"(@aws-sdk\/[a-z0-9-]+)"/g)) {
    const service = sdkServices[match[2]!];
    if (!service) continue;
    for (const part of match[1]!.split(",")) {
      const [name, alias] = part.replace(/^\s*type\s+/, "").trim().split(/\s+as\s+/);
      if (name) imported.set((alias ?? name).trim(), `${match[2]}|${name.trim()}`);
    }
  }
  const actions = new Set<string>();
  for (const call of source.matchAll(/new\s+([A-Za-z_$][\w$]*)\s*\(/g)) {
    const origin = imported.get(call[1]!);
    if (!origin) continue;
    const [pkg, className] = origin.split("|") as [string, string];
    // Clients (S3Client, DynamoDBDocumentClient...) are constructed too; only commands are calls.
    if (!className.endsWith("Command")) continue;
    const operation = className.replace(/Command$/, "");
    const action =
      pkg === "@aws-sdk/lib-dynamodb" ? `dynamodb:${documentClientOperations[operation] ?? operation}` : `${sdkServices[pkg]}:${operation}`;
    actions.add(action);
    // Reading a given object version is a separate permission.
    if (action === "s3:GetObject" && /VersionId/.test(source.slice(call.index, call.index! + 400))) actions.add("s3:GetObjectVersion");
  }
  return [...actions];
}

/** The handler module and every module of the repository it imports, transitively. */
function moduleClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), match[1]!);
      if (target.endsWith(".ts")) visit(target);
    }
  };
  visit(entry);
  return [...seen];
}

/** What the Lambda platform needs beyond the code's own calls, per function, and why. */
const platformActions: Record<string, Record<string, string>> = {
  all: {
    "logs:CreateLogStream": "the function's own log group",
    "logs:PutLogEvents": "the function's own log group",
  },
  start: Object.fromEntries(
    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"].map(
      (action) => [action, "the upload queue's event source mapping polls with the function's role"],
    ),
  ),
  consumer: {
    ...Object.fromEntries(
      ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"].map((action) => [
        action,
        "the table stream's event source mapping reads with the function's role",
      ]),
    ),
    ...Object.fromEntries(
      ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"].map((action) => [action, "the mapping's on-failure queue"]),
    ),
  },
};

type Json = Record<string, unknown>;
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe("each function's permissions are exactly what its code sends", () => {
  let stack: LlambdaStack;
  let template: Template;

  beforeAll(() => {
    stack = new LlambdaStack(unbundledApp(), "Iam", baseStackProps);
    template = Template.fromStack(stack);
  }, 120_000);

  /** The statements of every policy attached to the function's role. */
  function statementsOf(fn: { role?: { node: { defaultChild?: unknown } } }): Json[] {
    const roleId = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
    return Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((policy) => JSON.stringify((policy.Properties as Json).Roles).includes(`"${roleId}"`))
      .flatMap((policy) => ((policy.Properties as Json).PolicyDocument as { Statement: Json[] }).Statement);
  }

  const functions = () =>
    ({
      start: stack.startFunction,
      chunk: stack.chunkFunction,
      ocr: stack.ocrFunction,
      infer: stack.inferFunction,
      merge: stack.mergeFunction,
      review: stack.reviewFunction,
      consumer: stack.consumerFunction,
      "failed-execution": stack.failedExecutionFunction,
    }) as const;

  for (const name of ["start", "chunk", "ocr", "infer", "merge", "review", "consumer", "failed-execution"] as const) {
    it(`${name}: no permission missing, none extra, no wildcard action`, () => {
      const fn = functions()[name];
      const sent = new Set(moduleClosure(join(REPO_ROOT, "functions", name, "handler.ts")).flatMap((file) => sdkActionsIn(readFileSync(file, "utf8"))));
      const statements = statementsOf(fn);
      const granted = new Set(statements.flatMap((statement) => asArray(statement.Action as string | string[])));
      const platform = { ...platformActions.all, ...platformActions[name] };
      expect([...sent].filter((action) => !granted.has(action)), "sent but not granted").toEqual([]);
      expect([...granted].filter((action) => !sent.has(action) && !(action in platform)), "granted but never sent").toEqual([]);
      expect([...granted].filter((action) => action.includes("*")), "wildcard actions").toEqual([]);
      // Resources are named, except where the action has no resource-level permission (ListStreams).
      for (const statement of statements) {
        if (asArray(statement.Resource).includes("*")) expect(asArray(statement.Action as string | string[]), "Resource *").toEqual(["dynamodb:ListStreams"]);
      }
      if (name === "start") expect([...sent].sort()).toEqual(["states:ListExecutions", "states:StartExecution"]);
      // The upload's version named in the event (GetObject with VersionId), each page's result written.
      if (name === "ocr") expect([...sent].sort()).toEqual(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]);
      // The item (read only), the upload's version, the layout and an offloaded result; the page written.
      if (name === "review") expect([...sent].sort()).toEqual(["dynamodb:GetItem", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]);
    });
  }

  it("finds SDK commands in source as IAM actions, including document-client and versioned reads", () => {
    const source = `
      import { DeleteObjectCommand, GetObjectCommand as Get } from "@aws-sdk/client-s3";
      import { QueryCommand } from "@aws-sdk/lib-dynamodb";
      import { SendMessageCommand } from "@aws-sdk/client-sqs";
      await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      await s3.send(new Get({ Bucket, Key, VersionId: v }));
      await db.send(new QueryCommand({ TableName }));
      await sqs.send(new SendMessageCommand({ QueueUrl }));
      new LocalThingCommand();`;
    expect(sdkActionsIn(source).sort()).toEqual(["dynamodb:Query", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "sqs:SendMessage"]);
  });
});
