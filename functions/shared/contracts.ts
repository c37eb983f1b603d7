/**
 * The data that crosses state boundaries in the document workflow. Every handler, the workflow definition and the
 * local twin agree on these shapes; change them here and the type checker finds every use.
 */

/** The uploaded object a workflow execution processes. Written by the start function into the execution input. */
export interface DocumentSource {
  bucket: string;
  key: string;
  /** S3 version id when the bucket is versioned. */
  versionId?: string;
  etag: string;
  size: number;
}

/** Execution input, built by functions/start from the S3 "Object Created" event. */
export interface WorkflowInput {
  documentId: string;
  source: DocumentSource;
}

/** A pointer to an S3 object. */
export interface S3Location {
  bucket: string;
  key: string;
}

/** One unit of inference work: a line of the JSONL chunk manifest that the Distributed Map's ItemReader reads. */
export interface ChunkItem {
  documentId: string;
  /** 0-based position of the chunk in the document; results are merged in this order. */
  index: number;
  /** 1-based, inclusive page range the chunk's text comes from. */
  pageStart: number;
  pageEnd: number;
  /** Token count by the chunker's tokenizer (tiktoken); an estimate for the model's own tokenizer. */
  tokenCount: number;
  /** The chunk text inline, or `textLocation` when it is too large to travel in the Map's item payload. */
  text?: string;
  textLocation?: S3Location;
}

/** Output of the Chunk document task. */
export interface ChunkTaskOutput {
  manifest: S3Location;
  chunkCount: number;
  pageCount: number;
  tokenCount: number;
  /** Milliseconds spent extracting text and chunking. */
  ms: number;
}

/** What one Distributed Map child execution receives from the ItemBatcher. */
export interface InferBatchInput {
  Items: ChunkItem[];
  BatchInput?: { documentId?: string };
}

/** Extraction result for one chunk, returned by functions/infer. */
export interface ChunkResult {
  documentId: string;
  index: number;
  pageStart: number;
  pageEnd: number;
  /** JSON conforming to the extraction schema. */
  data: Record<string, unknown>;
  modelId: string;
  /** Prompt tokens evaluated and tokens generated, by the model's tokenizer. */
  tokensIn: number;
  tokensOut: number;
  ms: number;
}

/** Output of one Distributed Map child execution (the infer task's output). */
export interface InferBatchOutput {
  results: ChunkResult[];
}

/** What the Distributed Map state outputs when it has a ResultWriter (AWS's shape). */
export interface MapRunOutput {
  MapRunArn: string;
  ResultWriterDetails: S3Location & { Bucket?: string; Key?: string };
}

/** Input of the Merge chunk results task. */
export interface MergeTaskInput {
  documentId: string;
  source: DocumentSource;
  chunking: ChunkTaskOutput;
  mapRun: { ResultWriterDetails: { Bucket: string; Key: string } };
  execution: { id: string; startTime: string };
}

export type DocumentStatus = "PROCESSING" | "COMPLETED" | "PARTIAL" | "FAILED";

/** The DynamoDB item of one document: what stream consumers read. */
export interface DocumentItem {
  documentId: string;
  status: DocumentStatus;
  source: DocumentSource;
  executionArn: string;
  schemaId?: string;
  modelId?: string;
  result?: Record<string, unknown>;
  chunks?: { total: number; succeeded: number; failed: number };
  pages?: number;
  tokens?: number;
  timings?: { startedAt: string; completedAt: string; totalMs: number; chunkingMs: number; inferenceMs: number };
  failedChunks?: Array<{ index: number; error: string; cause?: string }>;
  error?: string;
  cause?: string;
  updatedAt: string;
}
