/**
 * `npm start -- [options] <file...>`: runs documents through the local twin and prints each document's final item.
 * Progress goes to stderr; stdout carries only results (one JSON object per document with --json).
 */
import { createWriteStream, existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { DynamoDBRecord } from "aws-lambda";
import { ModelNotFoundError, resolveModelPath } from "../../models/paths.ts";

/** One line per stream record: event, key, status change, version. */
function describeStreamRecord(record: DynamoDBRecord): string {
  const image = record.dynamodb?.NewImage ?? record.dynamodb?.OldImage;
  const key = image?.source?.M?.key?.S ?? record.dynamodb?.Keys?.documentId?.S ?? "?";
  const name = image?.recordId?.S ? `${basename(key)} record ${image.recordId.S}` : basename(key);
  const before = record.dynamodb?.OldImage?.status?.S;
  const after = record.dynamodb?.NewImage?.status?.S;
  const status = before && before !== after ? `${before} → ${after}` : (after ?? before ?? "");
  const version = record.dynamodb?.NewImage?.version?.N;
  return `${record.eventName} ${name}: ${status}${version ? ` (version ${version})` : ""}`;
}

const usage = `Usage: npm start -- [options] <file.pdf...>

Runs each file through the llambda workflow on the local twin (s3rver, DynamoDB Local, the workflow definition
the stack deploys, and llama.cpp) and prints each document's final DynamoDB item.

Options:
  --json                    one JSON object per document on stdout: documentId, status, result, chunks, error
  --model <path.gguf>       model file (default: $LLAMBDA_MODEL, else the model pulled by \`npm run model:pull\`)
  --chunk-tokens <n>        maximum tokens per chunk (default 1000)
  --threads <n>             llama.cpp threads (default: cores - 1, at least 1)
  --context-size <n>        model context per sequence, tokens (default 8192, at most the model's)
  --max-output-tokens <n>   answer budget per chunk, tokens (default 1024)
  --batch-size <n>          chunks per inference invocation (default 4)
  --data-dir <dir>          where local S3 and DynamoDB keep data (default .llambda)
  --stream-out <file.jsonl> also write the table's stream records there, one per line, in the shape a Lambda
                            consumer receives (the Records of a DynamoDBStreamEvent)
  --quiet-stream            do not show stream records on stderr
  --verbose                 handler logs (INFO) on stderr
  -h, --help                this help

Environment: LLAMBDA_FAULTS="infer:error=0.2,..." injects faults into the twin (docs/resilience.md).

Exit status: 0 when every document ends COMPLETED or PARTIAL, 1 when any ends FAILED, 2 on a usage or setup error.`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return number;
}

class UsageError extends Error {}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      model: { type: "string" },
      "chunk-tokens": { type: "string" },
      threads: { type: "string" },
      "context-size": { type: "string" },
      "max-output-tokens": { type: "string" },
      "batch-size": { type: "string" },
      "data-dir": { type: "string", default: ".llambda" },
      "stream-out": { type: "string" },
      "quiet-stream": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("No input files given.");
  const files = positionals.map((file) => resolve(file));
  for (const file of files) {
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`Not a file: ${file}`);
  }
  const model = resolveModelPath({ cliPath: values.model });
  const chunkTokens = positiveInt("chunk-tokens", values["chunk-tokens"]);
  const threads = positiveInt("threads", values.threads);
  const contextSize = positiveInt("context-size", values["context-size"]);
  const maxOutputTokens = positiveInt("max-output-tokens", values["max-output-tokens"]);
  const batchSize = positiveInt("batch-size", values["batch-size"]);

  // Handler logs go to stdout by default; keep stdout for results unless asked.
  process.env.POWERTOOLS_LOG_LEVEL ??= values.verbose ? "INFO" : "WARN";
  if (values.verbose) console.info = console.error;

  const { availableParallelism } = await import("node:os");
  const { LocalTwin } = await import("./twin.ts");
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const streamOut = values["stream-out"] ? createWriteStream(resolve(values["stream-out"]), { flags: "w" }) : undefined;
  log(`llambda twin: model ${model.path}; starting local S3, DynamoDB Local and Step Functions…`);
  const { FaultInjector, faultsEnvName, parseFaults } = await import("./faults.ts");
  const faultSpec = process.env[faultsEnvName];
  const faults = faultSpec ? new FaultInjector(parseFaults(faultSpec)) : undefined;
  if (faultSpec) log(`llambda twin: injecting faults ${faultSpec} (${faultsEnvName})`);
  const twin = await LocalTwin.start({
    faults,
    dataDir: resolve(values["data-dir"]),
    modelPath: model.path,
    modelId: model.modelId,
    chunkTokens,
    // ggml threads busy-wait: leave a core for DynamoDB Local and the rest of the twin.
    threads: threads ?? Math.max(1, availableParallelism() - 1),
    contextSize,
    maxOutputTokens,
    workflow: batchSize ? { maxItemsPerBatch: batchSize } : undefined,
  });
  const nameOf = (input: string) => basename((JSON.parse(input) as { source: { key: string } }).source.key);
  twin.onEvent((event) => {
    if (event.type === "StateEntered") log(`  ${nameOf(event.execution.input)}: ${event.state}`);
    else if (event.type === "MapRunProgress") {
      log(`  ${nameOf(event.execution.input)}: ${event.state}: ${event.succeeded + event.failed}/${event.total} batches` +
        (event.failed ? ` (${event.failed} failed)` : ""));
    } else if (event.type === "StartFailed") log(`  ${basename(event.key)}: could not start: ${event.error}`);
    else if (event.type === "ConsumerFailed") log(`  stream consumer: ${event.error}`);
    else if (event.type === "StreamRecords") {
      if (streamOut) for (const record of event.records) streamOut.write(`${JSON.stringify(record)}\n`);
      if (!values["quiet-stream"]) for (const record of event.records) log(`  stream: ${describeStreamRecord(record)}`);
    }
  });

  let exitCode = 0;
  try {
    const uploads = [];
    for (const file of files) uploads.push({ file, ...(await twin.upload(file)) });
    for (const upload of uploads) {
      const started = Date.now();
      const item = await twin.waitForDocument(upload.documentId);
      const status = item?.status ?? "FAILED";
      if (status === "FAILED") exitCode = 1;
      log(`${status === "FAILED" ? "✗" : "✓"} ${basename(upload.file)}: ${status} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      if (values.json) {
        const summary: Record<string, unknown> = {
          file: upload.file,
          documentId: upload.documentId,
          status,
          // A result too large for its item is read from S3, as a consumer would.
          result: item ? ((await twin.readResult(item)).result ?? null) : null,
          chunks: item?.chunks ?? { total: 0, succeeded: 0, failed: 0 },
        };
        if (item?.error || !item) summary.error = item?.error ?? "No document item was written";
        if (item?.cause) summary.cause = item.cause;
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        process.stdout.write(`${JSON.stringify(item, null, 2)}\n`);
      }
    }
  } finally {
    // Show the stream records of the last writes before the services stop.
    await twin.streamSettled();
    await twin.stop();
    if (streamOut) await new Promise((resolveEnd) => streamOut.end(resolveEnd));
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n\n${usage}\n`);
    else if (error instanceof ModelNotFoundError || (error as Error).name === "FaultSpecError") process.stderr.write(`${(error as Error).message}\n`);
    else process.stderr.write(`llambda: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
