import "./polyfills.ts";
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { ExecutionAbortedError, ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { errorParts, type Definition, type JsonObject, type StateDefinition } from "./asl.ts";
import { runDistributedMap, type MapRunHost, type MapRunRecord } from "./distributed-map.ts";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";
import { serviceTaskHandler } from "./sfn-service-tasks.ts";

/**
 * Step Functions for the local twin: runs the workflow definition with aws-local-stepfunctions and adds what that
 * library lacks, without touching the definition's meaning:
 * - service integrations (sfn-service-tasks.ts): `lambda:invoke` calls handler modules in-process (LocalLambdaRuntime),
 *   `dynamodb:*Item` calls DynamoDB Local, each with the result and error shapes AWS produces;
 * - the Distributed Map (distributed-map.ts): the state runs as a task that reads the ItemReader object from S3,
 *   batches items as the ItemBatcher says, runs the ItemProcessor as child executions under MaxConcurrency, applies
 *   the tolerated failure threshold and writes the ResultWriter files in AWS's format. The state keeps its InputPath,
 *   ResultSelector, ResultPath, OutputPath, Retry, Catch and Next;
 * - RedriveExecution: an unsuccessful execution resumes, with the same ARN, at the state that was entered and never
 *   exited, with that state's input; a Distributed Map resumes its Map Run and reruns only the child executions that
 *   did not succeed (AWS's rules: docs/resilience.md → Redrive); StopExecution (ABORTED).
 */

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
        handlers[name] = serviceTaskHandler(name, String(state.Resource), this.options) as never;
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
        handlers[name] = ((input: unknown) => runDistributedMap(name, mapState, input, this.mapRunHost(name, execution))) as never;
      }
    }
    return { definition, handlers };
  }

  /** What a Distributed Map state of `execution` needs of this adapter: read when the state runs. */
  private mapRunHost(stateName: string, execution: LocalExecution): MapRunHost {
    const progress = this.progress.get(execution.executionArn);
    return {
      s3: this.options.s3,
      stateMachineArn: this.options.stateMachineArn,
      arnPrefix: this.arnPrefix,
      stateMachineName: this.stateMachineName,
      context: this.contextObject(execution),
      mapRuns: progress?.mapRuns ?? new Map<string, MapRunRecord>(),
      stopped: () => progress?.stopped === true,
      progress: (counts) =>
        this.emit("event", { type: "MapRunProgress", execution, state: stateName, ...counts } satisfies StepFunctionsEvent),
      runChild: (processor, input, child) => this.runChild(processor, input, child as LocalExecution),
    };
  }

  /** Runs one child execution of a Distributed Map's ItemProcessor; resolves to its output. */
  private async runChild(processor: Definition, input: unknown, child: LocalExecution): Promise<unknown> {
    const { definition, handlers } = this.localize(processor, child);
    const run = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } }).run(
      input as never,
      {
        overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: this.retryOverrides(definition) },
        context: this.contextObject(child),
      },
    );
    return run.result;
  }
}
