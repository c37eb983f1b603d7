/**
 * Merge benchmark: what grounding adds to the merge of a large document. The merge function's handler runs on a
 * synthetic invoice-like document of N chunks (one page each), twice over:
 * - with in-memory S3 and DynamoDB: the function's own work (reading the Map Run's result files and the layout,
 *   merging, grounding, building and sizing the item), no storage round trips;
 * - with the twin's local S3 and DynamoDB (s3rver, DynamoDB Local; needs Java): the same work plus real round trips to
 *   protocol-compatible storage, as the function does them on AWS (where S3 and DynamoDB latencies differ). Each
 *   storage server runs in a process of its own, as S3 and DynamoDB do their work outside the function on AWS.
 * Runs alternate: with the document's layout (values grounded) and without it (the merge skips grounding, as for a
 * document whose layout is missing), same results, same process.
 *
 *   npm run bench -- merge [--json] [--chunks 100] [--runs 41] [--no-local-storage]
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { layoutKey, manifestKey } from "../functions/shared/bucket-layout.ts";
import type { ChunkResult, DocumentLayout, LayoutRun, MergeTaskInput } from "../functions/shared/contracts.ts";
import { sourceOrderOf } from "../functions/shared/document-item.ts";
import {
  ensureBucket,
  ensureDocumentTable,
  localCredentials,
  localRegion,
  startDynamoDbOnFreePort,
} from "../infra/local/services.ts";
import { quantile, round } from "./corpus.ts";
import { pairedShare, seededRandom, type PairedShare } from "./paired.ts";
import { startS3rverProcess } from "./s3rver-process.ts";

const bucket = "bench-bucket";
const table = "bench-documents";
const executionArn = "arn:aws:states:us-east-1:1:execution:wf:bench";

const words = ["service", "support", "licence", "hosting", "widget", "module", "cable", "adapter", "monitor", "storage", "backup", "network"];

export interface SyntheticMerge {
  layout: DocumentLayout;
  results: ChunkResult[];
}

/**
 * A document of `chunks` pages, ~860 characters each: a header and 20 invoice lines per page. Each chunk's answer
 * has values the page shows (as written, or in another written form: an ISO date, a number without its thousands
 * separator) and some the model made up, which grounding looks for in vain (its slowest path: every fuzzy window).
 */
export function syntheticMerge(chunks: number, documentId = "bench-document"): SyntheticMerge {
  // Seeded: every run merges the same document.
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const pages: string[] = [];
  const results: ChunkResult[] = [];
  const layoutPages: DocumentLayout["pages"] = [];
  let text = "";
  for (let page = 1; page <= chunks; page++) {
    const lines: string[] = [`Northwind Trading Ltd · Invoice NW-${1000 + page} · Date 5 March 2024`, `Customer: Contoso ${page}`];
    const items: Array<{ name: string; price_unit: string | null }> = [];
    for (let line = 0; line < 20; line++) {
      const name = `${pick(words)} ${pick(words)} ${page}-${line}`;
      const price = `${Math.floor(random() * 9000) + 1000},${String(Math.floor(random() * 100)).padStart(2, "0")}`;
      lines.push(`${name}  1  ${price.replace(/(\d)(\d{3}),/, "$1.$2,")} EUR`);
      items.push({ name, price_unit: line % 5 === 4 ? String(Math.floor(random() * 1e6)) : price });
    }
    lines.push(`Total due 12.345,67 EUR`);
    const pageText = lines.join("\n");
    if (text) text += "\n\n";
    const charStart = text.length;
    text += pageText;
    pages.push(pageText);
    let y = 40;
    const runs: LayoutRun[] = lines.map((line) => ({ text: line, box: [40, (y += 14), 40 + line.length * 5, y + 10] }));
    layoutPages.push({ page, charStart, charEnd: text.length, width: 595, height: 842, source: "text-layer", runs });
    results.push({
      documentId,
      index: page - 1,
      pageStart: page,
      pageEnd: page,
      modelId: "bench",
      tokensIn: 900,
      tokensOut: 400,
      ms: 1000,
      data: {
        issuer: page % 3 === 0 ? "Northwind Traders Limited" : "Northwind Trading Ltd",
        invoice_number: `NW-${1000 + page}`,
        date: "2024-03-05",
        currency: "EUR",
        amount: 12345.67,
        amount_untaxed: page % 2 === 0 ? 10203.4 : null,
        partner_name: `Contoso ${page}`,
        partner_website: null,
        lines: items.slice(0, 10),
        desc: "An invoice for hardware and services from Northwind.",
      },
    });
  }
  const layout: DocumentLayout = {
    version: 1,
    text,
    pages: layoutPages,
    chunks: layoutPages.map((page, index) => ({ index, charStart: page.charStart, charEnd: page.charEnd })),
  };
  return { layout, results };
}

