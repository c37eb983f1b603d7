/**
 * `npx llambda [options] <file...>` (also `npm start -s -- …`): runs documents through the local twin and reports each
 * document. stdout carries only results (a readable summary per document, or one JSON object per document with
 * --json); progress, stream records and errors go to stderr.
 *
 * Whatever ends the run (the last document, SIGINT/SIGTERM, stdout's reader going away, an uncaught error), the local
 * services stop (DynamoDB Local's Java process included) and temporary files go before the process exits.
 */
import "./cli-env.ts";
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { ModelNotFoundError, resolveModelPath, tinyModelNotice } from "../../models/paths.ts";
import {
  checkKeysRouteTo,
  parseCliArgs,
  reviewPageFileNames,
  uploadKeys,
  uploadPrefixFor,
  usage,
  UsageError,
  type CliOptions,
} from "./cli-args.ts";
import {
  describeStreamRecord,
  displayName,
  documentReport,
  formatDuration,
  ProgressReporter,
  renderReport,
  resumeHint,
  UnfinishedCodes,
  unfinishedReport,
  type DocumentReport,
} from "./cli-output.ts";
import type { LocalServiceStoppedError } from "./services.ts";
import type { LocalTwin } from "./twin.ts";

/** Errors whose message is the whole story for the user: one line, exit 2, no stack trace. */
const setupErrorNames = new Set(["UsageError", "ModelNotFoundError", "MissingJavaError", "FaultSpecError", "SchemaRoutingError"]);

function log(line: string): void {
  if (progress) progress.log(line);
  else process.stderr.write(`${line}\n`);
}

let twin: LocalTwin | undefined;
let progress: ProgressReporter | undefined;
let streamOut: WriteStream | undefined;
let stopping: Promise<never> | undefined;

/** Ends the run now: stops the services (without waiting for running documents) and exits with `code`. */
function shutdown(code: number, message?: string): Promise<never> {
  if (stopping) return stopping;
  progress?.stop();
  if (message) process.stderr.write(`${message}\n`);
  stopping = (async () => {
    try {
      await twin?.kill();
      if (streamOut) await new Promise((resolveEnd) => streamOut!.end(resolveEnd));
    } finally {
      // 'exit' hooks remove what is left: temporary worker files, and any Java process not yet stopped.
      process.exit(code);
    }
  })();
  return stopping;
}

