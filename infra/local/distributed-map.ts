import { randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { errorParts, type Definition, type JsonObject, type StateDefinition } from "./asl.ts";
import { resolveTemplate } from "./json-path.ts";

/**
 * The Distributed Map of the twin's Step Functions (stepfunctions.ts runs the state as a task that calls this): reads
 * the ItemReader object from S3, batches items as the ItemBatcher says, runs the ItemProcessor as child executions
 * under MaxConcurrency, applies the tolerated failure threshold and writes the ResultWriter files in AWS's format. A
 * redriven execution resumes its Map Run and reruns only the child executions that did not succeed.
 */

/** A Distributed Map state's run within one execution: kept so that a redrive can resume it. */
export interface MapRunRecord {
  mapRunId: string;
  mapRunArn: string;
  childInputs: unknown[];
  records: Array<JsonObject & { Status: string }>;
}

/** The identity a child execution runs under (its context object's Execution and StateMachine). */
export interface ChildExecution {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  startDate: Date;
  redriveCount: number;
}

/** What a Map Run needs of the execution it runs in; LocalStepFunctions provides it. */
export interface MapRunHost {
  s3: S3Client;
  stateMachineArn: string;
  /** `arn:aws:states:<region>:<account>`, and the state machine's name: child and Map Run ARNs are built from them. */
  arnPrefix: string;
  stateMachineName: string;
  /** The execution's context object. */
  context: unknown;
  /** The execution's Map Runs by state name, kept so that a redrive can resume them. */
  mapRuns: Map<string, MapRunRecord>;
  /** Whether StopExecution was called: the Map Run starts no further child executions. */
  stopped: () => boolean;
  progress: (counts: { succeeded: number; failed: number; total: number }) => void;
  /** Runs one child execution of the ItemProcessor: resolves to its output, rejects with its error. */
  runChild: (processor: Definition, input: unknown, child: ChildExecution) => Promise<unknown>;
}

/**
 * Runs a Distributed Map state with `input`: its result is the ResultWriter's details (or, without a ResultWriter, the
 * child executions' outputs); past the tolerated failure threshold it throws States.ExceedToleratedFailureThreshold.
 */
export async function runDistributedMap(stateName: string, state: StateDefinition, input: unknown, host: MapRunHost) {
  const context = host.context;
  if (state.ItemSelector) throw new Error("The local twin's Distributed Map does not apply ItemSelector yet");
  const processor = state.ItemProcessor as { StartAt: string; States: Record<string, StateDefinition> };
  const label = (state.Label as string | undefined) ?? stateName.replace(/[^A-Za-z0-9]/g, "");
  const childMachineArn = `${host.stateMachineArn}/${label}`;
  // A redriven execution resumes its Map Run: same items, same child executions, only the unsuccessful ones rerun.
  const mapRuns = host.mapRuns;
  let mapRun = mapRuns.get(stateName);
  if (!mapRun) {
    const mapRunId = randomUUID();
    const childInputs = batchItems(state, await readItems(state, input, context, host.s3), input, context);
    mapRun = {
      mapRunId,
      mapRunArn: `${host.arnPrefix}:mapRun:${host.stateMachineName}/${label}:${mapRunId}`,
      childInputs,
      records: new Array(childInputs.length),
    };
    mapRuns.set(stateName, mapRun);
  }
  const { mapRunId, mapRunArn, childInputs, records } = mapRun;
  let succeeded = records.filter((record) => record?.Status === "SUCCEEDED").length;
  let failed = 0;
  const progress = () => host.progress({ succeeded, failed, total: childInputs.length });
  progress();
  const maxConcurrency = Number(state.MaxConcurrency ?? 0) || 1000;
  const pending = childInputs.map((_, index) => index).filter((index) => records[index]?.Status !== "SUCCEEDED");
  await mapConcurrent(pending, maxConcurrency, async (index) => {
    if (host.stopped()) return;
    const childInput = childInputs[index];
    const earlier = records[index];
    // A redriven child keeps its name and ARN (AWS redrives child executions in place) and counts the redrive.
    const childName = (earlier?.Name as string | undefined) ?? randomUUID();
    const childArn = `${host.arnPrefix}:execution:${host.stateMachineName}/${label}:${childName}`;
    const child: ChildExecution = { executionArn: childArn, name: childName, stateMachineArn: childMachineArn, startDate: new Date(), redriveCount: 0 };
    const startDate = new Date();
    const record: JsonObject & { Status: string } = {
      ExecutionArn: childArn,
      Input: JSON.stringify(childInput),
      InputDetails: { Included: true },
      Name: childName,
      RedriveCount: earlier ? Number(earlier.RedriveCount ?? 0) + 1 : 0,
      StartDate: startDate.toISOString(),
      StateMachineArn: childMachineArn,
      Status: "RUNNING",
    };
    try {
      const output = await host.runChild({ StartAt: processor.StartAt, States: processor.States }, childInput, child);
      Object.assign(record, {
        Status: "SUCCEEDED",
        Output: JSON.stringify(output),
        OutputDetails: { Included: true },
        RedriveStatus: "NOT_REDRIVABLE",
        RedriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
      });
      succeeded++;
    } catch (error) {
      const parts = errorParts(error);
      Object.assign(record, { Status: "FAILED", Error: parts.error, Cause: parts.cause, RedriveStatus: "REDRIVABLE" });
      failed++;
    }
    record.StopDate = new Date().toISOString();
    records[index] = record;
    progress();
  });

  const output = state.ResultWriter
    ? await writeResults(host.s3, state.ResultWriter as { Parameters: JsonObject }, records, mapRunArn, mapRunId, input, context)
    : records.map((record) => (record.Output ? (JSON.parse(record.Output as string) as unknown) : null));

  // Neither threshold set means no failure is tolerated; with both, exceeding either fails the Map Run.
  const total = childInputs.length;
  const toleratedCount = state.ToleratedFailureCount as number | undefined;
  const toleratedPercentage =
    (state.ToleratedFailurePercentage as number | undefined) ?? (toleratedCount === undefined ? 0 : undefined);
  const exceeded =
    (toleratedPercentage !== undefined && total > 0 && (failed / total) * 100 > toleratedPercentage) ||
    (toleratedCount !== undefined && failed > toleratedCount);
  if (exceeded) {
    // AWS's cause stops at the first sentence; the twin adds the first child's error, since it has no console.
    const first = records.find((record) => record.Status !== "SUCCEEDED");
    const error = new Error(
      `The specified tolerated failure threshold was exceeded: ${failed} of ${total} child executions failed ` +
        `(Map Run ${mapRunArn}; first failure: ${String(first?.Error)}: ${String(first?.Cause).slice(0, 500)})`,
    );
    error.name = "States.ExceedToleratedFailureThreshold";
    throw error;
  }
  return output;
}

async function readItems(state: StateDefinition, input: unknown, context: unknown, s3: S3Client): Promise<unknown[]> {
  const reader = state.ItemReader as { Resource: string; ReaderConfig?: { InputType?: string }; Parameters?: JsonObject } | undefined;
  if (!reader) {
    const itemsPath = (state.ItemsPath as string | undefined) ?? "$";
    const items = resolveTemplate({ "items.$": itemsPath }, input, context) as { items: unknown };
    if (!Array.isArray(items.items)) throw new Error("Input of Map state must be an array");
    return items.items;
  }
  if (reader.Resource !== "arn:aws:states:::s3:getObject") {
    throw new Error(`The local twin's Distributed Map reads only s3:getObject item sources, not ${reader.Resource}`);
  }
  const { Bucket, Key } = resolveTemplate(reader.Parameters ?? {}, input, context) as { Bucket: string; Key: string };
  const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
  const text = (await object.Body?.transformToString("utf-8")) ?? "";
  const inputType = reader.ReaderConfig?.InputType ?? "JSON";
  if (inputType === "JSONL") {
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as unknown);
  }
  if (inputType === "JSON") return JSON.parse(text) as unknown[];
  throw new Error(`The local twin's Distributed Map does not read InputType ${inputType}`);
}

