import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { readDocumentLayout, readRecordBatchLayout } from "../../functions/shared/document-layout-object.ts";

const failing = (name: string, httpStatusCode: number) =>
  ({ send: async () => Promise.reject(Object.assign(new Error(name), { name, $metadata: { httpStatusCode } })) }) as unknown as S3Client;

describe("reading a document's layout", () => {
  it("reads it when it is there", async () => {
    const s3 = { send: async () => ({ Body: { transformToString: async () => '{"version":1,"text":"t","pages":[],"chunks":[]}' } }) } as unknown as S3Client;
    expect(await readDocumentLayout(s3, "b", "d")).toMatchObject({ version: 1, text: "t" });
  });

  it("is absent on NoSuchKey, and on AccessDenied (S3's answer for a missing key without s3:ListBucket)", async () => {
    expect(await readDocumentLayout(failing("NoSuchKey", 404), "b", "d")).toBeUndefined();
    expect(await readDocumentLayout(failing("AccessDenied", 403), "b", "d")).toBeUndefined();
  });

  it("throws anything else", async () => {
    await expect(readDocumentLayout(failing("InternalError", 500), "b", "d")).rejects.toThrow("InternalError");
  });
});

describe("a record batch's layout at the same key", () => {
  const answering = (body: unknown) => ({ send: async () => ({ Body: { transformToString: async () => JSON.stringify(body) } }) }) as unknown as S3Client;
  const batch = { version: 1, kind: "records", records: [{ recordId: "r1", text: "Fine.", chunks: [{ index: 0, charStart: 0, charEnd: 5 }] }] };
  const document = { version: 1, text: "t", pages: [], chunks: [] };

  it("is read as a batch's, never as one document's", async () => {
    expect(await readRecordBatchLayout(answering(batch), "b", "d")).toEqual(batch);
    expect(await readDocumentLayout(answering(batch), "b", "d")).toBeUndefined();
  });

  it("is absent when the key holds a document's layout, or nothing", async () => {
    expect(await readRecordBatchLayout(answering(document), "b", "d")).toBeUndefined();
    expect(await readRecordBatchLayout(failing("NoSuchKey", 404), "b", "d")).toBeUndefined();
    await expect(readRecordBatchLayout(failing("InternalError", 500), "b", "d")).rejects.toThrow("InternalError");
  });
});