function installLifecycle(): void {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      // A second signal while stopping: leave at once (the 'exit' hooks still stop Java and remove temporary files).
      if (stopping) process.exit(code);
      void shutdown(code, `llambda: ${signal}: stopping the local services`);
    });
  }
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") {
      void shutdown(1, "llambda: stdout was closed (its reader is gone) before every document was reported: stopping");
    } else void shutdown(2, `llambda: cannot write to stdout: ${error.message}`);
  });
  // Nothing useful can be done about a closed stderr: keep going quietly.
  process.stderr.on("error", () => undefined);
  const crash = (error: unknown) =>
    void shutdown(2, `llambda: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
}

/** Writes to stdout; false once its reader is gone (then shutdown is under way). */
function writeOut(text: string): boolean {
  if (stopping || process.stdout.destroyed) return false;
  process.stdout.write(text);
  return true;
}

async function main(): Promise<number> {
  const options = parseCliArgs(process.argv.slice(2));
  if (options.help) {
    writeOut(`${usage}\n`);
    return 0;
  }
  // Every check before anything starts: the arguments (above), where the files go, then the model and Java.
  const { cdkJsonSchemaRouting, LocalTwin, TwinNames } = await import("./twin.ts");
  const { extractionSchemas } = await import("../../functions/schemas/index.ts");
  const { schemaIdForKey } = await import("../../functions/start/schema-routing.ts");
  const routing = cdkJsonSchemaRouting();
  const prefix = uploadPrefixFor(options, routing, Object.keys(extractionSchemas));
  const keys = uploadKeys(options.files, prefix);
  checkKeysRouteTo(keys, options.schema, routing);
  const { FaultInjector, faultsEnvName, parseFaults } = await import("./faults.ts");
  const faultSpec = process.env[faultsEnvName];
  const faults = faultSpec ? new FaultInjector(parseFaults(faultSpec)) : undefined;
  const model = resolveModelPath({ ...(options.model === undefined ? {} : { cliPath: options.model }), allowTiny: true });
  if (model.source === "tiny") log(`llambda: ${tinyModelNotice(model.path)}`);
  const { checkJava } = await import("./services.ts");
  checkJava();
  const reviewFiles = reviewPageFileNames(keys, prefix);
  return run(options, {
    model,
    faults,
    faultSpec,
    keys,
    reviewFiles,
    LocalTwin,
    bucket: TwinNames.bucket,
    schemaFor: (key) => schemaIdForKey(routing, key),
  });
}

async function run(
  options: CliOptions,
  setup: {
    model: { path: string; modelId: string };
    faults: import("./faults.ts").FaultInjector | undefined;
    faultSpec: string | undefined;
    keys: string[];
    /** Under --review: each upload's review page file name. */
    reviewFiles: string[];
    LocalTwin: typeof LocalTwin;
    bucket: string;
    schemaFor: (key: string) => string;
  },
): Promise<number> {
  const { availableParallelism } = await import("node:os");
  const { generationMeter } = await import("../../functions/infer/engine.ts");
  progress = new ProgressReporter(process.stderr, () => generationMeter.tokens);
  if (options.streamOut) streamOut = createWriteStream(options.streamOut, { flags: "w" });

  log(`llambda twin: model ${setup.model.path}; starting local S3, DynamoDB Local and Step Functions…`);
  if (setup.faultSpec) log(`llambda twin: injecting faults ${setup.faultSpec}`);
  twin = await setup.LocalTwin.start({
    ...(setup.faults ? { faults: setup.faults } : {}),
    dataDir: options.dataDir,
    modelPath: setup.model.path,
    modelId: setup.model.modelId,
    chunkTokens: options.chunkTokens,
    // ggml threads busy-wait: leave a core for DynamoDB Local and the rest of the twin.
    threads: options.threads ?? Math.max(1, availableParallelism() - 1),
    contextSize: options.contextSize,
    maxOutputTokens: options.maxOutputTokens,
    workflow: options.batchSize ? { maxItemsPerBatch: options.batchSize } : undefined,
  });
  if (stopping) await stopping;
  const running = twin;
  /** Set once a local service has stopped under the run (DynamoDB Local killed, crashed). */
  let interruption: LocalServiceStoppedError | undefined;
  const serviceStopped = running.serviceStopped.then((error) => (interruption = error));
  /** `work`'s outcome, or the stopped service's error if one stops first (or its failure turns out to be that). */
  const unlessInterrupted = <T>(work: Promise<T>): Promise<T | LocalServiceStoppedError> =>
    Promise.race([work, serviceStopped]).catch(async (error: unknown) => {
      // A request to a dead service can fail just before its process's exit is seen: give that a moment.
      const stopped = await Promise.race([serviceStopped, new Promise<undefined>((resolveWait) => setTimeout(() => resolveWait(undefined), 1_000).unref())]);
      if (stopped) return stopped;
      throw error;
    });
  const nameOf = (input: string) => displayName((JSON.parse(input) as { source: { key: string } }).source.key);
  twin.onEvent((event) => {
    // Once stopping, the services go away under running work: what that work reports then is noise.
    if (stopping || interruption) return;
    if (event.type === "ExecutionStarted") progress!.executionStarted(event.execution.executionArn, nameOf(event.execution.input), event.execution.startDate.getTime());
    else if (event.type === "ExecutionFinished") progress!.executionFinished(event.execution.executionArn);
    else if (event.type === "StateEntered") {
      progress!.stateEntered(event.execution.executionArn, event.state);
      log(`  ${nameOf(event.execution.input)}: ${event.state}`);
    } else if (event.type === "MapRunProgress") {
      progress!.mapProgress(event.execution.executionArn, { done: event.succeeded + event.failed, failed: event.failed, total: event.total });
      log(`  ${nameOf(event.execution.input)}: ${event.state}: ${event.succeeded + event.failed}/${event.total} batches` + (event.failed ? ` (${event.failed} failed)` : ""));
    } else if (event.type === "StartFailed") log(`  ${displayName(event.key)}: could not start: ${event.error}`);
    else if (event.type === "ConsumerFailed") log(`  stream consumer: ${event.error}`);
    else if (event.type === "StreamRecords") {
      if (streamOut) for (const record of event.records) streamOut.write(`${JSON.stringify(record)}\n`);
      if (!options.quietStream) for (const record of event.records) log(`  stream: ${describeStreamRecord(record)}`);
    }
  });
  progress.start();

  let exitCode = 0;
  const uploads: Array<{ file: string; key: string; documentId: string } | { file: string; key: string; documentId: null; error: unknown }> = [];
  for (const [index, file] of options.files.entries()) {
    const key = setup.keys[index]!;
    log(`  ${file} → s3://${setup.bucket}/${key} (schema ${setup.schemaFor(key)})`);
    try {
      uploads.push({ file, ...(await running.upload(file, key)) });
    } catch (error) {
      // One file the twin does not take (e.g. a key its S3 cannot store) gets its own line; the others still run.
      uploads.push({ file, key, documentId: null, error });
      log(`  ${displayName(key)}: not uploaded: ${describeError(error)}`);
    }
  }
  if (options.review) mkdirSync(options.review, { recursive: true });
  const reportOf = async (upload: { file: string; key: string; documentId: string }, index: number): Promise<DocumentReport> => {
    const item = await running.waitForDocument(upload.documentId);
    const offloaded = item ? await running.readResult(item) : undefined;
    const report = documentReport(upload, item, offloaded);
    if (options.review) {
      // The workflow wrote it to the twin's bucket, where the item points (a document that FAILED has none).
      const html = item ? await running.readReviewPage(item) : undefined;
      const path = html === undefined ? null : join(options.review, setup.reviewFiles[index]!);
      if (path !== null) writeFileSync(path, html!);
      report.reviewPage = path;
      if (path === null && item?.reviewPage) log(`  ${displayName(upload.key)}: no review page at s3://${item.reviewPage.bucket}/${item.reviewPage.key}`);
    }
    return report;
  };
  let unfinished = 0;
  for (const [index, upload] of uploads.entries()) {
    let report: DocumentReport;
    if (upload.documentId === null) {
      report = unfinishedReport(upload, { status: "FAILED", error: UnfinishedCodes.uploadFailed, cause: describeError(upload.error) });
    } else {
      const outcome = interruption ?? (await unlessInterrupted(reportOf(upload, index)));
      if (outcome instanceof Error) {
        unfinished++;
        report = unfinishedReport(upload, {
          status: "INTERRUPTED",
          error: UnfinishedCodes.serviceStopped,
          cause: `${outcome.message} before this document's result was read`,
          resume: resumeHint(options.dataDir),
        });
      } else report = outcome;
    }
    const ok = report.status === "COMPLETED" || report.status === "PARTIAL";
    if (!ok) exitCode = 1;
    log(`${ok ? "✓" : "✗"} ${displayName(upload.key)}: ${report.status}${report.ms === null ? "" : ` (${formatDuration(report.ms)})`}`);
    if (!writeOut(options.json ? `${JSON.stringify(report)}\n` : renderReport(report))) return stopping ?? 1;
  }
  progress.stop();
  // Show the stream records of the last writes before the services stop.
  if (!interruption) await unlessInterrupted(running.streamSettled());
  if (interruption) {
    log(
      `llambda: ${interruption.message}` +
        (unfinished > 0 ? ` with ${unfinished} ${unfinished === 1 ? "document" : "documents"} unfinished` : "") +
        ": stopping the other local services." +
        (unfinished > 0 ? ` To complete ${unfinished === 1 ? "it" : "them"}, ${resumeHint(options.dataDir, unfinished)}.` : ""),
    );
    await running.kill();
  } else await running.stop();
  twin = undefined;
  if (streamOut) await new Promise((resolveEnd) => streamOut!.end(resolveEnd));
  streamOut = undefined;
  return exitCode;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

installLifecycle();
main().then(
  async (code) => {
    if (stopping) await stopping;
    // Let stdout drain into a pipe before exiting.
    process.stdout.write("", () => process.exit(code));
  },
  (error: unknown) => {
    const name = (error as Error | undefined)?.name ?? "";
    if (error instanceof UsageError) return void shutdown(2, `${error.message}\n\n${usage}`);
    if (error instanceof ModelNotFoundError || setupErrorNames.has(name)) return void shutdown(2, `llambda: ${(error as Error).message}`);
    void shutdown(2, `llambda: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  },
);
