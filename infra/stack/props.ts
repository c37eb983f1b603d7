import { Duration, RemovalPolicy, type StackProps, Token } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { chunkTokensRange } from "../../functions/chunk/limits.ts";
import { defaultSchemaId, extractionSchemaProblems, extractionSchemas } from "../../functions/schemas/index.ts";
import { intInRange } from "../../functions/shared/config.ts";
import { parseOcrMode, parseOcrRoutes, type OcrRouting } from "../../functions/start/ocr-routing.ts";
import { validateSchemaRouting, type SchemaRouting } from "../../functions/start/schema-routing.ts";
import { defaultWorkflowSettings, type WorkflowSettings } from "../../statemachine/definition.ts";
import { REPO_ROOT } from "../repo-root.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";

export interface InferTuning {
  /** ggml threads (EnvNames.threads); default derived by the handler from the memory size. */
  threads?: number;
  /** Context size per sequence, tokens (EnvNames.contextSize). */
  contextSize?: number;
  /** Maximum generated tokens per chunk (EnvNames.maxOutputTokens). */
  maxOutputTokens?: number;
}

export interface LlambdaStackProps extends StackProps {
  /** Model baked into the inference image: `models/<modelId>.gguf`, listed in models/models.json. */
  modelId: string;
  /** sha256 of the model file when models/models.json has none for modelId. */
  modelSha256?: string;
  /** Maximum tokens per chunk (tiktoken count), for the chunk function. */
  chunkTokens: number;
  /** Memory of the inference function, MB (128–10,240; the vCPU share grows with it). */
  inferMemoryMb: number;
  /** Concurrent child executions of the Distributed Map (= concurrent inference invocations). */
  maxConcurrency: number;
  /** Reserved concurrency of the inference function. Unset by default: new accounts have low concurrency limits. */
  inferReservedConcurrency?: number;
  /** /tmp of the inference function, MB. Default 1,024: the model is read from the image, not /tmp. */
  inferEphemeralStorageMb?: number;
  /** Optional inference tuning passed as environment variables. */
  inferTuning?: InferTuning;
  /** Which extraction schema uploads get, by key prefix (cdk.json `llambda:schemaRoutes`, `llambda:schemaId`). */
  schemaRouting?: SchemaRouting;
  /**
   * OCR of pages without a usable text layer and of image uploads, by key prefix (cdk.json `llambda:ocr`,
   * `llambda:ocrRoutes`). Default: `auto` everywhere.
   */
  ocrRouting?: OcrRouting;
  /**
   * The OCR language: a Tesseract code whose `@tesseract.js-data/<code>` package is installed (cdk.json
   * `llambda:ocrLanguage`). Default `eng`.
   */
  ocrLanguage?: string;
  /** Most pages a document's review page shows (LLAMBDA_REVIEW_MAX_PAGES). Default: the review function's, 20. */
  reviewMaxPages?: number;
  /** Overrides of the workflow settings (maxConcurrency comes from `maxConcurrency` unless overridden here). */
  workflowSettings?: Partial<WorkflowSettings>;
  /** Delete the bucket (emptying it), the table and the log groups with the stack. Default false: retain them. */
  destroyOnRemoval?: boolean;
  /** X-Ray tracing on the functions and the state machine. Default false. */
  tracing?: boolean;
  /** Days after which chunk texts and map results expire. Default 7. */
  intermediateObjectsExpirationDays?: number;
  /** Retention of the functions' and the state machine's logs. Default one month. */
  logRetention?: logs.RetentionDays;
  /** Encrypt the document bucket with a customer-managed KMS key (rotated yearly) instead of S3-managed keys. */
  bucketKmsKey?: boolean;
  /**
   * Isolated mode: every function runs in a VPC with isolated subnets only (no NAT, no internet gateway), reaching
   * S3 and DynamoDB through gateway endpoints and Step Functions through an interface endpoint; each function's
   * security group allows egress (HTTPS) only to the endpoints its code calls. Default false.
   */
  isolated?: boolean;
  /**
   * Alarms notify this address: the stack creates an SNS topic with an e-mail subscription (AWS sends a confirmation
   * mail first; nothing arrives until it is confirmed). Not together with `alarmTopicArn`.
   */
  alarmEmail?: string;
  /** Alarms notify this existing SNS topic (e.g. one wired to chat or paging). Not together with `alarmEmail`. */
  alarmTopicArn?: string;
  /** Repository root (tests only). */
  repoRoot?: string;
}

