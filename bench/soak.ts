/**
 * `npm run soak -- --docs 50 --faults "infer:error=0.2,infer:timeout=0.05" [options]`: drops many documents at once
 * into the local twin while faults are injected (infra/local/faults.ts), then checks the promise of the workflow:
 * every document ends in a terminal state, none is lost, none is processed twice, item versions never repeat or go
 * back, and documents whose retries succeeded have the same result as a fault-free run of the same texts.
 */
// First: quiets handler logs, metrics and the SDK's Node-version notice before any module that reads them loads.
import "../infra/local/cli-env.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { DynamoDBRecord } from "aws-lambda";
import type { DocumentItem } from "../functions/shared/document-item.ts";
import { FaultInjector, faultsEnvName, parseFaults, type FaultCounts } from "../infra/local/faults.ts";
import { TwinNames, type LocalTwin } from "../infra/local/twin.ts";
import { documentIdFor } from "../functions/start/execution-name.ts";
import { uploadPollers } from "../functions/start/admission.ts";
import { ModelNotFoundError, resolveModelPath, tinyModelNotice } from "../models/paths.ts";

export interface SoakOptions {
  docs: number;
  /** LLAMBDA_FAULTS syntax. */
  faults: string;
  modelPath: string;
  modelId?: string;
  threads: number;
  seed: number;
  /** Run the same texts fault-free first and compare results. */
  baseline: boolean;
  dataDir: string;
  /** Replaces Retry intervals, ms (the deployed intervals are seconds). */
  retryIntervalMs: number;
  /** Documents admitted at once (LLAMBDA_MAX_RUNNING_DOCUMENTS); default as the stack computes it. */
  maxRunningDocuments?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  documents: number;
  statuses: Record<string, number>;
  /** Uploads with no item, or an item not in a terminal state. */
  lost: string[];
  /** Documents with more than one execution. */
  duplicateExecutions: string[];
  /** Documents whose stream shows a version repeated, skipped or going back. */
  versionProblems: string[];
  /** Documents COMPLETED in both runs whose results differ. */
  mismatches: string[];
  /** Documents not COMPLETED, with why. */
  notCompleted: Array<{ key: string; status: string; error?: string }>;
  injected: FaultCounts;
  wallMs: number;
  documentsPerMinute: number;
  /** Most executions running at once during the faulted run (admission keeps it at or below maxRunningDocuments). */
  peakRunning: number;
  maxRunningDocuments?: number;
  baseline?: { wallMs: number; documentsPerMinute: number; statuses: Record<string, number> };
}

