import "./polyfills.ts";
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBServiceException,
} from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { resolveTemplate } from "./json-path.ts";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";

/**
 * Step Functions for the local twin: runs the workflow definition with aws-local-stepfunctions and adds what that
 * library lacks, without touching the definition's meaning:
 * - service integrations: `lambda:invoke` calls handler modules in-process (LocalLambdaRuntime), `dynamodb:*Item`
 *   calls DynamoDB Local, each with the result and error shapes AWS produces;
 * - the Distributed Map: the state runs as a task that reads the ItemReader object from S3, batches items as the
 *   ItemBatcher says, runs the ItemProcessor as child executions under MaxConcurrency, applies the tolerated failure
 *   threshold and writes the ResultWriter files in AWS's format. The state keeps its InputPath, ResultSelector,
 *   ResultPath, OutputPath, Retry, Catch and Next;
 * - RedriveExecution: an unsuccessful execution resumes, with the same ARN, at the state that was entered and never
 *   exited, with that state's input; a Distributed Map resumes its Map Run and reruns only the child executions that
 *   did not succeed (AWS's rules: docs/resilience.md → Redrive); StopExecution (ABORTED).
 */

type JsonObject = Record<string, unknown>;
type StateDefinition = JsonObject & { Type: string };
interface Definition {
  StartAt: string;
  States: Record<string, StateDefinition>;
  TimeoutSeconds?: number;
  Comment?: string;
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface LocalExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** Times the execution was redriven; its ARN stays the same. */
  redriveCount: number;
  redriveDate?: Date;
  /** Settles when the execution ends (never rejects). */
  done: Promise<LocalExecution>;
}

export type StepFunctionsEvent =
  | { type: "ExecutionStarted"; execution: LocalExecution }
  | { type: "StateEntered"; execution: LocalExecution; state: string }
  | { type: "MapRunProgress"; execution: LocalExecution; state: string; succeeded: number; failed: number; total: number }
  | { type: "ExecutionRedriven"; execution: LocalExecution; state: string }
  | { type: "ExecutionFinished"; execution: LocalExecution };

export class ExecutionAlreadyExistsError extends Error {
  override readonly name = "ExecutionAlreadyExists";
}

export class ExecutionDoesNotExistError extends Error {
  override readonly name = "ExecutionDoesNotExist";
}

export class ExecutionNotRedrivableError extends Error {
  override readonly name = "ExecutionNotRedrivable";
}

/** A Distributed Map state's run within one execution: kept so that a redrive can resume it. */
interface MapRunRecord {
  mapRunId: string;
  mapRunArn: string;
  childInputs: unknown[];
  records: Array<JsonObject & { Status: string }>;
}

/** What a redrive needs of an execution: where it stopped, with what input, and its Map Runs. */
interface ExecutionProgress {
  /** The top-level state entered and not exited, with its input. */
  current?: { state: string; input: unknown };
  mapRuns: Map<string, MapRunRecord>;
  stop?: () => void;
  /** Set by StopExecution: a Map Run starts no further child executions (those running finish, unlike on AWS). */
  stopped?: boolean;
}

export interface LocalStepFunctionsOptions {
  stateMachineArn: string;
  definition: object;
  lambda: LocalLambdaRuntime;
  dynamodb: DynamoDBClient;
  s3: S3Client;
  /** Replace every Retry interval with this many milliseconds (tests). */
  retryIntervalMs?: number;
  /** Makes a DynamoDB task fail with the returned error (the twin's fault injection); undefined: run it. */
  injectDynamoDbFault?: () => Error | undefined;
}

const distributedMapResource = "arn:aws:states:::llambda-local:distributedMap";
const executionStartTimeField = "TwinExecutionStartTime";

