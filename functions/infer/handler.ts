import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { getExtractionSchema } from "../schemas/index.ts";
import { s3Client } from "../shared/aws-clients.ts";
import type { ChunkItem, ChunkResult, InferBatchInput, InferBatchOutput } from "../shared/contracts.ts";
import { logger } from "../shared/logger.ts";
import { readInferConfig } from "./config.ts";
import { ExtractionEngine } from "./engine.ts";

// Loaded during the container's init phase, once; a model that cannot load fails the init with a clear message.
const config = readInferConfig();
const engine = await ExtractionEngine.load({ ...config, schema: getExtractionSchema(config.schemaId) });
logger.info("Model loaded", { modelId: config.modelId, threads: config.threads, contextSize: config.contextSize });

async function chunkText(item: ChunkItem): Promise<string> {
  if (item.text !== undefined) return item.text;
  if (!item.textLocation) throw new TypeError(`Chunk ${item.index} has neither text nor textLocation`);
  const object = await s3Client().send(
    new GetObjectCommand({ Bucket: item.textLocation.bucket, Key: item.textLocation.key }),
  );
  return (await object.Body?.transformToString("utf-8")) ?? "";
}

/** A batch of chunks from the Distributed Map's ItemBatcher → one extraction per chunk, in order. */
export async function handler(event: InferBatchInput, _context?: Context): Promise<InferBatchOutput> {
  const results: ChunkResult[] = [];
  for (const item of event.Items) {
    logger.appendKeys({ document: item.documentId, chunk: item.index });
    const text = await chunkText(item);
    const extraction = await engine.extract({ text, pageStart: item.pageStart, pageEnd: item.pageEnd });
    logger.info("Chunk extracted", { tokensIn: extraction.tokensIn, tokensOut: extraction.tokensOut, ms: extraction.ms });
    results.push({
      documentId: item.documentId,
      index: item.index,
      ...(item.chunkId === undefined ? {} : { chunkId: item.chunkId }),
      ...(item.recordId === undefined ? {} : { recordId: item.recordId }),
      pageStart: item.pageStart,
      pageEnd: item.pageEnd,
      data: extraction.data,
      modelId: config.modelId,
      tokensIn: extraction.tokensIn,
      tokensOut: extraction.tokensOut,
      ms: extraction.ms,
    });
  }
  logger.removeKeys(["document", "chunk"]);
  return { results };
}