/** Deterministic small documents: one chunk each, different facts per document. */
function soakText(i: number): string {
  const companies = ["Initech", "Globex", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Acme", "Soylent"];
  return (
    `Invoice ${1000 + i} from ${companies[i % companies.length]}, dated 2024-0${1 + (i % 9)}-1${i % 10}. ` +
    `${3 + (i % 7)} boxes of paper at ${(12.5 + i).toFixed(2)} EUR each; total ${((3 + (i % 7)) * (12.5 + i)).toFixed(2)} EUR.`
  );
}

const terminal = new Set(["COMPLETED", "PARTIAL", "FAILED"]);

async function runBatch(twin: LocalTwin, prefix: string, docs: number): Promise<{ items: Map<string, DocumentItem | undefined>; ids: Map<string, string>; wallMs: number }> {
  const started = performance.now();
  const keys = Array.from({ length: docs }, (_, i) => `${prefix}doc-${String(i).padStart(4, "0")}.txt`);
  // All at once, as a burst of uploads would arrive. An upload whose workflow never started counts as lost.
  const uploads = await Promise.allSettled(keys.map((key, i) => twin.uploadBytes(new TextEncoder().encode(soakText(i)), key)));
  const ids = new Map(keys.map((key) => [key, documentIdFor(TwinNames.bucket, key)]));
  const items = new Map<string, DocumentItem | undefined>();
  for (const [i, upload] of uploads.entries()) {
    items.set(keys[i]!, upload.status === "fulfilled" ? await twin.waitForDocument(upload.value.documentId) : undefined);
  }
  return { items, ids, wallMs: performance.now() - started };
}

const countStatuses = (items: Map<string, DocumentItem | undefined>) => {
  const counts: Record<string, number> = {};
  for (const item of items.values()) counts[item?.status ?? "MISSING"] = (counts[item?.status ?? "MISSING"] ?? 0) + 1;
  return counts;
};

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const faults = new FaultInjector(parseFaults(options.faults), options.seed);
  const { LocalTwin } = await import("../infra/local/twin.ts");
  const twin = await LocalTwin.start({
    dataDir: options.dataDir,
    modelPath: options.modelPath,
    modelId: options.modelId,
    threads: options.threads,
    maxOutputTokens: 768,
    retryIntervalMs: options.retryIntervalMs,
    faults,
    ...(options.maxRunningDocuments ? { maxRunningDocuments: options.maxRunningDocuments } : {}),
  });
  let running = 0;
  let peakRunning = 0;
  twin.onEvent((event) => {
    if (event.type === "ExecutionStarted") peakRunning = Math.max(peakRunning, ++running);
    else if (event.type === "ExecutionFinished") running--;
  });
  try {
    let baseline: Awaited<ReturnType<typeof runBatch>> | undefined;
    if (options.baseline) {
      faults.enabled = false;
      log(`soak: fault-free baseline, ${options.docs} documents…`);
      baseline = await runBatch(twin, "uploads/soak/baseline/", options.docs);
      faults.enabled = true;
    }
    log(`soak: ${options.docs} documents with faults ${options.faults}…`);
    peakRunning = running;
    const run = await runBatch(twin, "uploads/soak/faulted/", options.docs);
    await twin.streamSettled();

    const report: SoakReport = {
      documents: options.docs,
      statuses: countStatuses(run.items),
      lost: [],
      duplicateExecutions: [],
      versionProblems: [],
      mismatches: [],
      notCompleted: [],
      injected: { ...faults.injected },
      wallMs: Math.round(run.wallMs),
      documentsPerMinute: Number(((options.docs * 60_000) / run.wallMs).toFixed(1)),
      peakRunning,
      ...(options.maxRunningDocuments ? { maxRunningDocuments: options.maxRunningDocuments } : {}),
    };
    const executions = twin.stepFunctions.executions();
    const records = await twin.streamRecords();
    const versionsOf = new Map<string, number[]>();
    for (const record of records as DynamoDBRecord[]) {
      const id = record.dynamodb?.Keys?.documentId?.S;
      const version = Number(record.dynamodb?.NewImage?.version?.N);
      if (id && Number.isFinite(version)) versionsOf.set(id, [...(versionsOf.get(id) ?? []), version]);
    }
    for (const [key, item] of run.items) {
      const id = run.ids.get(key)!;
      if (!item || !terminal.has(item.status)) report.lost.push(key);
      else if (item.status !== "COMPLETED") report.notCompleted.push({ key, status: item.status, ...(item.error ? { error: item.error } : {}) });
      if (executions.filter((execution) => execution.input.includes(id)).length !== 1) report.duplicateExecutions.push(key);
      const versions = versionsOf.get(id) ?? [];
      if (versions.some((version, i) => version !== i + 1) || (item && versions.at(-1) !== item.version)) report.versionProblems.push(key);
      const expected = baseline?.items.get(key.replace("/faulted/", "/baseline/"));
      if (item?.status === "COMPLETED" && expected?.status === "COMPLETED" && JSON.stringify(item.result) !== JSON.stringify(expected.result)) {
        report.mismatches.push(key);
      }
    }
    if (baseline) {
      report.baseline = {
        wallMs: Math.round(baseline.wallMs),
        documentsPerMinute: Number(((options.docs * 60_000) / baseline.wallMs).toFixed(1)),
        statuses: countStatuses(baseline.items),
      };
    }
    return report;
  } finally {
    await twin.stop();
  }
}

/** True when the run kept every promise. */
export function soakPassed(report: SoakReport): boolean {
  // Concurrent start invocations can each take one slot of the same free room: the bound is the limit + pollers - 1.
  const withinLimit = report.maxRunningDocuments === undefined || report.peakRunning <= report.maxRunningDocuments + uploadPollers - 1;
  return withinLimit && report.lost.length === 0 && report.duplicateExecutions.length === 0 && report.versionProblems.length === 0 && report.mismatches.length === 0;
}