/**
 * The S3 objects the merge reads: the Map Run's manifest and result files (batches of 4 chunks) and, unless left out,
 * the layout.
 */
function mapRunObjects(documentId: string, { layout, results }: SyntheticMerge, withLayout: boolean): Map<string, string> {
  const objects = new Map<string, string>();
  const prefix = `map-results/${documentId}`;
  const children = [];
  for (let i = 0; i < results.length; i += 4) {
    const batch = results.slice(i, i + 4);
    children.push({
      ExecutionArn: `arn:aws:states:us-east-1:1:execution:wf/ExtractChunks:child-${i}`,
      Status: "SUCCEEDED",
      Input: JSON.stringify({ Items: batch.map((r) => ({ index: r.index })) }),
      Output: JSON.stringify({ results: batch, failed: [], Items: [] }),
    });
  }
  const resultKey = `${prefix}/SUCCEEDED_0.json`;
  objects.set(resultKey, JSON.stringify(children));
  objects.set(
    `${prefix}/manifest.json`,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: "arn:aws:states:us-east-1:1:mapRun:wf/ExtractChunks:run", ResultFiles: { SUCCEEDED: [{ Key: resultKey, Size: 1 }], FAILED: [], PENDING: [] } }),
  );
  if (withLayout) objects.set(layoutKey(documentId), JSON.stringify(layout));
  return objects;
}

function inMemoryS3(objects: Map<string, string>): S3Client {
  return {
    send: async (command: unknown) => {
      if (command instanceof GetObjectCommand) {
        const body = objects.get(command.input.Key!);
        if (body === undefined) throw Object.assign(new Error("NoSuchKey"), { name: "NoSuchKey" });
        return { Body: { transformToString: async () => body } };
      }
      if (command instanceof PutObjectCommand) return {};
      throw new Error("unexpected S3 command");
    },
  } as unknown as S3Client;
}

const acceptingTable = { send: async () => ({ Attributes: { version: 3 } }) } as unknown as DynamoDBDocumentClient;

function mergeInput(documentId: string, chunks: number): MergeTaskInput {
  return {
    documentId,
    schemaId: "invoice",
    source: { bucket, key: "uploads/invoices/bench.pdf", etag: "e", size: 1 },
    chunking: { manifest: { bucket, key: manifestKey(documentId) }, chunkCount: chunks, pageCount: chunks, tokenCount: chunks * 900, ms: 1 },
    mapRun: { ResultWriterDetails: { Bucket: bucket, Key: `map-results/${documentId}/manifest.json` } },
    execution: { id: executionArn, startTime: new Date().toISOString() },
    toleratedFailurePercentage: 0,
  };
}

type Variant = "grounded" | "ungrounded";
type CreateMergeHandler = (typeof import("../functions/merge/create-handler.ts"))["createHandler"];
type MergeHandler = (event: MergeTaskInput, context: unknown) => Promise<unknown>;

interface Timing {
  median: number;
  min: number;
  max: number;
}

/** One variant's merge, and what puts its storage back as the merge finds it (untimed, before every run). */
interface MergeRun {
  merge: () => Promise<unknown>;
  reset?: () => Promise<unknown>;
}

/** Alternating runs of the two handlers (order flipped every round), after one warm-up run each. */
async function alternate(
  handlers: Record<Variant, MergeRun>,
  runs: number,
): Promise<Record<Variant, Timing> & { share: number; shareInterval: [number, number] }> {
  const times: Record<Variant, number[]> = { grounded: [], ungrounded: [] };
  const run = async (name: Variant) => {
    await handlers[name].reset?.();
    const started = performance.now();
    await handlers[name].merge();
    return performance.now() - started;
  };
  await run("grounded");
  await run("ungrounded");
  for (let i = 0; i < runs; i++) {
    const order: Variant[] = i % 2 === 0 ? ["ungrounded", "grounded"] : ["grounded", "ungrounded"];
    for (const name of order) times[name].push(await run(name));
  }
  const median = (list: number[]) => quantile([...list].sort((a, b) => a - b), 0.5);
  const timing = (list: number[]): Timing => ({ median: round(median(list), 1), min: round(Math.min(...list), 1), max: round(Math.max(...list), 1) });
  // A round's two runs are a pair: the share is their differences' median over the median merge without grounding.
  const paired: PairedShare = pairedShare(times.ungrounded, times.grounded);
  return {
    grounded: timing(times.grounded),
    ungrounded: timing(times.ungrounded),
    /** The share grounding adds to the merge, and its 95 % bootstrap interval. */
    share: round(paired.share, 3),
    shareInterval: [round(paired.low, 3), round(paired.high, 3)],
  };
}

