import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DocumentSource } from "../shared/contracts.ts";
import { checkByteSize, type ChunkLimits } from "./limits.ts";
import { PDF_PASSWORD_METADATA } from "./pdf-text.ts";

/**
 * The object's bytes (TOO_LARGE when the stored object is over the byte limit: checked on the response's
 * Content-Length before the body is read, and on the bytes) and the PDF password from its `pdf-password` metadata.
 */
export async function readUpload(
  s3: S3Client,
  source: DocumentSource,
  limits: Pick<ChunkLimits, "maxBytes">,
): Promise<{ bytes: Uint8Array; password?: string }> {
  const response = await s3.send(
    new GetObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      ...(source.versionId === undefined ? {} : { VersionId: source.versionId }),
    }),
  );
  if (response.Body === undefined) throw new Error(`GetObject s3://${source.bucket}/${source.key} returned no body`);
  if (typeof response.ContentLength === "number" && response.ContentLength > limits.maxBytes) {
    (response.Body as { destroy?: () => void }).destroy?.();
    checkByteSize(response.ContentLength, limits, "stored object");
  }
  const bytes = await response.Body.transformToByteArray();
  checkByteSize(bytes.byteLength, limits, "downloaded bytes");
  const password = metadataPassword(response.Metadata);
  return password === undefined ? { bytes } : { bytes, password };
}

/**
 * The password in the object's `pdf-password` user metadata (S3 returns user metadata keys in lower case). S3 keeps
 * metadata values in US-ASCII; a non-ASCII value arrives RFC 2047-encoded (`=?UTF-8?B?...?=`) and is decoded.
 */
export function metadataPassword(metadata: Record<string, string> | undefined): string | undefined {
  const raw = metadata?.[PDF_PASSWORD_METADATA];
  if (raw === undefined || raw === "") return undefined;
  const encoded = /^=\?utf-8\?([bq])\?(.*)\?=$/i.exec(raw);
  if (!encoded) return raw;
  const [, encoding = "", text = ""] = encoded;
  if (encoding.toLowerCase() === "b") return Buffer.from(text, "base64").toString("utf8");
  const bytes = text
    .replace(/_/g, " ")
    .replace(/=([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

