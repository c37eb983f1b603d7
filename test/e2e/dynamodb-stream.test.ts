import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  TrimmedDataAccessException,
  type GetShardIteratorInput,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TableStreamReader } from "../../infra/local/dynamodb-stream.ts";
import { ensureDocumentTable, freePort, localCredentials, localRegion, startDynamoDb, type DynamoDbServer } from "../../infra/local/services.ts";

/**
 * The twin's stream consumer against a real DynamoDB Local: what readAll() and follow() hand out must be the records
 * a Lambda function would receive from the table's stream, in order and exactly once.
 */
const tableName = "llambda-documents";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

const keyOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.documentId?.S;
const summary = (records: DynamoDBRecord[]) => records.map((record) => `${record.eventName} ${keyOf(record)}`);

describe("TableStreamReader on DynamoDB Local", () => {
  let dir: string;
  let server: DynamoDbServer;
  let dynamodb: DynamoDBClient;
  let reader: TableStreamReader;
  let streamArn: string;
  const readerOptions = () => ({ endpoint: server.url, region: localRegion, credentials: localCredentials, tableName });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-stream-"));
    server = await startDynamoDb(join(dir, "dynamodb"), await freePort());
    dynamodb = new DynamoDBClient({ endpoint: server.url, region: localRegion, credentials: localCredentials });
    await ensureDocumentTable(dynamodb, tableName);
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    streamArn = Table!.LatestStreamArn!;
    reader = new TableStreamReader(readerOptions());
  }, 60_000);

  afterAll(async () => {
    await reader?.close();
    dynamodb?.destroy();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const firstItem: Record<string, AttributeValue> = {
    documentId: { S: "doc-1" },
    status: { S: "RUNNING" },
    attempts: { N: "1" },
    digest: { B: new Uint8Array([1, 2, 3]) },
    meta: { M: { pages: { L: [{ N: "3" }, { NULL: true }] }, ok: { BOOL: true }, tags: { SS: ["a", "b"] } } },
  };
  // The same item as attribute-value JSON in a Lambda event: binary as base64.
  const firstItemJson = { ...firstItem, digest: { B: "AQID" } };
  const updatedItemJson = { ...firstItemJson, status: { S: "COMPLETED" }, attempts: { N: "2" } };

  it("readAll returns INSERT, MODIFY, INSERT as Lambda records", async () => {
    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: firstItem }));
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { documentId: { S: "doc-1" } },
        UpdateExpression: "SET #status = :status, attempts = :attempts",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":status": { S: "COMPLETED" }, ":attempts": { N: "2" } },
      }),
    );
    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { documentId: { S: "doc-2" }, status: { S: "QUEUED" } } }));

    const records = await reader.readAll();
    const nowSeconds = Date.now() / 1000;

    expect(summary(records)).toEqual(["INSERT doc-1", "MODIFY doc-1", "INSERT doc-2"]);
    const [insert, modify, second] = records;
    expect(modify).toStrictEqual({
      eventID: expect.any(String),
      eventName: "MODIFY",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: expect.any(String),
      eventSourceARN: streamArn,
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: { documentId: { S: "doc-1" } },
        OldImage: firstItemJson,
        NewImage: updatedItemJson,
        SequenceNumber: expect.stringMatching(/^\d+$/),
        SizeBytes: expect.any(Number),
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    });
    // An INSERT has no old image: the key is absent, not undefined.
    expect(Object.keys(insert!.dynamodb!).sort()).toEqual(
      ["ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes", "StreamViewType"].sort(),
    );
    expect(insert!.dynamodb!.NewImage).toEqual(firstItemJson);
    expect(second!.dynamodb!.NewImage).toEqual({ documentId: { S: "doc-2" }, status: { S: "QUEUED" } });

    for (const record of records) {
      expect(record.eventSourceARN).toBe(streamArn);
      const created = record.dynamodb!.ApproximateCreationDateTime!;
      // Epoch seconds, not milliseconds; DynamoDB Local rounds it down to the minute.
      expect(Math.abs(nowSeconds - created)).toBeLessThanOrEqual(65);
    }
    const sequences = records.map((record) => BigInt(record.dynamodb!.SequenceNumber!));
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(records.map((record) => record.eventID)).size).toBe(3);
    // Plain JSON, as Lambda would pass it: no Date, no Uint8Array.
    expect(JSON.parse(JSON.stringify(records))).toStrictEqual(records);
  });

  it("follow delivers what is written after it started, each record once, until stopped", async () => {
    const delivered: DynamoDBRecord[] = [];
    const follower = await reader.follow((records) => void delivered.push(...records), { pollMs: 25 });
    await expect(reader.follow(() => undefined)).rejects.toThrow(/already following/);
    // Let it poll empty pages first: new records must still show up behind them.
    await sleep(150);
    expect(delivered).toEqual([]);

    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { documentId: { S: "doc-3" } } }));
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { documentId: { S: "doc-1" } },
        UpdateExpression: "SET attempts = :attempts",
        ExpressionAttributeValues: { ":attempts": { N: "3" } },
      }),
    );
    await dynamodb.send(new DeleteItemCommand({ TableName: tableName, Key: { documentId: { S: "doc-3" } } }));
    await waitFor(() => delivered.length >= 3, "three records");
    await sleep(150);
    expect(summary(delivered)).toEqual(["INSERT doc-3", "MODIFY doc-1", "REMOVE doc-3"]);
    expect(delivered[1]!.dynamodb!.OldImage!.attempts).toEqual({ N: "2" });
    expect(delivered[2]!.dynamodb!.OldImage).toEqual({ documentId: { S: "doc-3" } });
    expect(delivered.every((record) => record.eventSourceARN === streamArn)).toBe(true);

    await reader.stop();
    await expect(follower.done).resolves.toBeUndefined();
    await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { documentId: { S: "doc-4" } } }));
    await sleep(150);
    expect(delivered).toHaveLength(3);
  });

  /** A streams client whose Nth GetRecords call fails as AWS may answer, and which records iterator requests. */
  function faultyStreamsClient(faults: Record<number, "expired" | "trimmed">) {
    const streams = new DynamoDBStreamsClient({ endpoint: server.url, region: localRegion, credentials: localCredentials });
    const iteratorRequests: GetShardIteratorInput[] = [];
    const calls = { getRecords: 0 };
    streams.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetShardIteratorCommand") iteratorRequests.push(args.input as GetShardIteratorInput);
        if (context.commandName === "GetRecordsCommand") {
          const fault = faults[++calls.getRecords];
          if (fault === "expired") throw new ExpiredIteratorException({ message: "Iterator expired", $metadata: {} });
          if (fault === "trimmed") throw new TrimmedDataAccessException({ message: "Data trimmed", $metadata: {} });
        }
        return next(args);
      },
      { step: "initialize", name: "injectIteratorFaults" },
    );
    return { streams, iteratorRequests, calls };
  }

  /**
   * Follows from the start with one record per batch through a faulty client until `expectedCount` records arrived,
   * then writes `thenPut` (if given) and waits for it too.
   */
  async function followThroughFaults(faults: Record<number, "expired" | "trimmed">, expectedCount: number, thenPut?: string) {
    const { streams, iteratorRequests, calls } = faultyStreamsClient(faults);
    const faultyReader = new TableStreamReader({ ...readerOptions(), clients: { streams } });
    const delivered: DynamoDBRecord[] = [];
    try {
      const follower = await faultyReader.follow((records) => void delivered.push(...records), { fromStart: true, pollMs: 25, batchSize: 1 });
      await waitFor(() => delivered.length >= expectedCount, `${expectedCount} records`);
      if (thenPut) {
        await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { documentId: { S: thenPut } } }));
        await waitFor(() => delivered.length > expectedCount, "the record written while following");
      }
      await sleep(150);
      await faultyReader.stop();
      await follower.done;
    } finally {
      await faultyReader.close();
      streams.destroy();
    }
    expect(calls.getRecords).toBeGreaterThan(Math.max(...Object.keys(faults).map(Number)));
    return { delivered, iteratorRequests: iteratorRequests.map((request) => [request.ShardIteratorType, request.SequenceNumber]) };
  }

  it("follow resumes after the last delivered record when an iterator expires or its data is trimmed", async () => {
    const expected = await reader.readAll();
    const { delivered, iteratorRequests } = await followThroughFaults({ 2: "expired", 4: "trimmed" }, expected.length, "doc-5");
    expect(delivered.slice(0, expected.length)).toEqual(expected);
    expect(summary(delivered.slice(expected.length))).toEqual(["INSERT doc-5"]);
    const [first, second] = expected.map((record) => record.dynamodb!.SequenceNumber);
    expect(iteratorRequests).toEqual([
      ["TRIM_HORIZON", undefined],
      ["AFTER_SEQUENCE_NUMBER", first],
      ["AFTER_SEQUENCE_NUMBER", second],
    ]);
  });

  it("follow goes on from the oldest record left when resuming hits trimmed data again, still delivering each record once", async () => {
    const expected = await reader.readAll();
    const { delivered, iteratorRequests } = await followThroughFaults({ 2: "trimmed", 3: "trimmed" }, expected.length);
    expect(delivered).toEqual(expected);
    const [first] = expected.map((record) => record.dynamodb!.SequenceNumber);
    expect(iteratorRequests).toEqual([
      ["TRIM_HORIZON", undefined],
      ["AFTER_SEQUENCE_NUMBER", first],
      ["TRIM_HORIZON", undefined],
    ]);
  });

  it("surfaces an error thrown by the handler through done, and stops following", async () => {
    const follower = await reader.follow(
      () => {
        throw new Error("handler failed");
      },
      { fromStart: true, pollMs: 25 },
    );
    await expect(follower.done).rejects.toThrow("handler failed");
    // The failed follower is gone, so a new one may start.
    const next = await reader.follow(() => undefined, { pollMs: 25 });
    await next.stop();
    await expect(next.done).resolves.toBeUndefined();
  });
});