function errorParts(error: unknown): { error: string; cause: string } {
  let inner = error;
  if (error instanceof ExecutionError && error.cause) inner = error.cause;
  if (error instanceof ExecutionTimeoutError) return { error: "States.Timeout", cause: "The execution timed out" };
  if (error instanceof ExecutionAbortedError) return { error: "ExecutionAborted", cause: "The execution was stopped" };
  const err = inner instanceof Error ? inner : new Error(String(inner));
  return { error: err.name || "Error", cause: err.message };
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

export class LocalStepFunctions extends EventEmitter {
  private readonly executionsByName = new Map<string, LocalExecution>();
  private readonly progress = new Map<string, ExecutionProgress>();
  private readonly definition: Definition;
  private readonly stateMachineName: string;
  private readonly arnPrefix: string;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    super();
    this.definition = structuredClone(options.definition) as Definition;
    const arn = options.stateMachineArn.split(":");
    this.stateMachineName = arn[6] ?? "state-machine";
    this.arnPrefix = arn.slice(0, 5).join(":");
  }

  get stateMachineArn(): string {
    return this.options.stateMachineArn;
  }

  /** StartExecution semantics: a name is used once; repeating it with the same input while running returns it. */
  startExecution(request: { name?: string; input?: string }): LocalExecution {
    const name = request.name ?? randomUUID();
    const input = request.input ?? "{}";
    const existing = this.executionsByName.get(name);
    if (existing) {
      if (existing.status === "RUNNING" && existing.input === input) return existing;
      throw new ExecutionAlreadyExistsError(`Execution Already Exists: '${existing.executionArn}'`);
    }
    const parsedInput = JSON.parse(input) as unknown;
    const execution = {
      executionArn: `${this.arnPrefix}:execution:${this.stateMachineName}:${name}`,
      stateMachineArn: this.options.stateMachineArn,
      name,
      input,
      status: "RUNNING",
      startDate: new Date(),
      redriveCount: 0,
    } as LocalExecution;
    this.executionsByName.set(name, execution);
    this.progress.set(execution.executionArn, { mapRuns: new Map() });
    execution.done = this.run(execution, parsedInput, this.definition.StartAt);
    this.emit("event", { type: "ExecutionStarted", execution } satisfies StepFunctionsEvent);
    return execution;
  }

  /**
   * RedriveExecution semantics: an execution that FAILED, TIMED_OUT or was ABORTED continues, under the same ARN, from
   * the state where it stopped, with that state's input; the states before it are not run again.
   */
  redriveExecution(executionArn: string): LocalExecution {
    const execution = this.describeExecution(executionArn);
    if (!execution) throw new ExecutionDoesNotExistError(`Execution Does Not Exist: '${executionArn}'`);
    if (execution.status === "RUNNING" || execution.status === "SUCCEEDED") {
      throw new ExecutionNotRedrivableError(`Execution is ${execution.status} and cannot be redriven`);
    }
    const resumeAt = this.progress.get(executionArn)?.current;
    if (!resumeAt) throw new ExecutionNotRedrivableError(`Execution ${executionArn} has no state to resume`);
    Object.assign(execution, { status: "RUNNING", redriveCount: execution.redriveCount + 1, redriveDate: new Date() });
    for (const field of ["stopDate", "output", "error", "cause"] as const) delete execution[field];
    execution.done = this.run(execution, resumeAt.input, resumeAt.state);
    this.emit("event", { type: "ExecutionRedriven", execution, state: resumeAt.state } satisfies StepFunctionsEvent);
    return execution;
  }

  /** StopExecution semantics: a running execution ends ABORTED. */
  stopExecution(executionArn: string): LocalExecution {
    const execution = this.describeExecution(executionArn);
    if (!execution) throw new ExecutionDoesNotExistError(`Execution Does Not Exist: '${executionArn}'`);
    const progress = this.progress.get(executionArn);
    if (execution.status === "RUNNING" && progress) {
      progress.stopped = true;
      progress.stop?.();
    }
    return execution;
  }

  describeExecution(executionArn: string): LocalExecution | undefined {
    return [...this.executionsByName.values()].find((execution) => execution.executionArn === executionArn);
  }

  executions(): LocalExecution[] {
    return [...this.executionsByName.values()];
  }

  /** Resolves when no execution is running. */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.executions().filter((execution) => execution.status === "RUNNING");
      if (running.length === 0) return;
      await Promise.all(running.map((execution) => execution.done));
    }
  }

  private async run(execution: LocalExecution, input: unknown, startAt: string): Promise<LocalExecution> {
    const { definition, handlers } = this.localize({ ...this.definition, StartAt: startAt }, execution);
    // A redrive starts mid-way, which leaves earlier states unreachable: the definition was validated on the first run.
    const progress = this.progress.get(execution.executionArn)!;
    // Before run(): the library starts the first state synchronously.
    progress.stopped = false;
    const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
      validationOptions: startAt === this.definition.StartAt ? { checkArn: false } : { noValidate: true },
    });
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: this.retryOverrides(definition) },
      context: this.contextObject(execution),
    });
    progress.stop = run.abort;
    const followed = this.followEvents(execution, run.eventLogs, progress);
    try {
      const output = await run.result;
      execution.status = "SUCCEEDED";
      execution.output = JSON.stringify(output);
    } catch (error) {
      const parts = errorParts(error);
      execution.status =
        error instanceof ExecutionTimeoutError ? "TIMED_OUT" : error instanceof ExecutionAbortedError ? "ABORTED" : "FAILED";
      execution.error = parts.error;
      execution.cause = parts.cause;
    }
    // The event log ends with the execution; where it stopped must be known before anyone can redrive it.
    await followed;
    execution.stopDate = new Date();
    this.emit("event", { type: "ExecutionFinished", execution } satisfies StepFunctionsEvent);
    return execution;
  }

  private async followEvents(
    execution: LocalExecution,
    events: AsyncGenerator<{ type: string; state?: { name: string; input?: unknown }; index?: number }>,
    progress: ExecutionProgress,
  ) {
    for await (const event of events) {
      if (!event.state || event.index !== undefined) continue;
      if (event.type === "StateEntered") {
        progress.current = { state: event.state.name, input: event.state.input };
        this.emit("event", { type: "StateEntered", execution, state: event.state.name } satisfies StepFunctionsEvent);
      } else if (event.type === "StateExited" && progress.current?.state === event.state.name) {
        progress.current = undefined;
      }
    }
  }

  /** Context object paths the workflow reads ($$.Execution.Id, $$.State.EnteredTime, ...). */
  private contextObject(execution: LocalExecution) {
    return {
      Execution: {
        Id: execution.executionArn,
        Name: execution.name,
        StartTime: execution.startDate.toISOString(),
        [executionStartTimeField]: execution.startDate.toISOString(),
        RedriveCount: execution.redriveCount,
      },
      StateMachine: { Id: execution.stateMachineArn, Name: this.stateMachineName },
      // The library has no per-state context; a getter gives the time the state reads it, which is when it runs.
      State: {
        get EnteredTime() {
          return new Date().toISOString();
        },
      },
    };
  }

  private retryOverrides(definition: Definition): Record<string, number> | undefined {
    if (this.options.retryIntervalMs === undefined) return undefined;
    return Object.fromEntries(Object.keys(definition.States).map((name) => [name, this.options.retryIntervalMs!]));
  }

  /** Binds each Task to its local service, and turns each Distributed Map into a task run by this adapter. */
  private localize(source: Definition, execution: LocalExecution) {
    // aws-local-stepfunctions sets $$.Execution.StartTime to the start of its run, which for a redrive is the redrive;
    // AWS keeps the execution's start. The twin's context carries it under its own name.
    const definition = JSON.parse(
      JSON.stringify(source).replaceAll('"$$.Execution.StartTime"', () => `"$$.Execution.${executionStartTimeField}"`),
    ) as Definition;
    const handlers: Record<string, (input: never) => Promise<unknown>> = {};
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type === "Task") {
        handlers[name] = this.taskHandler(name, String(state.Resource)) as never;
      } else if (state.Type === "Map" && (state.ItemProcessor as JsonObject | undefined)?.ProcessorConfig) {
        const config = (state.ItemProcessor as { ProcessorConfig: { Mode?: string } }).ProcessorConfig;
        if (config.Mode !== "DISTRIBUTED") continue;
        const mapState = state;
        const task: StateDefinition = { Type: "Task", Resource: distributedMapResource };
        for (const field of ["Comment", "InputPath", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch", "Next", "End"]) {
          if (field in mapState) task[field] = mapState[field];
        }
        // A Map Run can take as long as its children; the Task default of 60 s must not cut it short.
        task.TimeoutSeconds = 99999;
        definition.States[name] = task;
        handlers[name] = ((input: unknown) => this.runDistributedMap(name, mapState, input, execution)) as never;
      }
    }
    return { definition, handlers };
  }

  private taskHandler(stateName: string, resource: string) {
    if (resource === "arn:aws:states:::lambda:invoke") {
      return async (parameters: { FunctionName: string; Payload?: unknown }) => {
        const payload = await this.options.lambda.invoke(parameters.FunctionName, parameters.Payload ?? {});
        return { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 };
      };
    }
    const dynamo = /^arn:aws:states:::dynamodb:(getItem|putItem|updateItem|deleteItem)$/.exec(resource);
    if (dynamo) {
      const Command = { getItem: GetItemCommand, putItem: PutItemCommand, updateItem: UpdateItemCommand, deleteItem: DeleteItemCommand }[
        dynamo[1] as "getItem"
      ];
      return async (parameters: never) => {
        const fault = this.options.injectDynamoDbFault?.();
        if (fault) throw fault;
        try {
          const { $metadata: _metadata, ...result } = await this.options.dynamodb.send(new Command(parameters));
          return result;
        } catch (error) {
          // Step Functions reports service-integration errors as "<Service>.<Exception>".
          const err = error as DynamoDBServiceException;
          const wrapped = new Error(err.message);
          wrapped.name = `DynamoDB.${err.name}`;
          throw wrapped;
        }
      };
    }
    return async () => {
      throw new Error(`The local twin cannot run state "${stateName}": resource ${resource} is not supported`);
    };
  }

  private async readItems(state: StateDefinition, input: unknown, context: unknown): Promise<unknown[]> {
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
    const object = await this.options.s3.send(new GetObjectCommand({ Bucket, Key }));
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

  private batch(state: StateDefinition, items: unknown[], input: unknown, context: unknown): unknown[] {
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

  private async runDistributedMap(stateName: string, state: StateDefinition, input: unknown, execution: LocalExecution) {
    const context = this.contextObject(execution);
    if (state.ItemSelector) throw new Error("The local twin's Distributed Map does not apply ItemSelector yet");
    const processor = state.ItemProcessor as { StartAt: string; States: Record<string, StateDefinition> };
    const label = (state.Label as string | undefined) ?? stateName.replace(/[^A-Za-z0-9]/g, "");
    const childMachineArn = `${this.options.stateMachineArn}/${label}`;
    // A redriven execution resumes its Map Run: same items, same child executions, only the unsuccessful ones rerun.
    const mapRuns = this.progress.get(execution.executionArn)?.mapRuns ?? new Map<string, MapRunRecord>();
    let mapRun = mapRuns.get(stateName);
    if (!mapRun) {
      const mapRunId = randomUUID();
      const childInputs = this.batch(state, await this.readItems(state, input, context), input, context);
      mapRun = {
        mapRunId,
        mapRunArn: `${this.arnPrefix}:mapRun:${this.stateMachineName}/${label}:${mapRunId}`,
        childInputs,
        records: new Array(childInputs.length),
      };
      mapRuns.set(stateName, mapRun);
    }
    const { mapRunId, mapRunArn, childInputs, records } = mapRun;
    let succeeded = records.filter((record) => record?.Status === "SUCCEEDED").length;
    let failed = 0;
    const progress = () =>
      this.emit("event", {
        type: "MapRunProgress",
        execution,
        state: stateName,
        succeeded,
        failed,
        total: childInputs.length,
      } satisfies StepFunctionsEvent);
    progress();
    const maxConcurrency = Number(state.MaxConcurrency ?? 0) || 1000;
    const pending = childInputs.map((_, index) => index).filter((index) => records[index]?.Status !== "SUCCEEDED");
    const parent = this.progress.get(execution.executionArn);
    await mapConcurrent(pending, maxConcurrency, async (index) => {
      if (parent?.stopped) return;
      const childInput = childInputs[index];
      const earlier = records[index];
      // A redriven child keeps its name and ARN (AWS redrives child executions in place) and counts the redrive.
      const childName = (earlier?.Name as string | undefined) ?? randomUUID();
      const childArn = `${this.arnPrefix}:execution:${this.stateMachineName}/${label}:${childName}`;
      const child = { executionArn: childArn, name: childName, stateMachineArn: childMachineArn, startDate: new Date(), redriveCount: 0 } as LocalExecution;
      const { definition, handlers } = this.localize({ StartAt: processor.StartAt, States: processor.States }, child);
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
        const run = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } }).run(
          childInput as never,
          {
            overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: this.retryOverrides(definition) },
            context: this.contextObject(child),
          },
        );
        const output = await run.result;
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
      ? await this.writeResults(state.ResultWriter as { Parameters: JsonObject }, records, mapRunArn, mapRunId, input, context)
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

  private async writeResults(
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
      await this.options.s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentType: "application/json" }));
      resultFiles[status]!.push({ Key: key, Size: Buffer.byteLength(body) });
    }
    const manifestKey = `${base}/manifest.json`;
    const manifest = { DestinationBucket: Bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles };
    await this.options.s3.send(
      new PutObjectCommand({ Bucket, Key: manifestKey, Body: JSON.stringify(manifest), ContentType: "application/json" }),
    );
    return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket, Key: manifestKey } };
  }
}
