import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executionFailureOf, recordExecutionFailure, type ExecutionStatusChangeDetail } from "../../functions/failed-execution/failure.ts";
import type { WorkflowInput } from "../../functions/shared/contracts.ts";
import { sourceOrderOf, type DocumentItem } from "../../functions/shared/document-item.ts";
import { marshall } from "@aws-sdk/util-dynamodb";
import { ensureDocumentTable, localCredentials, localRegion, startDynamoDbOnFreePort, type DynamoDbServer } from "../../infra/local/services.ts";
import { validateItem } from "../helpers/item-schema.ts";

/**
 * The failed-execution function's conditional write against DynamoDB Local: an execution that failed before its item
 * existed leaves a FAILED item, and one that failed before it took over an older upload's item replaces it; a newer
 * upload's item is never touched; a repeated event adds no version.
 */
const tableName = "llambda-documents";
const machine = "arn:aws:states:us-east-1:000000000000:stateMachine:llambda-document-workflow";
const executionArn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:llambda-document-workflow:${name}`;
const startDate = Date.parse("2024-05-01T10:00:00.000Z");

function workflowInput(documentId: string, sequencer: string): WorkflowInput {
  const source = { bucket: "llambda-local", key: `uploads/${documentId}.pdf`, etag: "0123abcd", size: 1234, sequencer };
  return {
    documentId,
    schemaId: "generic",
    kind: "document",
    source,
    sourceOrder: sourceOrderOf(sequencer),
    sourceAttribute: { M: marshall(source) },
    ocrMode: "auto",
  };
}

function failedEvent(execution: string, input: WorkflowInput, error = "DynamoDB.InternalServerErrorException"): ExecutionStatusChangeDetail {
  return {
    executionArn: executionArn(execution),
    stateMachineArn: machine,
    name: execution,
    status: "FAILED",
    startDate,
    input: JSON.stringify(input),
    inputDetails: { included: true },
    error,
    cause: "Injected fault: Internal server error",
  };
}

describe("recording an unsuccessful execution on the document's item", () => {
  let dir: string;
  let server: DynamoDbServer;
  let client: DynamoDBDocumentClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-failed-items-"));
    server = await startDynamoDbOnFreePort(join(dir, "db"));
    const raw = new DynamoDBClient({ endpoint: server.url, region: localRegion, credentials: localCredentials });
    await ensureDocumentTable(raw, tableName);
    client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  }, 90_000);

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const read = async (documentId: string) =>
    (await client.send(new GetCommand({ TableName: tableName, Key: { documentId }, ConsistentRead: true }))).Item as DocumentItem | undefined;
  const record = (detail: ExecutionStatusChangeDetail, now = "2024-05-01T10:01:00.000Z") =>
    recordExecutionFailure(client, tableName, executionFailureOf(detail), new Date(now));

  it("creates a FAILED item when the execution failed before it wrote one, and a repeated event adds no version", async () => {
    const input = workflowInput("never-marked", "0A");
    expect(await read("never-marked")).toBeUndefined();
    expect(await record(failedEvent("never-marked-1", input))).toBe("recorded");
    const item = await read("never-marked");
    expect(item).toEqual({
      documentId: "never-marked",
      kind: "document",
      contractVersion: 1,
      status: "FAILED",
      version: 1,
      source: input.source,
      sourceOrder: input.sourceOrder,
      executionArn: executionArn("never-marked-1"),
      schemaId: "generic",
      error: "DynamoDB.InternalServerErrorException",
      cause: "Injected fault: Internal server error",
      timings: { startedAt: "2024-05-01T10:00:00.000Z" },
      updatedAt: "2024-05-01T10:01:00.000Z",
    });
    expect(validateItem(item), JSON.stringify(validateItem.errors)).toBe(true);

    expect(await record(failedEvent("never-marked-1", input), "2024-05-01T10:02:00.000Z")).toBe("already-final");
    expect(await read("never-marked")).toEqual(item);
  });

  it("marks this execution's PROCESSING item FAILED, keeping what the execution had written", async () => {
    const input = workflowInput("marked", "0B");
    const processing: DocumentItem = {
      documentId: "marked",
      kind: "document",
      contractVersion: 1,
      status: "PROCESSING",
      version: 2,
      source: { ...input.source, pages: 3 },
      sourceOrder: input.sourceOrder,
      executionArn: executionArn("marked-1"),
      schemaId: "invoice",
      chunks: { total: 4, succeeded: 0, failed: 0 },
      timings: { startedAt: "2024-05-01T09:59:59.000Z", chunkedAt: "2024-05-01T10:00:05.000Z" },
      updatedAt: "2024-05-01T10:00:05.000Z",
    };
    await client.send(new PutCommand({ TableName: tableName, Item: processing }));
    expect(await record(failedEvent("marked-1", input, "Lambda.ServiceException"))).toBe("recorded");
    expect(await read("marked")).toEqual({
      ...processing,
      status: "FAILED",
      version: 3,
      error: "Lambda.ServiceException",
      cause: "Injected fault: Internal server error",
      updatedAt: "2024-05-01T10:01:00.000Z",
    });
  });

  function completedItem(documentId: string, ownerSequencer: string): DocumentItem {
    const owner = workflowInput(documentId, ownerSequencer);
    return {
      documentId,
      kind: "document",
      contractVersion: 1,
      status: "COMPLETED",
      version: 3,
      source: owner.source,
      sourceOrder: owner.sourceOrder,
      executionArn: executionArn(`${documentId}-owner`),
      schemaId: "generic",
      result: { title: "kept" },
      chunks: { total: 1, succeeded: 1, failed: 0 },
      timings: { startedAt: "2024-05-01T09:00:00.000Z" },
      updatedAt: "2024-05-01T09:00:10.000Z",
    };
  }

  it("leaves a newer upload's item untouched", async () => {
    const owned = completedItem("newer-owner", "0D");
    await client.send(new PutCommand({ TableName: tableName, Item: owned }));
    expect(await record(failedEvent("newer-owner-failed", workflowInput("newer-owner", "0C")))).toBe("already-final");
    expect(await read("newer-owner")).toEqual(owned);
  });

  it("replaces an older upload's item, result and all, with the newer upload's FAILED item, once", async () => {
    await client.send(new PutCommand({ TableName: tableName, Item: completedItem("older-owner", "0C") }));
    const newer = workflowInput("older-owner", "0D");
    const event = failedEvent("older-owner-failed", newer);
    expect(await record(event)).toBe("recorded");
    const item = await read("older-owner");
    expect(item).toEqual({
      documentId: "older-owner",
      kind: "document",
      contractVersion: 1,
      status: "FAILED",
      version: 4,
      source: newer.source,
      sourceOrder: newer.sourceOrder,
      executionArn: executionArn("older-owner-failed"),
      schemaId: "generic",
      error: "DynamoDB.InternalServerErrorException",
      cause: "Injected fault: Internal server error",
      timings: { startedAt: new Date(startDate).toISOString() },
      updatedAt: expect.any(String),
    });
    expect(validateItem(item), JSON.stringify(validateItem.errors)).toBe(true);
    // The same event again: the item is this execution's and says so already.
    expect(await record(event)).toBe("already-final");
    expect((await read("older-owner"))?.version).toBe(4);
  });
});
