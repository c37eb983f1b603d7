/**
 * Environment variable names shared by the CDK constructs that set them and the handlers that read them.
 * The construct that grants access to a resource also sets its variable.
 */
export const EnvNames = {
  /** Bucket for uploads and intermediate artifacts (chunk manifests, large chunk texts). */
  bucket: "LLAMBDA_BUCKET",
  /** DynamoDB table of document items. */
  table: "LLAMBDA_TABLE",
  /** State machine the start function starts. */
  stateMachineArn: "LLAMBDA_STATE_MACHINE_ARN",
  /** Maximum tokens per chunk (tiktoken count). */
  chunkTokens: "LLAMBDA_CHUNK_TOKENS",
  /** Path of the GGUF model file inside the inference container. */
  modelPath: "LLAMBDA_MODEL_PATH",
  /** Model id recorded in results (e.g. from models/models.json). */
  modelId: "LLAMBDA_MODEL_ID",
  /** ggml threads for inference; default derived from the memory size or the available cores. */
  threads: "LLAMBDA_THREADS",
  /** Context size per sequence, in tokens. */
  contextSize: "LLAMBDA_CONTEXT_SIZE",
  /** Maximum generated tokens per chunk. */
  maxOutputTokens: "LLAMBDA_MAX_OUTPUT_TOKENS",
  /** Extraction schema id (a file in functions/schemas/). */
  schemaId: "LLAMBDA_SCHEMA_ID",
} as const;
