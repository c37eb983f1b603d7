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
  /** Documents the start function lets run at once; uploads beyond wait in the queue (docs/resilience.md). */
  maxRunningDocuments: "LLAMBDA_MAX_RUNNING_DOCUMENTS",
  /** Maximum tokens per chunk (tiktoken count). */
  chunkTokens: "LLAMBDA_CHUNK_TOKENS",
  /** Overlap between consecutive chunks, tokens (tiktoken count; 0 = none, at most half of the chunk tokens). */
  chunkOverlapTokens: "LLAMBDA_CHUNK_OVERLAP_TOKENS",
  /** Record batches (.jsonl, .csv): the field or column holding each record's text (default `text`). */
  recordTextField: "LLAMBDA_RECORD_TEXT_FIELD",
  /** Record batches: the field or column holding each record's id (default `id`; absent → the record number). */
  recordIdField: "LLAMBDA_RECORD_ID_FIELD",
  /** Largest accepted upload, bytes (checked on the event's size before download, and on the bytes). */
  maxBytes: "LLAMBDA_MAX_BYTES",
  /** Most pages a PDF may have (checked on the page count before text extraction). */
  maxPages: "LLAMBDA_MAX_PAGES",
  /** Most chunks a document may produce. */
  maxChunks: "LLAMBDA_MAX_CHUNKS",
  /** Record batches: largest record (a JSONL line, a CSV row), bytes; checked while reading, TOO_LARGE beyond. */
  maxRecordBytes: "LLAMBDA_MAX_RECORD_BYTES",
  /** Time bound of one document's text extraction, ms (never more than the invocation's remaining time allows). */
  extractionTimeoutMs: "LLAMBDA_EXTRACTION_TIMEOUT_MS",
  /** Heap bound of the extraction worker thread, MB (default: 60% of the function's memory). */
  extractionMemoryMb: "LLAMBDA_EXTRACTION_MEMORY_MB",
  /** `true`/`false`: drop running headers and footers (lines repeated at the top or bottom of most pages). */
  dropRunningHeaders: "LLAMBDA_DROP_RUNNING_HEADERS",
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
  /** Chunks one inference container extracts at once (parallel sequences); lowered to what its memory holds. */
  parallelSequences: "LLAMBDA_PARALLEL_SEQUENCES",
  /** llama.cpp contexts the inference threads and sequences are shared out over (default 1; see docs/inference.md). */
  inferContexts: "LLAMBDA_INFER_CONTEXTS",
  /**
   * `true`/`false`: read each generated token's probability, giving every extracted value the model's confidence (default
   * `true`; costs generation speed with large vocabularies, docs/inference.md).
   */
  tokenConfidence: "LLAMBDA_TOKEN_CONFIDENCE",
  /**
   * `auto` (default): the patched llama.cpp build of layers/llama-addon/ when the image or node_modules has one, else
   * node-llama-cpp's prebuilt binaries; `prebuilt`: those always.
   */
  llamaBinary: "LLAMBDA_LLAMA_BINARY",
  /** `true`/`false`: prompt-lookup speculation while generating (default `false`; docs/inference.md). */
  speculation: "LLAMBDA_SPECULATION",
  /** Time kept back from Lambda's remaining time to return results, ms: chunk work stops that long before the timeout. */
  deadlineMarginMs: "LLAMBDA_DEADLINE_MARGIN_MS",
  /** Path of a LoRA adapter (GGUF) applied to the model at load; unset: none. */
  loraPath: "LLAMBDA_LORA_PATH",
  /** Strength of the LoRA adapter (default 1). */
  loraScale: "LLAMBDA_LORA_SCALE",
  /** Largest document item the merge writes, bytes (an upper bound of DynamoDB's count); bigger results go to S3. */
  maxItemBytes: "LLAMBDA_MAX_ITEM_BYTES",
  /** The start function's schema routing: JSON {"routes": {"<key prefix>": "<schema id>"}, "defaultSchemaId": "<id>"}. */
  schemaRouting: "LLAMBDA_SCHEMA_ROUTING",
  /** Extraction schema id used when a workflow input names none (a file in functions/schemas/). */
  schemaId: "LLAMBDA_SCHEMA_ID",
  /** OCR of pages without a usable text layer, pictures on text pages and image uploads: `auto` (default), `scans`, `always` or `never`. */
  ocr: "LLAMBDA_OCR",
  /** The OCR mode by upload prefix, JSON {"<key prefix>": "auto" | "scans" | "always" | "never"}; longest prefix wins. */
  ocrRoutes: "LLAMBDA_OCR_ROUTES",
  /** OCR language(s), Tesseract codes joined with `+` (default `eng`); each needs its `@tesseract.js-data/<code>` package. */
  ocrLanguage: "LLAMBDA_OCR_LANGUAGE",
  /** Resolution PDF pages are rendered at for OCR, dpi (default 300). */
  ocrDpi: "LLAMBDA_OCR_DPI",
  /** Most pixels of a page image handed to OCR; larger pages are rendered at a lower dpi (default 40,000,000). */
  ocrMaxPixels: "LLAMBDA_OCR_MAX_PIXELS",
  /** Most time one page's OCR (render and recognition) may take, ms; beyond it the page fails with OCR_TIMEOUT. */
  ocrPageTimeoutMs: "LLAMBDA_OCR_PAGE_TIMEOUT_MS",
  /** Pages one OCR invocation works on at once (default: one per vCPU its memory buys). */
  ocrConcurrency: "LLAMBDA_OCR_CONCURRENCY",
  /** Most pages a review page shows: those with a grounded value's box, else the first pages (default 20). */
  reviewMaxPages: "LLAMBDA_REVIEW_MAX_PAGES",
} as const;
