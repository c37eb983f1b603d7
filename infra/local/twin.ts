import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord, SQSBatchResponse } from "aws-lambda";
import type { Server } from "node:http";
import { readyTransitionFilters } from "../../functions/consumer/stream-filter.ts";
import type { OffloadedResult } from "../../functions/merge/result-offload.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";
import type { DocumentItem, WorkflowInput } from "../../functions/shared/contracts.ts";
import { uploadBatchSize, uploadPollers, uploadQueueMaxReceiveCount } from "../../functions/start/admission.ts";
import { documentIdFor } from "../../functions/start/execution-name.ts";
import { buildDocumentWorkflow, defaultWorkflowSettings } from "../../statemachine/definition.ts";
import { failedExecutionEventPattern, uploadEventPattern } from "../specs.ts";
import { TableStreamReader, type StreamFollower } from "./dynamodb-stream.ts";
import { matchesAnyFilter } from "./event-pattern.ts";
import { executionStatusChangeEvent, matchesPattern, objectCreatedEvent, type S3NotificationRecord } from "./eventbridge.ts";
import type { FaultTarget } from "./faults.ts";
import { LocalLambdaRuntime } from "./lambda-runtime.ts";
import {
  ensureBucket,
  ensureDocumentTable,
  freePort,
  localCredentials,
  localRegion,
  startDynamoDbOnFreePort,
  startS3,
  type DynamoDbServer,
  type LocalServiceStoppedError,
  type S3Server,
} from "./services.ts";
import { startStepFunctionsEndpoint } from "./sfn-endpoint.ts";
import { LocalStepFunctions, type LocalExecution, type StepFunctionsEvent } from "./stepfunctions.ts";
import { LocalQueue } from "./sqs-queue.ts";
import { twinAccount as account, TwinNames, twinFunctions, type TwinOptions } from "./twin-functions.ts";

export { cdkJsonSchemaRouting, TwinNames, twinFunctions, type TwinOptions } from "./twin-functions.ts";

/**
 * The local twin: the deployed architecture on local, protocol-compatible parts. s3rver is S3, DynamoDB Local is
 * DynamoDB, LocalStepFunctions runs the same workflow definition the stack deploys, and the Lambda handlers run
 * in-process against those endpoints (AWS_ENDPOINT_URL_*), with llama.cpp doing the inference for real.
 */

export type TwinEvent =
  | StepFunctionsEvent
  | { type: "StartFailed"; key: string; error: string }
  | { type: "StreamRecords"; records: DynamoDBRecord[] }
  | { type: "ConsumerFailed"; error: string }
  | { type: "FailedExecutionNotRecorded"; executionArn: string; error: string };

/** The upload queue's event source mapping and redrive policy, as the stack deploys them. */
const uploadQueueSettings = { batchSize: uploadBatchSize, maxConcurrency: uploadPollers, maxReceiveCount: uploadQueueMaxReceiveCount };

/** How often the twin's stream poller asks DynamoDB Local for new records, ms (Lambda polls about 4 times a second). */
const streamPollMs = 250;

export class LocalTwin {
  private readonly startResults = new Map<string, Promise<unknown>>();
  private listeners: Array<(event: TwinEvent) => void> = [];
  private streamFollower: StreamFollower | undefined;
  private lastDeliveredSequence = -1n;
  private readonly consumerInvocations = new Set<Promise<unknown>>();
  /** The failed-execution function's invocation for each execution's latest end. */
  private readonly executionEndDeliveries = new Map<string, Promise<unknown>>();
  private readonly uploadQueue: LocalQueue;

  private constructor(
    readonly options: TwinOptions,
    private readonly s3Server: S3Server,
    private readonly dynamoDbServer: DynamoDbServer,
    private readonly sfnServer: Server,
    private readonly streamReader: TableStreamReader,
    readonly stepFunctions: LocalStepFunctions,
    readonly lambda: LocalLambdaRuntime,
    readonly s3: S3Client,
    readonly dynamodb: DynamoDBClient,
  ) {
    // The stack's queue and event source mapping, with the visibility timeout scaled down for a local run.
    this.uploadQueue = new LocalQueue(
      { name: "llambda-uploads", ...uploadQueueSettings, visibilityMs: options.queueVisibilityMs ?? 1000 },
      (event) => this.lambda.invoke(TwinNames.functionArn("start"), event) as Promise<SQSBatchResponse>,
    );
  }

