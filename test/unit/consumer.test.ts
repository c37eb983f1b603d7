/**
 * The example stream consumer (functions/consumer/handler.ts) on DynamoDB stream events: Powertools Batch reports a
 * failed record alone by its sequence number, a batch that fails entirely throws (so the event source bisects it),
 * and every log line carries the invocation (request id, cold start) and the record's document.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

let server: Server;
const requested: string[] = [];
let handler: (event: DynamoDBStreamEvent, context?: Context) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;

beforeAll(async () => {
  // A stand-in S3 that has no objects: a result stored in S3 cannot be read.
  server = createServer((request, response) => {
    requested.push(request.url ?? "");
    response.writeHead(404, { "content-type": "application/xml" });
    response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    // As Lambda sets it for on-demand functions: Powertools reports cold starts only for them.
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
  });
  ({ handler } = await import("../../functions/consumer/handler.ts"));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** What the logger writes from now until the test's end, as parsed JSON lines. */
function captureLogs(): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    });
  }
  return lines;
}

const context = (requestId: string): Context =>
  ({
    awsRequestId: requestId,
    functionName: "ResultsConsumerFunction",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:ResultsConsumerFunction",
    memoryLimitInMB: "256",
    getRemainingTimeInMillis: () => 60_000,
  }) as Context;

let sequence = 100;
function record(item: Record<string, unknown> | undefined, eventName: "INSERT" | "MODIFY" | "REMOVE" = "MODIFY"): DynamoDBRecord {
  sequence++;
  return {
    eventID: `e${sequence}`,
    eventName,
    eventSource: "aws:dynamodb",
    awsRegion: "eu-west-1",
    eventSourceARN: "arn:aws:dynamodb:eu-west-1:123456789012:table/Documents/stream/2026-01-01T00:00:00.000",
    dynamodb: {
      SequenceNumber: String(sequence),
      Keys: { documentId: { S: String(item?.documentId ?? "gone") } },
      ...(item ? { NewImage: marshall(item, { removeUndefinedValues: true }) as never } : {}),
    },
  };
}

const item = (documentId: string, extra: Record<string, unknown> = {}) => ({
  documentId,
  kind: "document",
  status: "COMPLETED",
  version: 1,
  schemaId: "generic",
  executionArn: `arn:aws:states:eu-west-1:123456789012:execution:wf:${documentId}`,
  source: { bucket: "documents", key: `uploads/${documentId}.pdf` },
  chunks: { total: 1, succeeded: 1, failed: 0 },
  ...extra,
});

describe("example stream consumer", () => {
  it("reports only the record that failed, by its sequence number, and logs each with its document and invocation", async () => {
    const logs = captureLogs();
    const stored = record(item("stored", { resultLocation: { bucket: "documents", key: "results/stored.json", bytes: 500_000 } }));
    const event: DynamoDBStreamEvent = {
      Records: [record(item("inline", { result: { title: "T", total: null } })), record(undefined, "REMOVE"), stored, record(item("after"))],
    };
    const response = await handler(event, context("req-1"));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: stored.dynamodb!.SequenceNumber }]);
    expect(requested.some((url) => url.includes("results/stored.json"))).toBe(true);

    const ready = logs.filter((line) => line.message === "Document ready");
    expect(ready.map((line) => line.document)).toEqual(["inline", "after"]);
    expect(ready[0]).toMatchObject({ function_request_id: "req-1", cold_start: true, fieldsWithValues: ["title"] });
    expect(logs).toContainEqual(expect.objectContaining({ level: "ERROR", message: "Could not handle a ready document", document: "stored" }));
    // Keys of one record do not leak into the next one's lines.
    expect(ready[1]?.execution).toBe("arn:aws:states:eu-west-1:123456789012:execution:wf:after");
  });

  it("throws when every record fails, so the event source bisects and retries the batch; later invocations are warm", async () => {
    const logs = captureLogs();
    const event: DynamoDBStreamEvent = {
      Records: [record(item("s1", { resultLocation: { bucket: "documents", key: "results/s1.json", bytes: 1 } }))],
    };
    await expect(handler(event, context("req-2"))).rejects.toThrow(/All records failed/);
    expect(logs.find((line) => line.document === "s1")).toMatchObject({ function_request_id: "req-2", cold_start: false });
  });
});
