import { documentItemContractVersion, resultAttributes } from "../functions/shared/document-item.ts";
import { ErrorNames } from "../functions/shared/errors.ts";
import { mapResultWriterPrefix } from "../functions/shared/bucket-layout.ts";
import type { MergeTaskInput } from "../functions/shared/contracts.ts";
import { countTransitions } from "./happy-path.ts";
import { dynamoDbRetry, inputErrors, lambdaRetry } from "./retry-policy.ts";

/**
 * The document workflow, as Amazon States Language. This is the only definition: the CDK stack deploys it (with CDK
 * tokens for the ARNs) and the local twin runs it (with local names). It is plain data so both can use it unchanged.
 */

export const StateNames = {
  markProcessing: "Mark document processing",
  chunk: "Chunk document",
  pagesToOcr: "Pages to OCR?",
  ocr: "OCR pages",
  ocrGroup: "OCR a group of pages",
  ocrPagesLeft: "Pages left to OCR?",
  ocrGroupDone: "Pages OCR'd",
  chunkAfterOcr: "Chunk OCR'd document",
  recordChunkCount: "Record chunk count",
  extract: "Extract fields from chunks",
  inferBatch: "Extract fields from a batch of chunks",
  chunksLeft: "Chunks left to extract?",
  batchExtracted: "Batch extracted",
  merge: "Merge chunk results",
  mergedAsFailed: "Merge outcome",
  mergeFailure: "Failed chunks beyond tolerance",
  review: "Write review page",
  recordFailure: "Record document failure",
  superseded: "Superseded by a newer upload",
  succeeded: "Document processed",
  failed: "Document failed",
} as const;

/** The Distributed Map's label: it names the Map Run and its child executions in the console. */
export const MapLabel = "ExtractChunks";
/** The OCR Distributed Map's label. */
export const OcrMapLabel = "OcrPages";

/** S3 prefix under which the Distributed Map writes its results (AWS adds `<map run id>/manifest.json` etc.). */
export const MapResultsPrefix = mapResultWriterPrefix;

export interface WorkflowResources {
  chunkFunctionArn: string;
  ocrFunctionArn: string;
  inferFunctionArn: string;
  mergeFunctionArn: string;
  reviewFunctionArn: string;
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
  ocrTimeoutSeconds: number;
  inferTimeoutSeconds: number;
  mergeTimeoutSeconds: number;
  reviewTimeoutSeconds: number;
  executionTimeoutSeconds: number;
}

export const defaultWorkflowSettings: WorkflowSettings = {
  maxItemsPerBatch: 4,
  maxInputBytesPerBatch: 200 * 1024,
  maxConcurrency: 20,
  toleratedFailurePercentage: 10,
  chunkTimeoutSeconds: 300,
  // The OCR Lambda times out at 900 s; as for inference, Lambda's own timeout is what reports.
  ocrTimeoutSeconds: 930,
  // The inference Lambda times out at 900 s; the task waits a little longer so Lambda's own timeout is what reports.
  inferTimeoutSeconds: 930,
  mergeTimeoutSeconds: 300,
  // The review Lambda times out at 120 s; the task waits a little longer so Lambda's own timeout is what reports.
  reviewTimeoutSeconds: 150,
  executionTimeoutSeconds: 24 * 3600,
};

export type StateMachineDefinition = {
  Comment: string;
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, Record<string, unknown>>;
};

/** A single-item DynamoDB write answers in milliseconds; a minute means something is wrong (then retried, or caught). */
const dynamoDbTaskTimeoutSeconds = 60;

/**
 * Only errors of the document itself are caught: recorded on the item, they end the execution at the Fail state, for
 * good. Every other error (a dependency down beyond its retries, a bad deployment) fails the execution at the state
 * where it happened, so that a redrive, once the cause is fixed, resumes there; the failed-execution function
 * records those on the item (EventBridge: Step Functions execution status change). See docs/resilience.md.
 */
const catchInputErrors = [{ ErrorEquals: inputErrors, ResultPath: "$.failure", Next: StateNames.recordFailure }];

/** A conditional write refused: an execution of a newer upload of the key owns the document's item. */
const supersededErrors = ["DynamoDB.ConditionalCheckFailedException", ErrorNames.Superseded];
const catchSuperseded = { ErrorEquals: supersededErrors, ResultPath: "$.failure", Next: StateNames.superseded };

/** Only the execution that marked the item PROCESSING may write it (functions/merge/item-store.ts does the same). */
const ownedByThisExecution = {
  ConditionExpression: "#owner = :execution",
};

