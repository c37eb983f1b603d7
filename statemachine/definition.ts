import { dynamoDbRetry, lambdaRetry } from "./retry-policy.ts";

/**
 * The document workflow, as Amazon States Language. This is the only definition: the CDK stack deploys it (with CDK
 * tokens for the ARNs) and the local twin runs it (with local names). It is plain data so both can use it unchanged.
 */

export const StateNames = {
  markProcessing: "Mark document processing",
  chunk: "Chunk document",
  extract: "Extract fields from chunks",
  inferBatch: "Extract fields from a batch of chunks",
  chunksLeft: "Chunks left to extract?",
  batchExtracted: "Batch extracted",
  merge: "Merge chunk results",
  recordFailure: "Record document failure",
  succeeded: "Document processed",
  failed: "Document failed",
} as const;

/** The Distributed Map's label: it names the Map Run and its child executions in the console. */
export const MapLabel = "ExtractChunks";

/** S3 prefix under which the Distributed Map writes its results (AWS adds `<map run id>/manifest.json` etc.). */
export const MapResultsPrefix = "map-results";

export interface WorkflowResources {
  chunkFunctionArn: string;
  inferFunctionArn: string;
  mergeFunctionArn: string;
  tableName: string;
  bucketName: string;
}

export interface WorkflowSettings {
  /** Chunks handed to one inference invocation. */
  maxItemsPerBatch: number;
  /** Upper bound of a batch's JSON size; Step Functions' payload limit is 256 KiB. */
  maxInputBytesPerBatch: number;
  /** Concurrent child executions: keep at or below the inference function's concurrency. */
  maxConcurrency: number;
  /**
   * Share of failed batches the Map tolerates before failing, and of failed chunks the merge tolerates: within it a
   * document with failed chunks ends PARTIAL, beyond it FAILED (TooManyFailedChunks).
   */
  toleratedFailurePercentage: number;
  chunkTimeoutSeconds: number;
  inferTimeoutSeconds: number;
  mergeTimeoutSeconds: number;
  executionTimeoutSeconds: number;
}

export const defaultWorkflowSettings: WorkflowSettings = {
  maxItemsPerBatch: 4,
  maxInputBytesPerBatch: 200 * 1024,
  maxConcurrency: 20,
  toleratedFailurePercentage: 10,
  chunkTimeoutSeconds: 300,
  // The inference Lambda times out at 900 s; the task waits a little longer so Lambda's own timeout is what reports.
  inferTimeoutSeconds: 930,
  mergeTimeoutSeconds: 300,
  executionTimeoutSeconds: 24 * 3600,
};

export type StateMachineDefinition = {
  Comment: string;
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, Record<string, unknown>>;
};

const catchAllToFailure = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: StateNames.recordFailure }];

function lambdaInvoke(functionArn: string, payload: Record<string, unknown> | string) {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::lambda:invoke",
    Parameters:
      typeof payload === "string"
        ? { FunctionName: functionArn, "Payload.$": payload }
        : { FunctionName: functionArn, Payload: payload },
    Retry: lambdaRetry,
  };
}

