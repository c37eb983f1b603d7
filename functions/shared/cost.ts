/**
 * What a document costs on AWS, from durations and counts: the on-demand prices and the arithmetic, nothing else.
 * Pure (no I/O, no clock), so the cost estimator (`npm run cost`) and, later, the merge function (which will record
 * each document's cost from its measured durations) share one implementation.
 *
 * Prices: AWS on-demand list prices, US East (N. Virginia), USD, taken on 2026-11-28 from the pages named at each
 * constant. They leave out free tiers (a per-account monthly allowance, not a per-document price) and volume tiers
 * (Lambda's price per GB-second drops only beyond 7.5 billion GB-seconds a month on Arm). Prices change: edit them
 * here, with the date, and `docs/cost.md` says how to check them.
 */

export const awsPricesCheckedOn = "2026-11-28";
export const awsPriceRegion = "us-east-1";

export type LambdaArchitecture = "arm64" | "x86_64";

/**
 * https://aws.amazon.com/lambda/pricing/ — first duration tier (Arm: first 7.5 billion GB-s a month; x86: first 6
 * billion). The stored copy of AWS's page did not show the figures (they render from a script); these agree across
 * independent pages that quote it (cloudchipr.com, kodekloud, a 2026 Lambda cost guide).
 */
export const lambdaPricePerGbSecond: Readonly<Record<LambdaArchitecture, number>> = {
  arm64: 0.0000133334,
  x86_64: 0.0000166667,
};

/** https://aws.amazon.com/lambda/pricing/ — $0.20 per million requests, either architecture. */
export const lambdaPricePerRequest = 0.2 / 1_000_000;

/**
 * https://aws.amazon.com/lambda/pricing/ — ephemeral storage beyond the 512 MB every function gets free, per GB-second.
 * Not verified against a stored copy (the page renders its table from a script); it is AWS's long-standing figure.
 */
export const lambdaEphemeralStoragePricePerGbSecond = 0.0000000309;
export const lambdaFreeEphemeralStorageMb = 512;

/** https://aws.amazon.com/step-functions/pricing/ — Standard workflows: $0.025 per 1,000 state transitions (read on AWS's page). */
export const stepFunctionsPricePerStateTransition = 0.025 / 1000;

/**
 * https://aws.amazon.com/dynamodb/pricing/on-demand/ — on-demand, after the November 2024 halving: $0.625 per million
 * write request units, $0.125 per million read request units (as quoted by airbyte.com and others; AWS's own table
 * renders from a script).
 */
export const dynamoDbPricePerWriteRequestUnit = 0.625 / 1_000_000;
export const dynamoDbPricePerReadRequestUnit = 0.125 / 1_000_000;

/**
 * https://aws.amazon.com/s3/pricing/ — S3 Standard: PUT, COPY, POST, LIST $0.005 per 1,000; GET, SELECT and the others
 * $0.0004 per 1,000 (as quoted by c3x.dev and others).
 */
export const s3PricePerPutRequest = 0.005 / 1000;
export const s3PricePerGetRequest = 0.0004 / 1000;

/** https://aws.amazon.com/sqs/pricing/ — standard queues: $0.40 per million requests (first 100 billion a month). */
export const sqsPricePerRequest = 0.4 / 1_000_000;

/** https://aws.amazon.com/ecr/pricing/ — $0.10 per GB-month of image storage: the inference image costs this while idle. */
export const ecrPricePerGbMonth = 0.1;

/** Lambda bills memory in GB of 1,024 MB (AWS's own examples: 512 MB is 0.5 GB). */
const mbPerGb = 1024;

export interface LambdaUsage {
  memoryMb: number;
  /** Billed duration summed over the invocations, as Lambda reports it (already rounded up to 1 ms per invocation). */
  billedDurationMs: number;
  architecture: LambdaArchitecture;
  /** Requests billed; default 1 (one invocation of that duration). */
  invocations?: number;
  /** Configured ephemeral storage; default 512 MB, which is free. */
  ephemeralStorageMb?: number;
}

export interface LambdaCost {
  invocations: number;
  gbSeconds: number;
  computeUsd: number;
  requestUsd: number;
  ephemeralStorageUsd: number;
  totalUsd: number;
}

