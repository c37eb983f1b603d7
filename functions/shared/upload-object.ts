import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DocumentSource } from "./contracts.ts";

/** The upload's user metadata key holding an encrypted PDF's password (header `x-amz-meta-pdf-password`). */
export const PDF_PASSWORD_METADATA = "pdf-password";

/** The byte limit of an upload: `check` throws (TOO_LARGE) when `bytes` is over `maxBytes`; `what` names the figure. */
export interface UploadSizeCheck {
  maxBytes: number;
  check: (bytes: number, what: string) => void;
}

/**
 * The object's bytes and the PDF password from its `pdf-password` metadata. With a size check, an object over the
 * byte limit is refused on the response's Content-Length before the body is read, and on the bytes.
 */
export async function readUpload(
  s3: S3Client,
  source: DocumentSource,
  size?: UploadSizeCheck,
): Promise<{ bytes: Uint8Array; password?: string }> {
  const response = await s3.send(
    new GetObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      ...(source.versionId === undefined ? {} : { VersionId: source.versionId }),
    }),
  );
  if (response.Body === undefined) throw new Error(`GetObject s3://${source.bucket}/${source.key} returned no body`);
  if (size && typeof response.ContentLength === "number" && response.ContentLength > size.maxBytes) {
    (response.Body as { destroy?: () => void }).destroy?.();
    size.check(response.ContentLength, "stored object");
  }
  const bytes = await response.Body.transformToByteArray();
  size?.check(bytes.byteLength, "downloaded bytes");
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

