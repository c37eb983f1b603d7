import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "../shared/aws-clients.ts";
import { intEnv, requireEnv } from "../shared/config.ts";
import type { ChunkTaskOutput, DocumentSource, WorkflowInput } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { logger } from "../shared/logger.ts";
import { chunkDocument } from "./chunk-document.ts";
import { createCl100kTokenizer } from "./tokenizer.ts";

const bucket = requireEnv(EnvNames.bucket);
const maxTokens = intEnv(EnvNames.chunkTokens, 1000, { min: 16, max: 32000 });
const tokenizer = createCl100kTokenizer();

/** Large chunk texts are uploaded this many at a time. */
const UPLOAD_CONCURRENCY = 8;

/**
 * Chunk document task: reads the uploaded object, extracts its text, chunks it and writes the JSONL manifest the
 * Distributed Map reads. DocumentInputError propagates: the workflow catches it by name and fails the document.
 */
export async function handler(event: WorkflowInput): Promise<ChunkTaskOutput> {
  const { documentId, source } = parseInput(event);
  logger.resetKeys();
  logger.appendKeys({ document: documentId });
  try {
    const bytes = await getObjectBytes(source);
    const result = await chunkDocument(bytes, { documentId, sourceKey: source.key, bucket, maxTokens, tokenizer });
    const { manifest } = result;

    // Texts first, manifest last: a manifest that exists never points at a missing text.
    for (let next = 0; next < manifest.largeTexts.length; next += UPLOAD_CONCURRENCY) {
      await Promise.all(
        manifest.largeTexts.slice(next, next + UPLOAD_CONCURRENCY).map(({ location, text }) =>
          s3Client().send(
            new PutObjectCommand({
              Bucket: location.bucket,
              Key: location.key,
              Body: text,
              ContentType: "text/plain; charset=utf-8",
            }),
          ),
        ),
      );
    }
    await s3Client().send(
      new PutObjectCommand({
        Bucket: manifest.location.bucket,
        Key: manifest.location.key,
        Body: manifest.body,
        ContentType: "application/x-ndjson",
      }),
    );

    logger.info("Document chunked", {
      bytes: bytes.byteLength,
      pageCount: result.pageCount,
      chunkCount: result.chunkCount,
      tokenCount: result.tokenCount,
      largeTextCount: manifest.largeTexts.length,
      maxTokens,
      ms: result.ms,
    });
    return {
      manifest: manifest.location,
      chunkCount: result.chunkCount,
      pageCount: result.pageCount,
      tokenCount: result.tokenCount,
      ms: result.ms,
    };
  } finally {
    logger.resetKeys();
  }
}

async function getObjectBytes(source: DocumentSource): Promise<Uint8Array> {
  const response = await s3Client().send(
    new GetObjectCommand({
      Bucket: source.bucket,
      Key: source.key,
      ...(source.versionId === undefined ? {} : { VersionId: source.versionId }),
    }),
  );
  if (response.Body === undefined) throw new Error(`GetObject s3://${source.bucket}/${source.key} returned no body`);
  return response.Body.transformToByteArray();
}

/** The execution input is built by our own start function; a malformed one is a wiring fault, not a bad document. */
function parseInput(event: WorkflowInput): WorkflowInput {
  const source = (event as Partial<WorkflowInput> | undefined)?.source;
  if (
    typeof event?.documentId !== "string" ||
    event.documentId === "" ||
    typeof source?.bucket !== "string" ||
    typeof source.key !== "string"
  ) {
    throw new TypeError("Chunk task input must have documentId, source.bucket and source.key");
  }
  return event;
}
