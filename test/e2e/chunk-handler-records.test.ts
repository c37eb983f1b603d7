import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { layoutKey } from "../../functions/shared/bucket-layout.ts";
import type { ChunkTaskInput, ChunkTaskOutput, RecordBatchLayout } from "../../functions/shared/contracts.ts";
import { readDocumentLayout } from "../../functions/shared/document-layout-object.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { readChunkConfig } from "../../functions/chunk/config.ts";
import { startS3Fixture, type S3Fixture } from "../helpers/s3-fixture.ts";

/**
 * The chunk handler applies the record-batch bounds it reads at init (LLAMBDA_MAX_RECORD_BYTES, and LLAMBDA_MAX_CHUNKS
 * as the most records), against s3rver. Handlers are built from their configuration (createHandler), so two
 * configurations run side by side in this one process; process.env carries only the SDK's endpoint settings.
 */
const uploads = "uploads";
const work = "work";
const maxRecordBytes = 2_000;
const maxChunks = 10;

type Handler = (event: ChunkTaskInput) => Promise<ChunkTaskOutput>;
let fixture: S3Fixture;
let s3: S3Client;
let handler: Handler;
/** The same function with the default bounds. */
let defaultHandler: Handler;

beforeAll(async () => {
  fixture = await startS3Fixture([uploads, work], { POWERTOOLS_LOG_LEVEL: "SILENT" });
  ({ s3 } = fixture);
  const { createHandler } = await import("../../functions/chunk/create-handler.ts");
  // Record batches are never planned for OCR: the chunk task's output is always a manifest's.
  handler = createHandler(
    readChunkConfig({ [EnvNames.bucket]: work, [EnvNames.maxRecordBytes]: String(maxRecordBytes), [EnvNames.maxChunks]: String(maxChunks) }),
  ) as Handler;
  defaultHandler = createHandler(readChunkConfig({ [EnvNames.bucket]: work })) as Handler;
});

afterAll(async () => {
  await fixture?.stop();
});

async function upload(key: string, body: string): Promise<ChunkTaskInput> {
  await s3.send(new PutObjectCommand({ Bucket: uploads, Key: key, Body: body }));
  return { documentId: key.replace(/\W+/g, "-"), source: { bucket: uploads, key, etag: "etag", size: Buffer.byteLength(body) } };
}

describe("chunk handler: a record batch's layout", () => {
  it("writes each record's text and chunk spans where a document's layout would be, never readable as a document's", async () => {
    const event = await upload("in/layout.csv", 'id,text\na,"  Fine, ""really"".  "\nb,Broke.\n');
    const output = await defaultHandler(event);
    // The upload read; the layout and the manifest written.
    expect(output.usage).toMatchObject({ s3Gets: 1, s3Puts: 2 });
    const object = await s3.send(new GetObjectCommand({ Bucket: work, Key: layoutKey(event.documentId) }));
    expect(object.ContentType).toBe("application/json");
    const layout = JSON.parse(await object.Body!.transformToString("utf-8")) as RecordBatchLayout;
    expect(layout).toEqual({
      version: 1,
      kind: "records",
      records: [
        { recordId: "a", text: '  Fine, "really".  ', chunks: [{ index: 0, charStart: 2, charEnd: 17 }] },
        { recordId: "b", text: "Broke.", chunks: [{ index: 1, charStart: 0, charEnd: 6 }] },
      ],
    });
    expect(await readDocumentLayout(s3, work, event.documentId)).toBeUndefined();
  });
});

describe("chunk handler: record batch bounds", () => {
  it("ends a batch with a record over LLAMBDA_MAX_RECORD_BYTES TOO_LARGE, naming the line and the setting", async () => {
    const event = await upload("in/reviews.csv", `id,text\na,Fine.\nb,"${"word ".repeat(1000)}"\nc,Also fine.\n`);
    await expect(handler(event)).rejects.toMatchObject({
      name: "DocumentInputError",
      code: "TOO_LARGE",
      message: expect.stringContaining(`line 3: the CSV row is over the limit of ${maxRecordBytes} bytes per record (setting LLAMBDA_MAX_RECORD_BYTES=${maxRecordBytes})`) as string,
    });
    const fine = await upload("in/fine.csv", `id,text\na,Fine.\nb,"${"word ".repeat(300)}"\n`);
    await expect(handler(fine)).resolves.toMatchObject({ recordCount: 2 });
  });

  it("ends a batch with more records than LLAMBDA_MAX_CHUNKS TOO_LARGE", async () => {
    const lines = (n: number) => Array.from({ length: n }, (_, k) => JSON.stringify({ text: `Review ${k}.` })).join("\n");
    await expect(handler(await upload("in/many.jsonl", lines(maxChunks + 1)))).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringContaining(`more than ${maxChunks} records`) as string,
    });
    await expect(handler(await upload("in/enough.jsonl", lines(maxChunks)))).resolves.toMatchObject({ recordCount: maxChunks });
  });

  it("runs beside a handler of the same function with other settings, each applying its own", async () => {
    const event = await upload("in/long-record.csv", `id,text\na,"${"word ".repeat(1000)}"\n`);
    await expect(handler(event)).rejects.toMatchObject({ code: "TOO_LARGE" });
    await expect(defaultHandler(event)).resolves.toMatchObject({ recordCount: 1 });
    expect(process.env[EnvNames.maxRecordBytes]).toBeUndefined();
  });
});