function batchItems(state: StateDefinition, items: unknown[], input: unknown, context: unknown): unknown[] {
  const batcher = state.ItemBatcher as
    | { MaxItemsPerBatch?: number; MaxInputBytesPerBatch?: number; BatchInput?: JsonObject }
    | undefined;
  if (!batcher) return items;
  const batchInput = batcher.BatchInput ? resolveTemplate(batcher.BatchInput, input, context) : undefined;
  const maxItems = batcher.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const maxBytes = batcher.MaxInputBytesPerBatch ?? 256 * 1024;
  const batches: unknown[] = [];
  let current: unknown[] = [];
  const size = (batchItems: unknown[]) =>
    Buffer.byteLength(JSON.stringify(batchInput === undefined ? { Items: batchItems } : { Items: batchItems, BatchInput: batchInput }));
  const flush = () => {
    if (current.length === 0) return;
    batches.push(batchInput === undefined ? { Items: current } : { Items: current, BatchInput: batchInput });
    current = [];
  };
  for (const item of items) {
    if (current.length >= maxItems || (current.length > 0 && size([...current, item]) > maxBytes)) flush();
    current.push(item);
  }
  flush();
  return batches;
}

async function writeResults(
  s3: S3Client,
  writer: { Parameters: JsonObject },
  records: Array<JsonObject & { Status: string }>,
  mapRunArn: string,
  mapRunId: string,
  input: unknown,
  context: unknown,
) {
  const { Bucket, Prefix } = resolveTemplate(writer.Parameters, input, context) as { Bucket: string; Prefix?: string };
  const base = `${Prefix ? `${Prefix.replace(/\/$/, "")}/` : ""}${mapRunId}`;
  const resultFiles: Record<string, Array<{ Key: string; Size: number }>> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const status of ["SUCCEEDED", "FAILED"] as const) {
    const matching = records.filter((record) => (status === "SUCCEEDED" ? record.Status === "SUCCEEDED" : record.Status !== "SUCCEEDED"));
    if (matching.length === 0) continue;
    const key = `${base}/${status}_0.json`;
    const body = JSON.stringify(matching);
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: "application/json" }));
    resultFiles[status]!.push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${base}/manifest.json`;
  const manifest = { DestinationBucket: Bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles };
  await s3.send(
    new PutObjectCommand({ Bucket, Key: manifestKey, Body: JSON.stringify(manifest), ContentType: "application/json" }),
  );
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifestKey } };
}

async function mapConcurrent<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  });
  await Promise.all(workers);
}