/** One address, no spaces or commas (an SNS e-mail subscription takes exactly one). */
export const alarmEmailPattern = /^[^\s@,;<>]+@[^\s@,;<>]+\.[^\s@,;<>]+$/;
export const alarmTopicArnPattern = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/** The props with their defaults applied and the values the parts derive from them, after validation. */
export interface StackSettings {
  repoRoot: string;
  schemaRouting: SchemaRouting;
  ocrRouting: OcrRouting;
  ocrLanguage: string;
  /** Delete data stores with the stack (`destroyOnRemoval`). */
  destroy: boolean;
  removalPolicy: RemovalPolicy;
  tracing: lambda.Tracing;
  /** Environment every function gets; with tracing, the handlers load Powertools Tracer (functions/shared/tracer.ts). */
  tracerEnvironment: Record<string, string>;
  logRetention: logs.RetentionDays;
  /** Expiry of chunk texts and map results. */
  intermediateObjectsExpiration: Duration;
  workflow: WorkflowSettings;
}

/** The OCR language of a deployment that names none. */
export const DEFAULT_OCR_LANGUAGE = "eng";

/** Props built in code skip the context's parsing: the same checks (modes, prefixes under uploads/) run here. */
function checkedOcrRouting(routing: OcrRouting): OcrRouting {
  try {
    return {
      routes: parseOcrRoutes(routing.routes, BucketLayout.uploadsPrefix),
      defaultMode: parseOcrMode(routing.defaultMode, "ocrRouting.defaultMode"),
    };
  } catch (error) {
    throw new Error(`Invalid LlambdaStack props: ocrRouting: ${(error as Error).message}`, { cause: error });
  }
}

/** Validates the props and the extraction schemas (problems fail the synth, not the first document), then resolves the defaults. */
export function resolveStackSettings(props: LlambdaStackProps): StackSettings {
  validateProps(props);
  const schemaRouting = props.schemaRouting ?? { routes: {}, defaultSchemaId };
  const schemaProblems = extractionSchemaProblems();
  if (schemaProblems.length > 0) throw new Error(`Extraction schemas: ${schemaProblems.join("; ")}`);
  validateSchemaRouting(schemaRouting, Object.keys(extractionSchemas), BucketLayout.uploadsPrefix);
  const destroy = props.destroyOnRemoval ?? false;
  return {
    repoRoot: props.repoRoot ?? REPO_ROOT,
    schemaRouting,
    ocrRouting: checkedOcrRouting(props.ocrRouting ?? { routes: {}, defaultMode: "auto" }),
    // The OCR function's own reader checks that its model package is installed (synth fails naming it).
    ocrLanguage: props.ocrLanguage ?? DEFAULT_OCR_LANGUAGE,
    destroy,
    removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    tracerEnvironment: props.tracing ? { POWERTOOLS_TRACE_ENABLED: "true" } : {},
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    intermediateObjectsExpiration: Duration.days(props.intermediateObjectsExpirationDays ?? 7),
    workflow: { ...defaultWorkflowSettings, maxConcurrency: props.maxConcurrency, ...props.workflowSettings },
  };
}

function validateProps(props: LlambdaStackProps): void {
  const checks: Array<[boolean, string]> = [
    // The chunk function's own bound (LLAMBDA_CHUNK_TOKENS), so a value synth accepts never fails the function at init.
    [intInRange(String(props.chunkTokens), chunkTokensRange) !== undefined, `chunkTokens must be an integer from ${chunkTokensRange.min} to ${chunkTokensRange.max}`],
    [Number.isInteger(props.inferMemoryMb) && props.inferMemoryMb >= 128 && props.inferMemoryMb <= 10_240, "inferMemoryMb must be an integer from 128 to 10240"],
    [Number.isInteger(props.maxConcurrency) && props.maxConcurrency >= 1 && props.maxConcurrency <= 10_000, "maxConcurrency must be an integer from 1 to 10000"],
    [props.inferReservedConcurrency === undefined || (Number.isInteger(props.inferReservedConcurrency) && props.inferReservedConcurrency >= 1), "inferReservedConcurrency must be a positive integer"],
    [props.inferEphemeralStorageMb === undefined || (props.inferEphemeralStorageMb >= 512 && props.inferEphemeralStorageMb <= 10_240), "inferEphemeralStorageMb must be from 512 to 10240"],
    [props.alarmEmail === undefined || props.alarmTopicArn === undefined, "set alarmEmail or alarmTopicArn, not both (subscribe the address to your topic instead)"],
    [props.alarmEmail === undefined || alarmEmailPattern.test(props.alarmEmail), `alarmEmail must be an e-mail address, got ${JSON.stringify(props.alarmEmail)}`],
    [props.alarmTopicArn === undefined || Token.isUnresolved(props.alarmTopicArn) || alarmTopicArnPattern.test(props.alarmTopicArn), `alarmTopicArn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), got ${JSON.stringify(props.alarmTopicArn)}`],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, message]) => message);
  if (failed.length > 0) throw new Error(`Invalid LlambdaStack props: ${failed.join("; ")}`);
}