/** One function's duration, request and ephemeral-storage charges. */
export function lambdaCost(usage: LambdaUsage): LambdaCost {
  const invocations = usage.invocations ?? 1;
  const ephemeralStorageMb = usage.ephemeralStorageMb ?? lambdaFreeEphemeralStorageMb;
  for (const [name, value] of Object.entries({ memoryMb: usage.memoryMb, billedDurationMs: usage.billedDurationMs, invocations, ephemeralStorageMb })) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`lambdaCost: ${name} must be a finite number >= 0, got ${value}`);
  }
  const seconds = usage.billedDurationMs / 1000;
  const gbSeconds = (usage.memoryMb / mbPerGb) * seconds;
  const computeUsd = gbSeconds * lambdaPricePerGbSecond[usage.architecture];
  const requestUsd = invocations * lambdaPricePerRequest;
  const extraStorageGb = Math.max(0, ephemeralStorageMb - lambdaFreeEphemeralStorageMb) / mbPerGb;
  const ephemeralStorageUsd = extraStorageGb * seconds * lambdaEphemeralStoragePricePerGbSecond;
  return { invocations, gbSeconds, computeUsd, requestUsd, ephemeralStorageUsd, totalUsd: computeUsd + requestUsd + ephemeralStorageUsd };
}

/** Standard workflows are billed per state transition, retries included; Express workflows are priced differently. */
export function stepFunctionsCost(transitions: number): number {
  if (!Number.isFinite(transitions) || transitions < 0) throw new RangeError(`stepFunctionsCost: transitions must be >= 0, got ${transitions}`);
  return transitions * stepFunctionsPricePerStateTransition;
}

/**
 * The workflow's state transitions per document, counted on its definition (statemachine/happy-path.ts). The workflow
 * passes them to the merge in its payload, so the merge need not carry the definition.
 */
export interface WorkflowTransitionCounts {
  /** Parent execution: every state from marking the item PROCESSING to success, the Map state included. */
  fixed: number;
  /** One Distributed Map child execution (a batch of chunks) whose chunks all finish in one invocation. */
  perBatch: number;
  /** Each further pass of a child (chunks left for a fresh invocation): the inference task and the Choice again. */
  perExtraPass: number;
}

/** Transitions of one document's execution: the parent's, and each child's passes (retries not counted). */
export function documentTransitions(childPasses: number[], counts: WorkflowTransitionCounts): number {
  return counts.fixed + childPasses.reduce((sum, passes) => sum + counts.perBatch + Math.max(0, passes - 1) * counts.perExtraPass, 0);
}

/** Requests to the other services a document makes. DynamoDB in request units: one write unit per KB of item. */
export interface RequestCounts {
  s3Puts: number;
  s3Gets: number;
  dynamoDbWriteUnits: number;
  dynamoDbReadUnits: number;
  sqsRequests: number;
}

export interface RequestsCost extends RequestCounts {
  s3Usd: number;
  dynamoDbUsd: number;
  sqsUsd: number;
  totalUsd: number;
}

export function requestsCost(counts: RequestCounts): RequestsCost {
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`requestsCost: ${name} must be >= 0, got ${value}`);
  }
  const s3Usd = counts.s3Puts * s3PricePerPutRequest + counts.s3Gets * s3PricePerGetRequest;
  const dynamoDbUsd = counts.dynamoDbWriteUnits * dynamoDbPricePerWriteRequestUnit + counts.dynamoDbReadUnits * dynamoDbPricePerReadRequestUnit;
  const sqsUsd = counts.sqsRequests * sqsPricePerRequest;
  return { ...counts, s3Usd, dynamoDbUsd, sqsUsd, totalUsd: s3Usd + dynamoDbUsd + sqsUsd };
}

/** What one document used, measured or estimated: per Lambda function, the workflow's transitions, other requests. */
export interface DocumentUsage {
  functions: Record<string, LambdaUsage>;
  stateTransitions: number;
  requests: RequestCounts;
}

/** One document's cost, by part. `total` is the sum of the parts. */
export interface DocumentCost {
  currency: "USD";
  region: string;
  pricesCheckedOn: string;
  lambda: Record<string, LambdaCost>;
  stepFunctions: { transitions: number; usd: number };
  requests: RequestsCost;
  total: number;
}

/** Prices every part of a document's usage and adds them up. */
export function documentCost(usage: DocumentUsage): DocumentCost {
  const lambda = Object.fromEntries(Object.entries(usage.functions).map(([name, fn]) => [name, lambdaCost(fn)]));
  const stepFunctions = { transitions: usage.stateTransitions, usd: stepFunctionsCost(usage.stateTransitions) };
  const requests = requestsCost(usage.requests);
  const lambdaUsd = Object.values(lambda).reduce((sum, fn) => sum + fn.totalUsd, 0);
  return {
    currency: "USD",
    region: awsPriceRegion,
    pricesCheckedOn: awsPricesCheckedOn,
    lambda,
    stepFunctions,
    requests,
    total: lambdaUsd + stepFunctions.usd + requests.totalUsd,
  };
}
