import type { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { readDocumentLayout } from "../../functions/shared/document-layout-object.ts";

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