  static async start(options: TwinOptions): Promise<LocalTwin> {
    // First: a setting a function would refuse fails before any service starts.
    const functions = twinFunctions(options);
    const [s3Server, dynamoDbServer] = await Promise.all([
      startS3(join(options.dataDir, "s3"), await freePort()),
      startDynamoDbOnFreePort(join(options.dataDir, "dynamodb")),
    ]);
    const clientConfig = { region: localRegion, credentials: localCredentials };
    const s3 = new S3Client({
      ...clientConfig,
      endpoint: s3Server.url,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbServer.url });
    await ensureBucket(s3, TwinNames.bucket);
    await ensureDocumentTable(dynamodb, TwinNames.table);

    const shortName = (name: string) => name.replace(/^.*:function:llambda-/, "");
    const lambda = new LocalLambdaRuntime(
      functions,
      options.injectFault || options.faults
        ? (name, event) => options.injectFault?.(shortName(name), event) ?? options.faults?.draw(shortName(name) as FaultTarget)
        : undefined,
    );
    const settings = { ...defaultWorkflowSettings, ...options.workflow };
    const definition = buildDocumentWorkflow(
      {
        chunkFunctionArn: TwinNames.functionArn("chunk"),
        ocrFunctionArn: TwinNames.functionArn("ocr"),
        inferFunctionArn: TwinNames.functionArn("infer"),
        mergeFunctionArn: TwinNames.functionArn("merge"),
        reviewFunctionArn: TwinNames.functionArn("review"),
        tableName: TwinNames.table,
        bucketName: TwinNames.bucket,
      },
      settings,
    );
    const stepFunctions = new LocalStepFunctions({
      stateMachineArn: TwinNames.stateMachineArn,
      definition,
      lambda,
      dynamodb,
      s3,
      retryIntervalMs: options.retryIntervalMs,
      ...(options.faults ? { injectDynamoDbFault: () => options.faults!.draw("ddb") } : {}),
    });
    const sfn = await startStepFunctionsEndpoint(stepFunctions);

    // Handlers run in this process and find the local services the way they find AWS's: through the SDK's
    // endpoint settings. This is the only place that knows the services are local.
    Object.assign(process.env, {
      AWS_REGION: localRegion,
      AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3Server.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoDbServer.url,
      AWS_ENDPOINT_URL_SFN: sfn.url,
      // s3rver does not understand the SDK's default aws-chunked uploads with trailing checksums.
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      // No CloudWatch here to read the metrics' EMF lines: keep them off stdout unless asked for (=false).
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
    });

    const streamReader = new TableStreamReader({
      endpoint: dynamoDbServer.url,
      region: localRegion,
      credentials: localCredentials,
      tableName: TwinNames.table,
    });
    const twin = new LocalTwin(options, s3Server, dynamoDbServer, sfn.server, streamReader, stepFunctions, lambda, s3, dynamodb);
    stepFunctions.on("event", (event: StepFunctionsEvent) => {
      if (event.type === "ExecutionFinished") twin.onExecutionFinished(event.execution);
      twin.emit(event);
    });
    await twin.followStream();
    s3Server.on("event", (notification) => twin.onS3Notification(notification.Records as S3NotificationRecord[]));
    return twin;
  }

  /**
   * The table stream's event source mapping, as the stack deploys it: records are shown to listeners (StreamRecords),
   * and the ones the consumer's filter lets through invoke the example consumer function.
   */
  private async followStream(): Promise<void> {
    // Records of earlier runs (the data folder persists) count as delivered: only new ones are followed.
    this.lastDeliveredSequence = await this.latestStreamSequence();
    this.streamFollower = await this.streamReader.follow(
      (records) => {
        for (const record of records) {
          const sequence = BigInt(record.dynamodb?.SequenceNumber ?? "0");
          if (sequence > this.lastDeliveredSequence) this.lastDeliveredSequence = sequence;
        }
        this.emit({ type: "StreamRecords", records });
        const ready = records.filter((record) => matchesAnyFilter(record, readyTransitionFilters));
        if (ready.length === 0) return;
        const invocation = this.lambda
          .invoke(TwinNames.functionArn("consumer"), { Records: ready })
          .catch((error: unknown) => this.emit({ type: "ConsumerFailed", error: String(error) }))
          .finally(() => this.consumerInvocations.delete(invocation));
        this.consumerInvocations.add(invocation);
      },
      { fromStart: false, pollMs: streamPollMs },
    );
    this.streamFollower.done.catch((error: unknown) => this.emit({ type: "ConsumerFailed", error: `Stream reading stopped: ${String(error)}` }));
  }