export function buildDocumentWorkflow(
  resources: WorkflowResources,
  settings: WorkflowSettings = defaultWorkflowSettings,
): StateMachineDefinition {
  return {
    Comment: "llambda: extract structured JSON from an uploaded document with an LLM, chunk by chunk",
    StartAt: StateNames.markProcessing,
    TimeoutSeconds: settings.executionTimeoutSeconds,
    States: {
      [StateNames.markProcessing]: {
        Type: "Task",
        Comment: "Make the document visible as PROCESSING before any heavy work",
        Resource: "arn:aws:states:::dynamodb:updateItem",
        Parameters: {
          TableName: resources.tableName,
          Key: { documentId: { "S.$": "$.documentId" } },
          UpdateExpression:
            "SET #status = :status, #source = :source, executionArn = :execution, startedAt = :now, updatedAt = :now REMOVE #error, #cause",
          ExpressionAttributeNames: { "#status": "status", "#source": "source", "#error": "error", "#cause": "cause" },
          ExpressionAttributeValues: {
            ":status": { S: "PROCESSING" },
            ":source": {
              M: {
                bucket: { "S.$": "$.source.bucket" },
                key: { "S.$": "$.source.key" },
                etag: { "S.$": "$.source.etag" },
                size: { "N.$": "States.Format('{}', $.source.size)" },
              },
            },
            ":execution": { "S.$": "$$.Execution.Id" },
            ":now": { "S.$": "$$.State.EnteredTime" },
          },
        },
        ResultPath: null,
        Retry: dynamoDbRetry,
        Catch: catchAllToFailure,
        Next: StateNames.chunk,
      },
      [StateNames.chunk]: {
        ...lambdaInvoke(resources.chunkFunctionArn, { "documentId.$": "$.documentId", "source.$": "$.source" }),
        Comment: "PDF to text per page to token-bounded chunks, written as a JSONL manifest",
        TimeoutSeconds: settings.chunkTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.chunkTask",
        Catch: catchAllToFailure,
        Next: StateNames.extract,
      },
      [StateNames.extract]: {
        Type: "Map",
        Label: MapLabel,
        Comment: "One child execution per batch of chunks; results go to S3, not into the state",
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: "JSONL" },
          Parameters: {
            "Bucket.$": "$.chunkTask.value.manifest.bucket",
            "Key.$": "$.chunkTask.value.manifest.key",
          },
        },
        ItemBatcher: {
          MaxItemsPerBatch: settings.maxItemsPerBatch,
          MaxInputBytesPerBatch: settings.maxInputBytesPerBatch,
          BatchInput: { "documentId.$": "$.documentId" },
        },
        MaxConcurrency: settings.maxConcurrency,
        ToleratedFailurePercentage: settings.toleratedFailurePercentage,
        ItemProcessor: {
          // Chunk inference can take most of Lambda's 15 minutes; Express children stop at 5.
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: StateNames.inferBatch,
          States: {
            [StateNames.inferBatch]: {
              ...lambdaInvoke(resources.inferFunctionArn, "$"),
              Comment:
                "Returns results and failures per chunk, and as Items the chunks left for a fresh invocation: " +
                "halves of chunks that could not finish in time or fit the context, and chunks not started for lack of time",
              TimeoutSeconds: settings.inferTimeoutSeconds,
              OutputPath: "$.Payload",
              Next: StateNames.chunksLeft,
            },
            [StateNames.chunksLeft]: {
              Type: "Choice",
              Choices: [{ Variable: "$.Items[0]", IsPresent: true, Next: StateNames.inferBatch }],
              Default: StateNames.batchExtracted,
            },
            [StateNames.batchExtracted]: { Type: "Succeed" },
          },
        },
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: resources.bucketName, Prefix: MapResultsPrefix },
        },
        ResultPath: "$.mapRun",
        Catch: catchAllToFailure,
        Next: StateNames.merge,
      },
      [StateNames.merge]: {
        ...lambdaInvoke(resources.mergeFunctionArn, {
          "documentId.$": "$.documentId",
          "source.$": "$.source",
          "chunking.$": "$.chunkTask.value",
          "mapRun.$": "$.mapRun",
          execution: { "id.$": "$$.Execution.Id", "startTime.$": "$$.Execution.StartTime" },
          toleratedFailurePercentage: settings.toleratedFailurePercentage,
        }),
        Comment: "Merge chunk results in chunk order and write the document item",
        TimeoutSeconds: settings.mergeTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.merge",
        Catch: catchAllToFailure,
        Next: StateNames.succeeded,
      },
      [StateNames.recordFailure]: {
        Type: "Task",
        Comment: "Every failure ends here: the document item says FAILED, with the error and its cause",
        Resource: "arn:aws:states:::dynamodb:updateItem",
        Parameters: {
          TableName: resources.tableName,
          Key: { documentId: { "S.$": "$.documentId" } },
          UpdateExpression:
            "SET #status = :status, #error = :error, #cause = :cause, executionArn = :execution, updatedAt = :now",
          ExpressionAttributeNames: { "#status": "status", "#error": "error", "#cause": "cause" },
          ExpressionAttributeValues: {
            ":status": { S: "FAILED" },
            ":error": { "S.$": "$.failure.Error" },
            ":cause": { "S.$": "$.failure.Cause" },
            ":execution": { "S.$": "$$.Execution.Id" },
            ":now": { "S.$": "$$.State.EnteredTime" },
          },
        },
        ResultPath: null,
        Retry: dynamoDbRetry,
        Next: StateNames.failed,
      },
      [StateNames.succeeded]: { Type: "Succeed" },
      [StateNames.failed]: {
        Type: "Fail",
        Comment: "The document item holds the error and cause",
        ErrorPath: "$.failure.Error",
        CausePath: "$.failure.Cause",
      },
    },
  };
}