const lambdaContext = { getRemainingTimeInMillis: () => 900_000, awsRequestId: "bench", functionName: "merge", memoryLimitInMB: "1769" };
const mergeConfig = { table, bucket, fallbackSchemaId: "invoice", maxItemBytes: 350_000 };
const documentIds: Record<Variant, string> = { grounded: "bench-grounded", ungrounded: "bench-ungrounded" };

async function inMemoryRuns(createHandler: CreateMergeHandler, chunks: number, runs: number) {
  const handlers = Object.fromEntries(
    (Object.keys(documentIds) as Variant[]).map((variant) => {
      const documentId = documentIds[variant];
      const objects = mapRunObjects(documentId, syntheticMerge(chunks, documentId), variant === "grounded");
      const handler = createHandler(mergeConfig, { s3: () => inMemoryS3(objects), documents: () => acceptingTable }) as MergeHandler;
      return [variant, { merge: () => handler(mergeInput(documentId, chunks), lambdaContext) }];
    }),
  ) as Record<Variant, MergeRun>;
  return alternate(handlers, runs);
}

/**
 * The client with each call's time recorded under "<variant> <command>" ("layout" for the layout's read): where the
 * difference between the variants goes on local storage.
 */
function timedClient<T extends { send(command: object): Promise<unknown> }>(client: T, variant: Variant, calls: Map<string, number[]>): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver) as unknown;
      return async (command: { constructor: { name: string }; input?: { Key?: unknown } }) => {
        const started = performance.now();
        try {
          return await target.send(command);
        } finally {
          const name = `${variant} ${command.constructor.name}${command.input?.Key === layoutKey(documentIds[variant]) ? " (layout)" : ""}`;
          calls.set(name, [...(calls.get(name) ?? []), performance.now() - started]);
        }
      };
    },
  });
}