  /** Waits until the stream follower has delivered every record written so far and the consumer has handled them. */
  async streamSettled(maxWaitMs = 10_000): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    const written = await this.latestStreamSequence();
    while (this.lastDeliveredSequence < written && Date.now() < deadline) {
      await new Promise((resolveWait) => setTimeout(resolveWait, streamPollMs));
    }
    await Promise.all([...this.consumerInvocations]);
  }

  private async latestStreamSequence(): Promise<bigint> {
    let latest = -1n;
    for (const record of await this.streamReader.readAll()) {
      const sequence = BigInt(record.dynamodb?.SequenceNumber ?? "0");
      if (sequence > latest) latest = sequence;
    }
    return latest;
  }

  /**
   * Settles when a service the twin runs in another process (DynamoDB Local) ends on its own. The documents running
   * then cannot finish: their items stay as they were until a new upload of their files runs them again.
   */
  get serviceStopped(): Promise<LocalServiceStoppedError> {
    return this.dynamoDbServer.stopped;
  }

  /** Every record in the table's stream so far, in the shape a Lambda consumer receives. */
  streamRecords(): Promise<DynamoDBRecord[]> {
    return this.streamReader.readAll();
  }

  onEvent(listener: (event: TwinEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(event: TwinEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /**
   * The EventBridge rule on Step Functions' status events: executions that end FAILED, TIMED_OUT or ABORTED invoke
   * the failed-execution function (asynchronously, as EventBridge does), which records the end on the item.
   */
  private onExecutionFinished(execution: LocalExecution): void {
    const event = executionStatusChangeEvent(execution, localRegion, account);
    if (!matchesPattern(event, failedExecutionEventPattern(TwinNames.stateMachineArn))) return;
    const delivery = this.lambda
      .invoke(TwinNames.functionArn("failed-execution"), event)
      .catch((error: unknown) =>
        this.emit({ type: "FailedExecutionNotRecorded", executionArn: execution.executionArn, error: String(error) }),
      );
    this.executionEndDeliveries.set(execution.executionArn, delivery);
  }

  /** The EventBridge rule: object-created events under uploads/ go to the upload queue. */
  private onS3Notification(records: S3NotificationRecord[]): void {
    for (const record of records) {
      const event = objectCreatedEvent(record, account);
      if (!event || !matchesPattern(event, uploadEventPattern(TwinNames.bucket) as never)) continue;
      // The rule's target is the upload queue; the start function drains it (admission control).
      const { key } = event.detail.object;
      const started = this.uploadQueue.send(JSON.stringify(event)).done.then((outcome) => {
        if (outcome === "deleted") return { documentId: documentIdFor(event.detail.bucket.name, key) };
        const error = new Error(`The upload event of ${key} went to the dead-letter queue after ${uploadQueueSettings.maxReceiveCount} receives`);
        this.emit({ type: "StartFailed", key, error: error.message });
        return error;
      });
      this.startResults.set(`${event.detail.object.key}\u0000${event.detail.object.etag ?? ""}`, started);
    }
  }

  /** Uploads a file under uploads/ (as a user would) and resolves once the upload event has been handled. */
  async upload(filePath: string, key = `${BucketLayout.uploadsPrefix}${basename(filePath)}`): Promise<{ key: string; documentId: string }> {
    return this.uploadBytes(await readFile(filePath), key);
  }

  async uploadBytes(body: Uint8Array, key: string): Promise<{ key: string; documentId: string }> {
    const put = await this.s3.send(new PutObjectCommand({ Bucket: TwinNames.bucket, Key: key, Body: body }));
    const etag = (put.ETag ?? "").replace(/"/g, "");
    const deadline = Date.now() + 10_000;
    let started = this.startResults.get(`${key}\u0000${etag}`);
    while (!started && Date.now() < deadline) {
      await new Promise((resolveWait) => setTimeout(resolveWait, 20));
      started = this.startResults.get(`${key}\u0000${etag}`);
    }
    if (!started) throw new Error(`No upload event arrived for ${key}`);
    const result = (await started) as { documentId?: string } | Error;
    if (result instanceof Error || !result.documentId) throw new Error(`Starting the workflow for ${key} failed: ${String(result)}`);
    return { key, documentId: result.documentId };
  }

  /** Waits for every execution of the document to end, then returns its item. */
  async waitForDocument(documentId: string): Promise<DocumentItem | undefined> {
    const executions = this.stepFunctions
      .executions()
      .filter((execution) => (JSON.parse(execution.input) as WorkflowInput).documentId === documentId);
    await Promise.all(executions.map((execution) => execution.done));
    // An unsuccessful end is recorded on the item by the failed-execution function, just after the execution ends.
    await Promise.all(executions.map((execution) => this.executionEndDeliveries.get(execution.executionArn)));
    return this.getDocument(documentId);
  }

  /** The item's result, read from S3 when it was too large for the item. */
  async readResult(item: DocumentItem): Promise<OffloadedResult> {
    if (!item.resultLocation) {
      return {
        result: item.result,
        provenance: item.provenance,
        conflicts: item.conflicts,
        failedChunks: item.failedChunks,
        grounding: item.grounding,
        confidence: item.confidence,
        reviewReasons: item.reviewReasons,
      };
    }
    const object = await this.s3.send(new GetObjectCommand({ Bucket: item.resultLocation.bucket, Key: item.resultLocation.key }));
    return JSON.parse((await object.Body?.transformToString("utf-8")) ?? "{}") as OffloadedResult;
  }

  /** The document's review page (HTML), where its item points; undefined when the item points to none or it is missing. */
  async readReviewPage(item: DocumentItem): Promise<string | undefined> {
    if (!item.reviewPage) return undefined;
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: item.reviewPage.bucket, Key: item.reviewPage.key }));
      return (await object.Body?.transformToString("utf-8")) ?? undefined;
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async getDocument(documentId: string): Promise<DocumentItem | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({ TableName: TwinNames.table, Key: { documentId: { S: documentId } }, ConsistentRead: true }),
    );
    return Item ? (unmarshall(Item) as DocumentItem) : undefined;
  }

  async stop(): Promise<void> {
    this.uploadQueue.stop();
    await this.stepFunctions.idle();
    await Promise.all([...this.executionEndDeliveries.values()]);
    await this.streamSettled(2_000);
    await this.streamFollower?.stop();
    await this.streamReader.close();
    await new Promise<void>((resolveClose) => this.sfnServer.close(() => resolveClose()));
    await Promise.all([this.s3Server.close(), this.dynamoDbServer.close()]);
    this.s3.destroy();
    this.dynamodb.destroy();
  }

  /**
   * Stops the services now, without waiting for running executions (an interrupted CLI, a reader gone): no more
   * uploads are taken, the stream stops, the endpoints close and DynamoDB Local's Java process exits. Executions
   * still running in this process end with it. Each step is bounded in time, so a stuck connection cannot hold it.
   */
  async kill(): Promise<void> {
    const bounded = (work: Promise<unknown>, ms = 3_000) =>
      Promise.race([work.catch(() => undefined), new Promise((resolveWait) => setTimeout(resolveWait, ms).unref())]);
    this.uploadQueue.stop();
    await bounded(this.streamFollower?.stop() ?? Promise.resolve());
    await bounded(this.streamReader.close());
    this.sfnServer.closeAllConnections();
    await Promise.all([
      bounded(new Promise<void>((resolveClose) => this.sfnServer.close(() => resolveClose()))),
      bounded(this.s3Server.close()),
      // DynamoDB Local's close escalates to SIGKILL itself after 5 s.
      this.dynamoDbServer.close(),
    ]);
    this.s3.destroy();
    this.dynamodb.destroy();
  }
}

