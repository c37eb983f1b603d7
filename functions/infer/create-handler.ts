import type { InferBatchInput, InferBatchOutput } from "../shared/contracts.ts";
import { chunkRetryPolicy } from "../shared/chunk-retry-policy.ts";
import { invocationHandler, startInitClock, type LambdaHandler } from "../shared/invocation.ts";
import { addUsage } from "../shared/invocation-usage.ts";
import { logger } from "../shared/logger.ts";
import { metrics, recordModelInit } from "../shared/metrics.ts";
import { getExtractionSchema } from "../schemas/index.ts";
import { deadlineFrom } from "./budget.ts";
import type { InferConfig } from "./config.ts";
import { ExtractionEngine } from "./engine.ts";
import { extractBatch, parseInferBatchInput } from "./extract-batch.ts";

// Without a Lambda context (direct calls in tests and tools) there is no timeout to respect.
const noTimeoutMs = 24 * 3600 * 1000;

/**
 * A batch of chunks from the Distributed Map's ItemBatcher → one result or failure per chunk, plus the chunks (or
 * halves of chunks) left for a fresh invocation, which the workflow sends back as `Items`. The model is loaded here,
 * once (Lambda: during the container's init phase); a model that cannot load fails the init with a clear message.
 */
export async function createHandler(config: InferConfig): Promise<LambdaHandler<InferBatchInput, InferBatchOutput>> {
  const initClock = startInitClock();
  const loadStarted = performance.now();
  const engine = await ExtractionEngine.load({
    ...config,
    sequences: config.parallelSequences,
    schema: getExtractionSchema(config.schemaId),
  });
  const loadMs = Math.round(performance.now() - loadStarted);
  // Published with the first invocation's metrics: one value per cold start.
  recordModelInit(metrics, loadMs);
  logger.info("Model loaded", {
    modelId: config.modelId,
    threads: config.threads,
    contextSize: engine.contextSize,
    parallelSequences: engine.parallelSequences,
    ms: loadMs,
    // Which llama.cpp: the patched build (thread pool, batches ordered by sequence, ...) or the prebuilt binaries, and why.
    llamaBuild: engine.binary.buildType,
    ...(engine.binary.schedule ? { schedule: engine.binary.schedule } : {}),
    ...(engine.binary.fallbackReason ? { fallbackReason: engine.binary.fallbackReason } : {}),
  });

  return invocationHandler(
    // Lambda bills the init phase (here mostly the model load) of a cold start: the first invocation carries it.
    { initMs: initClock(), correlate: correlationKeys },
    async (input, { context, usage }) => {
      const event = parseInferBatchInput(input);
      const remainingMs = context?.getRemainingTimeInMillis?.() ?? noTimeoutMs;
      // The document's schema travels with the batch; an unknown id is a ConfigurationError (deterministic, not retried).
      const schemaId = event.BatchInput?.schemaId ?? config.schemaId;
      const output = await extractBatch(event, {
        engine,
        schema: getExtractionSchema(schemaId),
        retryOutputTokens: config.maxOutputTokens * chunkRetryPolicy.largerAnswerBudget.factor,
        modelId: config.modelId,
        deadline: deadlineFrom(remainingMs, config.deadlineMarginMs),
        metrics,
      });
      // Chunk texts too large for the manifest were read from S3, one request per object.
      const s3Gets = new Set(event.Items.flatMap((item) => (item.textLocation ? [`${item.textLocation.bucket}/${item.textLocation.key}`] : []))).size;
      return { ...output, usage: addUsage(event.usage, usage({ s3Gets })) };
    },
  );
}

/** The batch's document (every item of a batch belongs to it) and, when the workflow passes it, its execution. */
function correlationKeys(event: InferBatchInput): { document?: string; execution?: string } {
  return { document: event?.BatchInput?.documentId ?? event?.Items?.[0]?.documentId, execution: event?.BatchInput?.executionId };
}
