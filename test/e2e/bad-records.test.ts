import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { DocumentItem } from "../../functions/shared/document-item.ts";
import { TwinNames, type LocalTwin } from "../../infra/local/twin.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * Record batches whose ids cannot be keys, or look like paths, end to end on the twin (tiny llama.cpp model). A record
 * id is data: it must never fail the other records of its batch (DynamoDB's 2,048-byte key limit), never become a
 * path (S3 keys, s3rver's files on disk), never break a log line.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";

const encode = (text: string) => new TextEncoder().encode(text);
const jsonl = (...records: object[]) => encode(`${records.map((record) => JSON.stringify(record)).join("\n")}\n`);

/** Every record item of a batch, by record id. */
async function recordItems(twin: LocalTwin, batchId: string): Promise<Map<string, DocumentItem>> {
  const { Items = [] } = await twin.dynamodb.send(
    new ScanCommand({
      TableName: TwinNames.table,
      FilterExpression: "batchId = :batch",
      ExpressionAttributeValues: { ":batch": { S: batchId } },
      ConsistentRead: true,
    }),
  );
  return new Map(Items.map((raw) => unmarshall(raw) as DocumentItem).map((item) => [item.recordId!, item]));
}

describe("record ids that look like paths, on the twin with every result offloaded to S3", () => {
  let fixture: TestTwin;
  let twin: LocalTwin;

  beforeAll(async () => {
    // The smallest item bound the merge accepts: every record's result goes to S3, so its key is built from the id.
    fixture = await startTestTwin({ maxItemBytes: 1_000 });
    twin = fixture.twin;
  }, 180_000);

  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("keeps ids that look like paths as plain data in keys, S3 objects and logs; a control character fails its record", async () => {
    const pathLike = ["../../etc/passwd", "a/b%2F..\\c", "uploads/other.pdf", "#1#", "%2e%2e%2f..", "./.", "é".repeat(900)];
    const written: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      written.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return true;
    };
    const { logger } = await import("../../functions/shared/logger.ts");
    const level = logger.getLevelName();
    logger.setLogLevel("INFO");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
    let jsonBatch: { documentId: string };
    let csvBatch: { documentId: string };
    let jsonItem: DocumentItem | undefined;
    let csvItem: DocumentItem | undefined;
    try {
      jsonBatch = await twin.uploadBytes(
        jsonl(...pathLike.map((id, k) => ({ id, text: `Review ${k}: arrived on time, works as described.` }))),
        "uploads/e2e/bad-records/paths.jsonl",
      );
      csvBatch = await twin.uploadBytes(
        encode('id,text\r\n"two\r\nlines",A review whose id has a line break.\r\nok-1,"A fine review, ""quoted""."\r\n'),
        "uploads/e2e/bad-records/control.csv",
      );
      jsonItem = await twin.waitForDocument(jsonBatch.documentId);
      csvItem = await twin.waitForDocument(csvBatch.documentId);
      await twin.streamSettled();
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      logger.setLogLevel(level);
    }

    // Every path-like id is a COMPLETED record under exactly `<batch>#<id>`.
    expect(jsonItem, JSON.stringify(jsonItem)).toMatchObject({
      status: "COMPLETED",
      records: { total: pathLike.length, completed: pathLike.length, failed: 0 },
    });
    const records = await recordItems(twin, jsonBatch.documentId);
    expect([...records.keys()].sort()).toEqual([...pathLike].sort());
    for (const id of pathLike) {
      const record = records.get(id)!;
      expect(record, id).toMatchObject({ documentId: `${jsonBatch.documentId}#${id}`, recordId: id, status: "COMPLETED" });
      // Offloaded (the item bound is tiny) to one object right under results/, whatever the id holds.
      const key = record.resultLocation?.key ?? "";
      expect(key.startsWith("results/"), key).toBe(true);
      const segments = key.split("/");
      expect(segments, key).toHaveLength(3);
      expect(segments.some((segment) => segment === ".." || segment === "." || Buffer.byteLength(segment) > 255), key).toBe(false);
      expect((await twin.readResult(record)).result).toBeDefined();
    }

    // The CSV id with a line break is its record's BAD_RECORD; the other record completes.
    expect(csvItem, JSON.stringify(csvItem)).toMatchObject({ status: "PARTIAL", records: { total: 2, completed: 1, failed: 1 } });
    const csvRecords = await recordItems(twin, csvBatch.documentId);
    expect(csvRecords.get("ok-1")?.status).toBe("COMPLETED");
    const failed = [...csvRecords.values()].filter((record) => record.status === "FAILED");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.cause).toMatch(/^BAD_RECORD: line 2: the id has a control character \(U\+000D\)/);
    expect(failed[0]!.recordId).not.toMatch(/[\r\n]/);

    // S3: every key the workflow wrote is under one of its prefixes, none has a `.`/`..` segment or an id's path.
    const { Contents = [] } = await twin.s3.send(new ListObjectsV2Command({ Bucket: TwinNames.bucket }));
    const keys = Contents.map((object) => object.Key!);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(/^(uploads|chunks|map-results|results)\//.test(key), key).toBe(true);
      expect(key.split("/").some((segment) => segment === ".." || segment === "."), key).toBe(false);
      expect(key, key).not.toContain("etc/passwd");
      expect(key.startsWith("uploads/other.pdf"), key).toBe(false);
    }
    // And on the twin's disk (s3rver stores a key as a path): nothing outside the bucket's folder, nothing named passwd.
    const files = walk(fixture.dir);
    expect(files.some((file) => file.split(sep).includes("passwd"))).toBe(false);
    expect(files.every((file) => !relative(fixture.dir, file).startsWith(".."))).toBe(true);

    // Logs: the example consumer logs each ready record's key; every line naming a path-like id is one whole JSON
    // line that holds the key exactly.
    const lines = written.join("").split("\n");
    const mentioning = lines.filter((line) => line.includes("etc/passwd"));
    expect(mentioning.length).toBeGreaterThan(0);
    for (const line of mentioning) {
      const parsed = JSON.parse(line) as { documentId?: string };
      expect(parsed.documentId, line).toBe(`${jsonBatch.documentId}#../../etc/passwd`);
    }
  }, 300_000);
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}