/** Values every write of the item uses: the writing execution, the time, and 1 to add to `version`. */
const ownerWriteValues = {
  ":execution": { "S.$": "$$.Execution.Id" },
  ":now": { "S.$": "$$.State.EnteredTime" },
  ":one": { N: "1" },
};

/** A Task that updates the execution's document item, with the DynamoDB retry policy; its output is discarded. */
function updateDocumentItem(tableName: string, update: Record<string, unknown>) {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::dynamodb:updateItem",
    TimeoutSeconds: dynamoDbTaskTimeoutSeconds,
    Parameters: { TableName: tableName, Key: { documentId: { "S.$": "$.documentId" } }, ...update },
    ResultPath: null,
    Retry: dynamoDbRetry,
  };
}

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

/**
 * A Distributed Map over a JSONL object in S3 whose child executions invoke a task until it returns no `Items` (the
 * work it had no time for goes to a fresh invocation), with STANDARD children (a task may take most of Lambda's 15
 * minutes; Express children stop at 5) and its results written to S3, not into the state. Both fan-outs, chunk
 * extraction and OCR, are this shape.
 */
function loopingDistributedMap(options: {
  label: string;
  comment: string;
  /** The JSONPath of the S3Location of the JSONL to read. */
  items: string;
  batcher: Record<string, unknown>;
  settings: Pick<WorkflowSettings, "maxConcurrency" | "toleratedFailurePercentage">;
  task: { name: string } & Record<string, unknown>;
  itemsLeft: string;
  done: string;
  bucketName: string;
}) {
  const { name: taskName, ...task } = options.task;
  return {
    Type: "Map",
    Label: options.label,
    Comment: options.comment,
    ItemReader: {
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSONL" },
      Parameters: { "Bucket.$": `${options.items}.bucket`, "Key.$": `${options.items}.key` },
    },
    ItemBatcher: options.batcher,
    MaxConcurrency: options.settings.maxConcurrency,
    ToleratedFailurePercentage: options.settings.toleratedFailurePercentage,
    ItemProcessor: {
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: taskName,
      States: {
        [taskName]: { ...task, OutputPath: "$.Payload", Next: options.itemsLeft },
        [options.itemsLeft]: {
          Type: "Choice",
          Choices: [{ Variable: "$.Items[0]", IsPresent: true, Next: taskName }],
          Default: options.done,
        },
        [options.done]: { Type: "Succeed" },
      },
    },
    ResultWriter: {
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { Bucket: options.bucketName, Prefix: MapResultsPrefix },
    },
  };
}