/** The same on s3rver and DynamoDB Local, each document's item PROCESSING and owned by the execution, as the merge finds it. */
async function localStorageRuns(createHandler: CreateMergeHandler, chunks: number, runs: number) {
  const dir = mkdtempSync(join(tmpdir(), "llambda-bench-merge-"));
  const s3Server = await startS3rverProcess(join(dir, "s3"));
  const dynamoDbServer = await startDynamoDbOnFreePort(join(dir, "dynamodb")).catch(async (error: unknown) => {
    await s3Server.close();
    throw error;
  });
  const clientConfig = { region: localRegion, credentials: localCredentials };
  const s3 = new S3Client({ ...clientConfig, endpoint: s3Server.url, forcePathStyle: true });
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamoDbServer.url });
  const documents = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  try {
    await ensureBucket(s3, bucket);
    await ensureDocumentTable(dynamodb, table);
    const handlers = {} as Record<Variant, MergeRun>;
    const calls = new Map<string, number[]>();
    for (const variant of Object.keys(documentIds) as Variant[]) {
      const documentId = documentIds[variant];
      for (const [key, body] of mapRunObjects(documentId, syntheticMerge(chunks, documentId), variant === "grounded")) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }
      const input = mergeInput(documentId, chunks);
      // Every merge finds the item as the workflow leaves it, PROCESSING (small), not the last run's merged item:
      // DynamoDB Local's UpdateItem reads and rewrites the old item, and its stream record carries both images.
      const processing = () =>
        dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: marshall({ documentId, status: "PROCESSING", version: 1, executionArn, sourceOrder: sourceOrderOf(undefined), source: input.source }),
          }),
        );
      const handler = createHandler(mergeConfig, {
        s3: () => timedClient(s3, variant, calls),
        documents: () => timedClient(documents, variant, calls),
      }) as MergeHandler;
      handlers[variant] = { merge: () => handler(input, lambdaContext), reset: processing };
    }
    const result = await alternate(handlers, runs);
    return { ...result, calls: Object.fromEntries([...calls].map(([name, times]) => [name, round(quantile(times.sort((a, b) => a - b), 0.5), 1)])) };
  } finally {
    s3.destroy();
    dynamodb.destroy();
    await dynamoDbServer.close();
    await s3Server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The merge's grounding work alone, in this process, on the same document: parsing the layout, and the field-trust
 * step with grounding against without it (each run on a freshly parsed layout, so grounding's indexes start cold as
 * in a merge). Medians in ms.
 */
async function groundingAlone(chunks: number, runs: number) {
  const { mergeChunkResults } = await import("../functions/merge/merge.ts");
  const { assessFieldTrust } = await import("../functions/merge/field-trust.ts");
  const { groundValue } = await import("../functions/merge/grounding.ts");
  const { getExtractionSchema } = await import("../functions/schemas/index.ts");
  const { layout, results } = syntheticMerge(chunks);
  const body = JSON.stringify(layout);
  const schema = getExtractionSchema("invoice");
  const merged = mergeChunkResults(results, schema);
  const trust = (parsed?: DocumentLayout) =>
    assessFieldTrust({
      result: merged.value,
      provenance: merged.provenance,
      conflicts: merged.conflicts,
      schema,
      chunkResults: results,
      ...(parsed ? { ground: (value: string | number, chunkIndexes: number[], near?: { charStart: number; charEnd: number }) => groundValue(value, parsed, chunkIndexes, near) } : {}),
    });
  const times = { parse: [] as number[], withGrounding: [] as number[], withoutGrounding: [] as number[] };
  let values = 0;
  for (let i = -3; i < runs; i++) {
    let started = performance.now();
    const parsed = JSON.parse(body) as DocumentLayout;
    const parseMs = performance.now() - started;
    started = performance.now();
    values = Object.keys(trust(parsed).grounding ?? {}).length;
    const groundedMs = performance.now() - started;
    started = performance.now();
    trust();
    const ungroundedMs = performance.now() - started;
    // The first runs warm the JIT up.
    if (i < 0) continue;
    times.parse.push(parseMs);
    times.withGrounding.push(groundedMs);
    times.withoutGrounding.push(ungroundedMs);
  }
  const median = (list: number[]) => round(quantile([...list].sort((a, b) => a - b), 0.5), 2);
  return {
    values,
    layoutBytes: body.length,
    layoutParseMs: median(times.parse),
    fieldTrustWithGroundingMs: median(times.withGrounding),
    fieldTrustWithoutGroundingMs: median(times.withoutGrounding),
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      chunks: { type: "string", default: "100" },
      runs: { type: "string", default: "41" },
      "no-local-storage": { type: "boolean", default: false },
    },
  });
  const chunks = Number(values.chunks);
  const runs = Number(values.runs);
  if (!Number.isInteger(chunks) || chunks < 1 || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write("--chunks and --runs must be positive integers\n");
    return 2;
  }
  // The merge's metrics line (EMF) and log lines go to stdout and would mix with --json: off before the modules load.
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = "WARN";
  const { createHandler } = await import("../functions/merge/create-handler.ts");
  const inMemory = await inMemoryRuns(createHandler, chunks, runs);
  const localStorage = values["no-local-storage"] ? undefined : await localStorageRuns(createHandler, chunks, runs);
  const alone = await groundingAlone(chunks, runs);
  const summary = { chunks, runs, cores: availableParallelism(), cpu: cpus()[0]?.model, inMemory, ...(localStorage ? { localStorage } : {}), groundingAlone: alone };
  const line = (name: string, result: Awaited<ReturnType<typeof alternate>>) =>
    `  ${name}: without grounding median ${result.ungrounded.median} ms (${result.ungrounded.min}–${result.ungrounded.max}), ` +
    `with grounding ${result.grounded.median} ms (${result.grounded.min}–${result.grounded.max}): grounding adds ${(result.share * 100).toFixed(1)} % ` +
    `(95 % interval ${result.shareInterval.map((share) => (share * 100).toFixed(1)).join("–")} %)\n`;
  process.stderr.write(
    `Merge of a ${chunks}-chunk document, ${runs} alternating runs each:\n` +
      line("in-memory S3/DynamoDB", inMemory) +
      (localStorage
        ? line("local S3/DynamoDB (s3rver, DynamoDB Local)", localStorage) +
          `  storage calls, median ms: ${Object.entries(localStorage.calls)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, ms]) => `${name} ${ms}`)
            .join(", ")}\n`
        : "") +
      `  grounding alone (${alone.values} values): layout parse ${alone.layoutParseMs} ms (${alone.layoutBytes} bytes), field trust ` +
      `${alone.fieldTrustWithGroundingMs} ms with grounding, ${alone.fieldTrustWithoutGroundingMs} ms without\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
