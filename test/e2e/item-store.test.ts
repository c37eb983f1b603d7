import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ItemDraft } from "../../functions/merge/document.ts";
import { forEachLimited, writeOwnedItem, writeRecordItem } from "../../functions/merge/item-store.ts";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { SupersededError } from "../../functions/shared/errors.ts";
import { ensureDocumentTable, freePort, localCredentials, localRegion, startDynamoDb, type DynamoDbServer } from "../../infra/local/services.ts";

/** The merge's conditional writes against DynamoDB Local: owners only, newer versions win, every write counts up. */
const tableName = "llambda-documents";

describe("conditional item writes", () => {
  let dir: string;
  let server: DynamoDbServer;
  let client: DynamoDBDocumentClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-items-"));
    server = await startDynamoDb(join(dir, "db"), await freePort());
    const raw = new DynamoDBClient({ endpoint: server.url, region: localRegion, credentials: localCredentials });
    await ensureDocumentTable(raw, tableName);
    client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  }, 90_000);

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const draft = (documentId: string, executionArn: string, sequencer: string, extra: Partial<ItemDraft> = {}): ItemDraft => ({
    documentId,
    kind: "document",
    contractVersion: 1,
    status: "COMPLETED",
    source: { bucket: "b", key: "uploads/a.pdf", etag: "e", size: 1, sequencer },
    sourceOrder: sourceOrderOf(sequencer),
    executionArn,
    schemaId: "generic",
    result: { title: "T" },
    chunks: { total: 1, succeeded: 1, failed: 0 },
    timings: { startedAt: "2024-01-01T00:00:00.000Z" },
    updatedAt: "2024-01-01T00:00:01.000Z",
    ...extra,
  });
  const read = async (documentId: string) => (await client.send(new GetCommand({ TableName: tableName, Key: { documentId }, ConsistentRead: true }))).Item;

  /** What the workflow's "Mark document processing" state does: take the item over unless a newer version owns it. */
  const markProcessing = (documentId: string, executionArn: string, sequencer: string) =>
    client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { documentId: { S: documentId } },
        UpdateExpression: "SET #status = :processing, executionArn = :execution, sourceOrder = :order REMOVE #result ADD #version :one",
        ConditionExpression: "attribute_not_exists(documentId) OR sourceOrder <= :order",
        ExpressionAttributeNames: { "#status": "status", "#result": "result", "#version": "version" },
        ExpressionAttributeValues: {
          ":processing": { S: "PROCESSING" },
          ":execution": { S: executionArn },
          ":order": { S: sourceOrderOf(sequencer) },
          ":one": { N: "1" },
        },
      }),
    );

  it("lets only the owning execution write a document's item, adding 1 to version each time", async () => {
    await markProcessing("doc", "exec-old", "0A");
    expect(await writeOwnedItem(client, tableName, draft("doc", "exec-old", "0A"))).toBe(2);
    await markProcessing("doc", "exec-new", "0B");
    await expect(writeOwnedItem(client, tableName, draft("doc", "exec-old", "0A", { result: { title: "stale" } }))).rejects.toThrow(SupersededError);
    expect(await read("doc")).toMatchObject({ status: "PROCESSING", executionArn: "exec-new", version: 3 });
    expect(await writeOwnedItem(client, tableName, draft("doc", "exec-new", "0B", { result: { title: "fresh" } }))).toBe(4);
    // An older version's execution cannot even take the item over.
    await expect(markProcessing("doc", "exec-old", "0A")).rejects.toThrow(/conditional request failed/i);
    expect(await read("doc")).toMatchObject({ status: "COMPLETED", executionArn: "exec-new", result: { title: "fresh" }, version: 4 });
    // A write to an item nobody marked is refused too.
    await expect(writeOwnedItem(client, tableName, draft("never-marked", "exec", "0A"))).rejects.toThrow(SupersededError);
  });

  it("removes attributes the new draft does not have, so nothing of an earlier write lingers", async () => {
    await markProcessing("doc-2", "exec", "01");
    await writeOwnedItem(client, tableName, draft("doc-2", "exec", "01", { failedChunks: [{ index: 0, error: "E" }], error: "X", cause: "Y" }));
    await writeOwnedItem(client, tableName, draft("doc-2", "exec", "01"));
    const item = await read("doc-2");
    expect(item).not.toHaveProperty("failedChunks");
    expect(item).not.toHaveProperty("error");
    expect(item).toMatchObject({ version: 3, result: { title: "T" } });
  });

  it("writes a record's item when new or from the same or an older batch version, never over a newer one", async () => {
    const record = (sequencer: string, title: string) => draft("batch#r1", `exec-${sequencer}`, sequencer, { kind: "record", batchId: "batch", recordId: "r1", result: { title } });
    expect(await writeRecordItem(client, tableName, record("05", "v5"))).toBe(true);
    expect(await writeRecordItem(client, tableName, record("04", "older"))).toBe(false);
    expect(await writeRecordItem(client, tableName, record("05", "v5 again"))).toBe(true);
    expect(await writeRecordItem(client, tableName, record("06", "v6"))).toBe(true);
    expect(await read("batch#r1")).toMatchObject({ result: { title: "v6" }, version: 3, executionArn: "exec-06" });
  });

  it("runs record writes with bounded concurrency and rejects with the first failure", async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachLimited([...Array(40).keys()], 5, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((resolve) => setTimeout(resolve, 2));
      done.push(n);
      running--;
    });
    expect(peak).toBe(5);
    expect(done.sort((a, b) => a - b)).toEqual([...Array(40).keys()]);
    await expect(forEachLimited([1, 2, 3], 2, async (n) => { if (n === 2) throw new Error("boom"); })).rejects.toThrow("boom");
  });
});