export function formatSoakReport(report: SoakReport): string {
  const lines = [
    `documents          ${report.documents}`,
    `terminal           ${Object.entries(report.statuses).map(([status, n]) => `${status} ${n}`).join(", ")}`,
    `lost               ${report.lost.length}${report.lost.length ? `: ${report.lost.join(", ")}` : ""}`,
    `duplicate runs     ${report.duplicateExecutions.length}`,
    `version problems   ${report.versionProblems.length}`,
    `running at once    at most ${report.peakRunning}${report.maxRunningDocuments ? ` (admission limit ${report.maxRunningDocuments})` : ""}`,
    `faults injected    ${Object.entries(report.injected).map(([kind, n]) => `${kind} ${n}`).join(", ") || "none"}`,
    `result mismatches  ${report.baseline ? report.mismatches.length : "(no baseline)"}`,
    `time               ${(report.wallMs / 1000).toFixed(1)} s, ${report.documentsPerMinute} documents/min` +
      (report.baseline ? ` (fault-free: ${(report.baseline.wallMs / 1000).toFixed(1)} s, ${report.baseline.documentsPerMinute}/min)` : ""),
  ];
  for (const document of report.notCompleted) lines.push(`  ${document.key}: ${document.status}${document.error ? ` (${document.error})` : ""}`);
  lines.push(soakPassed(report) ? "PASS: every document terminal, none lost, none duplicated" : "FAIL");
  return `${lines.join("\n")}\n`;
}

const usage = `Usage: npm run soak -- [--docs 50] [--faults "<spec>"] [options]

Drops --docs small text documents at once into the local twin with faults injected at the given rates, then checks
that every document ends terminal, none is lost or run twice, versions never repeat, and (with the fault-free
baseline run first) that retried documents get the same result.

Options:
  --docs <n>            documents (default 50)
  --faults <spec>       default: $${faultsEnvName}, else "infer:error=0.2,infer:timeout=0.05"
                        targets start, chunk, infer, merge, consumer (error, throttle, timeout) and ddb (error, throttle)
  --model <path.gguf>   model (default: $LLAMBDA_MODEL, else the pulled model, else models/tiny.gguf)
  --threads <n>         llama.cpp threads (default 1)
  --seed <n>            seed of the fault draws (default 1)
  --no-baseline         skip the fault-free run and the result comparison
  --retry-interval-ms <n>  Retry intervals on the twin (default 50)
  --max-running <n>     documents admitted at once (LLAMBDA_MAX_RUNNING_DOCUMENTS; default as deployed)
  --json                the report as JSON on stdout
Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or setup error.`;

/** A command line the soak cannot use: reported with the usage, exit status 2. */
class UsageError extends Error {
  override readonly name = "UsageError";
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        docs: { type: "string", default: "50" },
        faults: { type: "string" },
        model: { type: "string" },
        threads: { type: "string", default: "1" },
        seed: { type: "string", default: "1" },
        "no-baseline": { type: "boolean", default: false },
        "retry-interval-ms": { type: "string", default: "50" },
        "max-running": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    // node's parser reports an unknown option, a missing value or a stray argument as a TypeError: the user's mistake.
    if (String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS_")) throw new UsageError((error as Error).message);
    throw error;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const int = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${text}`);
    return value;
  };
  // Every value is checked before the model is looked for or anything starts.
  const counts = {
    docs: int("docs", values.docs, 1),
    threads: int("threads", values.threads, 1),
    seed: int("seed", values.seed, 0),
    retryIntervalMs: int("retry-interval-ms", values["retry-interval-ms"], 0),
    ...(values["max-running"] === undefined ? {} : { maxRunningDocuments: int("max-running", values["max-running"], 1) }),
  };
  const faults = values.faults ?? process.env[faultsEnvName] ?? "infer:error=0.2,infer:timeout=0.05";
  parseFaults(faults);
  const model = resolveModelPath({ cliPath: values.model, allowTiny: true });
  if (model.source === "tiny") process.stderr.write(`${tinyModelNotice(model.path)}\n`);
  const dataDir = mkdtempSync(join(tmpdir(), "llambda-soak-"));
  try {
    const report = await runSoak({
      ...counts,
      faults,
      modelPath: resolve(model.path),
      modelId: model.modelId,
      baseline: !values["no-baseline"],
      dataDir,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatSoakReport(report));
    return soakPassed(report) ? 0 : 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) process.stderr.write(`${error.message}\n\n${usage}\n`);
      else {
        const known = error instanceof ModelNotFoundError || (error as Error).name === "FaultSpecError";
        process.stderr.write(`${known ? (error as Error).message : String((error as Error).stack ?? error)}\n`);
      }
      process.exit(2);
    },
  );
}