export function buildDocumentWorkflow(
  resources: WorkflowResources,
  settings: WorkflowSettings = defaultWorkflowSettings,
): StateMachineDefinition {
  const definition: StateMachineDefinition = {
    Comment: "llambda: extract structured JSON from an uploaded document with an LLM, chunk by chunk",
    StartAt: StateNames.markProcessing,
    TimeoutSeconds: settings.executionTimeoutSeconds,
    States: {
      [StateNames.markProcessing]: {
        ...updateDocumentItem(resources.tableName, {
          UpdateExpression:
            "SET #status = :status, #kind = :kind, contractVersion = :contract, #source = :source, sourceOrder = :order, " +
            "#owner = :execution, schemaId = :schema, timings = :timings, updatedAt = :now " +
            `REMOVE ${resultAttributes.map((_, i) => `#finished${i}`).join(", ")} ` +
            "ADD #version :one",
          ConditionExpression: "attribute_not_exists(documentId) OR sourceOrder <= :order",
          ExpressionAttributeNames: {
            "#status": "status",
            "#kind": "kind",
            "#source": "source",
            "#owner": "executionArn",
            "#version": "version",
            // Every attribute of an earlier execution's result, each under a name (some are reserved words).
            ...Object.fromEntries(resultAttributes.map((name, i) => [`#finished${i}`, name])),
          },
          ExpressionAttributeValues: {
            ":status": { S: "PROCESSING" },
            ":kind": { "S.$": "$.kind" },
            ":contract": { N: String(documentItemContractVersion) },
            // Built by the start function: ASL cannot leave out the fields an unversioned object lacks.
            ":source.$": "$.sourceAttribute",
            ":order": { "S.$": "$.sourceOrder" },
            ":schema": { "S.$": "$.schemaId" },
            ":timings": { M: { startedAt: { "S.$": "$$.Execution.StartTime" } } },
            ...ownerWriteValues,
          },
        }),
        Comment:
          "Make the document visible as PROCESSING before any heavy work, and take ownership of its item: refused " +
          "when the item belongs to a newer version of the object",
        Catch: [catchSuperseded],
        Next: StateNames.chunk,
      },
      [StateNames.chunk]: {
        ...lambdaInvoke(resources.chunkFunctionArn, {
          "documentId.$": "$.documentId",
          "source.$": "$.source",
          "ocrMode.$": "$.ocrMode",
          // For the function's log lines (correlation key `execution`).
          "executionId.$": "$$.Execution.Id",
        }),
        Comment:
          "PDF to text per page to token-bounded chunks, written as a JSONL manifest; or, for a document with pages " +
          "to OCR (a scan, an image), the OCR plan",
        TimeoutSeconds: settings.chunkTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.chunkTask",
        Catch: catchInputErrors,
        Next: StateNames.pagesToOcr,
      },
      [StateNames.pagesToOcr]: {
        Type: "Choice",
        Choices: [{ Variable: "$.chunkTask.value.ocrPlan", IsPresent: true, Next: StateNames.ocr }],
        Default: StateNames.recordChunkCount,
      },
      [StateNames.ocr]: {
        ...loopingDistributedMap({
          label: OcrMapLabel,
          comment: "One child execution per group of pages; each page's text, words and boxes go to S3",
          items: "$.chunkTask.value.ocrPlan.pageGroups",
          batcher: {
            MaxItemsPerBatch: 1,
            BatchInput: { "documentId.$": "$.documentId", "source.$": "$.source", "executionId.$": "$$.Execution.Id" },
          },
          // Failed groups within the tolerance: their pages are failed pages, which the chunk step counts itself.
          settings,
          task: {
            name: StateNames.ocrGroup,
            ...lambdaInvoke(resources.ocrFunctionArn, "$"),
            Comment: "OCRs the group's pages to a deadline; returns as Items the pages it had no time to start",
            TimeoutSeconds: settings.ocrTimeoutSeconds,
          },
          itemsLeft: StateNames.ocrPagesLeft,
          done: StateNames.ocrGroupDone,
          bucketName: resources.bucketName,
        }),
        ResultPath: "$.ocrRun",
        Next: StateNames.chunkAfterOcr,
      },
      [StateNames.chunkAfterOcr]: {
        ...lambdaInvoke(resources.chunkFunctionArn, {
          "documentId.$": "$.documentId",
          "source.$": "$.source",
          "executionId.$": "$$.Execution.Id",
          ocr: { "plan.$": "$.chunkTask.value.ocrPlan", "mapRun.$": "$.ocrRun", "planUsage.$": "$.chunkTask.value.usage" },
          toleratedFailurePercentage: settings.toleratedFailurePercentage,
        }),
        Comment:
          "The text layer and the OCR'd pages to token-bounded chunks; fails the document when more pages failed " +
          "than tolerated (TooManyFailedPages) or no page has text (NO_TEXT_FOUND)",
        TimeoutSeconds: settings.chunkTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.chunkTask",
        Catch: catchInputErrors,
        Next: StateNames.recordChunkCount,
      },
      [StateNames.recordChunkCount]: {
        ...updateDocumentItem(resources.tableName, {
          UpdateExpression:
            "SET chunks = :chunks, #source.pages = :pages, tokens = :tokens, timings.chunkedAt = :now, updatedAt = :now " +
            "ADD #version :one",
          ...ownedByThisExecution,
          ExpressionAttributeNames: { "#source": "source", "#owner": "executionArn", "#version": "version" },
          ExpressionAttributeValues: {
            ":chunks": {
              M: {
                total: { "N.$": "States.Format('{}', $.chunkTask.value.chunkCount)" },
                succeeded: { N: "0" },
                failed: { N: "0" },
              },
            },
            ":pages": { "N.$": "States.Format('{}', $.chunkTask.value.pageCount)" },
            ":tokens": { "N.$": "States.Format('{}', $.chunkTask.value.tokenCount)" },
            ...ownerWriteValues,
          },
        }),
        Comment: "Progress for consumers: the item, still PROCESSING, gets its chunk count and pages",
        Catch: [catchSuperseded],
        Next: StateNames.extract,
      },
      [StateNames.extract]: {
        ...loopingDistributedMap({
          label: MapLabel,
          comment: "One child execution per batch of chunks; results go to S3, not into the state",
          items: "$.chunkTask.value.manifest",
          batcher: {
            MaxItemsPerBatch: settings.maxItemsPerBatch,
            MaxInputBytesPerBatch: settings.maxInputBytesPerBatch,
            BatchInput: { "documentId.$": "$.documentId", "schemaId.$": "$.schemaId", "executionId.$": "$$.Execution.Id" },
          },
          settings,
          task: {
            name: StateNames.inferBatch,
            ...lambdaInvoke(resources.inferFunctionArn, "$"),
            Comment:
              "Returns results and failures per chunk, and as Items the chunks left for a fresh invocation: " +
              "halves of chunks that could not finish in time or fit the context, and chunks not started for lack of time",
            TimeoutSeconds: settings.inferTimeoutSeconds,
          },
          itemsLeft: StateNames.chunksLeft,
          done: StateNames.batchExtracted,
          bucketName: resources.bucketName,
        }),
        ResultPath: "$.mapRun",
        Next: StateNames.merge,
      },
      [StateNames.merge]: {
        ...lambdaInvoke(resources.mergeFunctionArn, {
          "documentId.$": "$.documentId",
          "schemaId.$": "$.schemaId",
          "source.$": "$.source",
          "sourceOrder.$": "$.sourceOrder",
          "chunking.$": "$.chunkTask.value",
          "mapRun.$": "$.mapRun",
          execution: { "id.$": "$$.Execution.Id", "startTime.$": "$$.Execution.StartTime" },
          toleratedFailurePercentage: settings.toleratedFailurePercentage,
        }),
        Comment:
          "Merge chunk results in page order, validate against the schema and write the item: COMPLETED, PARTIAL, " +
          "or FAILED when more chunks failed than tolerated",
        TimeoutSeconds: settings.mergeTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.merge",
        Catch: [catchSuperseded],
        Next: StateNames.mergedAsFailed,
      },
      [StateNames.mergedAsFailed]: {
        Type: "Choice",
        Comment:
          "FAILED: the merge has written the item with its failed chunks, and the execution fails too. A record batch " +
          "ends here. A document that ended COMPLETED or PARTIAL gets its review page",
        Choices: [
          { Variable: "$.merge.value.status", StringEquals: "FAILED", Next: StateNames.mergeFailure },
          { Not: { Variable: "$.kind", StringEquals: "document" }, Next: StateNames.succeeded },
        ],
        Default: StateNames.review,
      },
      [StateNames.review]: {
        ...lambdaInvoke(resources.reviewFunctionArn, {
          "documentId.$": "$.documentId",
          execution: { "id.$": "$$.Execution.Id" },
        }),
        Comment:
          "The item's review page (HTML: the pages with a box over each grounded value) to S3, where the item points. " +
          "A review page never fails a document: any error, after the retries, goes into the output and the execution succeeds",
        TimeoutSeconds: settings.reviewTimeoutSeconds,
        ResultSelector: { "value.$": "$.Payload" },
        ResultPath: "$.review",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.review", Next: StateNames.succeeded }],
        Next: StateNames.succeeded,
      },
      [StateNames.mergeFailure]: {
        Type: "Pass",
        Parameters: { "Error.$": "$.merge.value.error", "Cause.$": "$.merge.value.cause" },
        ResultPath: "$.failure",
        Next: StateNames.failed,
      },
      [StateNames.recordFailure]: {
        ...updateDocumentItem(resources.tableName, {
          UpdateExpression: "SET #status = :status, #error = :error, #cause = :cause, updatedAt = :now ADD #version :one",
          ...ownedByThisExecution,
          ExpressionAttributeNames: {
            "#status": "status",
            "#error": "error",
            "#cause": "cause",
            "#owner": "executionArn",
            "#version": "version",
          },
          ExpressionAttributeValues: {
            ":status": { S: "FAILED" },
            ":error": { "S.$": "$.failure.Error" },
            ":cause": { "S.$": "$.failure.Cause" },
            ...ownerWriteValues,
          },
        }),
        Comment:
          "The document cannot be processed (bad input): the item says FAILED, with the error code and its cause. " +
          "Other failures stop at their state, for a redrive; the failed-execution function records them",
        Catch: [{ ...catchSuperseded, ResultPath: null }],
        Next: StateNames.failed,
      },
      [StateNames.superseded]: {
        Type: "Succeed",
        Comment: "A newer upload of the same key owns the document's item; this execution's result is not written",
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
  // The merge records the document's cost from the workflow's transition counts: counted here, once, and passed in its
  // payload, so the merge Lambda carries no workflow builder. The counts follow Next/Default only, not this payload.
  const { fixed, perBatch, perExtraPass } = countTransitions(definition);
  const merge = definition.States[StateNames.merge] as { Parameters: { Payload: Record<string, unknown> } };
  merge.Parameters.Payload.transitions = { fixed, perBatch, perExtraPass } satisfies MergeTaskInput["transitions"];
  return definition;
}
