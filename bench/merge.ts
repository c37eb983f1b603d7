/**
 * Merge benchmark: what grounding adds to the merge of a large document. The merge function's handler runs on a
 * synthetic invoice-like document of N chunks (one page each) with in-memory S3 and DynamoDB, so the figure is the
 * function's own work (reading the Map Run's result files and the layout, merging, grounding, building and sizing the
 * item), not network time. Runs alternate: with the document's layout (values grounded) and without it (the merge
 * skips grounding, as for a document whose layout is missing), same results, same process.
 *
 *   npm run bench -- merge [--json] [--chunks 100] [--runs 15]
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { createHandler } from "../functions/merge/create-handler.ts";
import { layoutKey, manifestKey } from "../functions/shared/bucket-layout.ts";
import type { ChunkResult, DocumentLayout, LayoutRun, MergeTaskInput } from "../functions/shared/contracts.ts";
import { quantile, round } from "./corpus.ts";

const bucket = "bench-bucket";
const documentId = "bench-document";

/** A deterministic pseudo-random source, so every run merges the same document. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const words = ["service", "support", "licence", "hosting", "widget", "module", "cable", "adapter", "monitor", "storage", "backup", "network"];

export interface SyntheticMerge {
  layout: DocumentLayout;
  results: ChunkResult[];
}

/**
 * A document of `chunks` pages, ~2,500 characters each: a header and 20 invoice lines per page. Each chunk's answer
 * has values the page shows (as written, or in another written form: an ISO date, a number without its thousands
 * separator) and some the model made up, which grounding looks for in vain (its slowest path: every fuzzy window).
 */
export function syntheticMerge(chunks: number): SyntheticMerge {
  const random = seeded(7);
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

/** The S3 objects the merge reads: the Map Run's manifest and result files (batches of 4 chunks) and the layout. */
function mapRunObjects({ layout, results }: SyntheticMerge): Map<string, string> {
  const objects = new Map<string, string>();
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
  const resultKey = "map-results/run/SUCCEEDED_0.json";
  objects.set(resultKey, JSON.stringify(children));
  objects.set(
    "map-results/run/manifest.json",
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: "arn:aws:states:us-east-1:1:mapRun:wf/ExtractChunks:run", ResultFiles: { SUCCEEDED: [{ Key: resultKey, Size: 1 }], FAILED: [], PENDING: [] } }),
  );
  objects.set(layoutKey(documentId), JSON.stringify(layout));
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

function mergeInput(chunks: number): MergeTaskInput {
  return {
    documentId,
    schemaId: "invoice",
    source: { bucket, key: "uploads/invoices/bench.pdf", etag: "e", size: 1 },
    chunking: { manifest: { bucket, key: manifestKey(documentId) }, chunkCount: chunks, pageCount: chunks, tokenCount: chunks * 900, ms: 1 },
    mapRun: { ResultWriterDetails: { Bucket: bucket, Key: "map-results/run/manifest.json" } },
    execution: { id: "arn:aws:states:us-east-1:1:execution:wf:bench", startTime: new Date().toISOString() },
    toleratedFailurePercentage: 0,
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: "boolean", default: false }, chunks: { type: "string", default: "100" }, runs: { type: "string", default: "15" } },
  });
  const chunks = Number(values.chunks);
  const runs = Number(values.runs);
  if (!Number.isInteger(chunks) || chunks < 1 || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write("--chunks and --runs must be positive integers\n");
    return 2;
  }
  const synthetic = syntheticMerge(chunks);
  const withLayout = mapRunObjects(synthetic);
  const withoutLayout = new Map(withLayout);
  withoutLayout.delete(layoutKey(documentId));
  const config = { table: "t", bucket, fallbackSchemaId: "invoice", maxItemBytes: 350_000 };
  const handlers = {
    grounded: createHandler(config, { s3: () => inMemoryS3(withLayout), documents: () => acceptingTable }),
    ungrounded: createHandler(config, { s3: () => inMemoryS3(withoutLayout), documents: () => acceptingTable }),
  };
  const context = { getRemainingTimeInMillis: () => 900_000, awsRequestId: "bench", functionName: "merge", memoryLimitInMB: "1769" };
  const times: Record<keyof typeof handlers, number[]> = { grounded: [], ungrounded: [] };
  const run = async (name: keyof typeof handlers) => {
    const started = performance.now();
    await (handlers[name] as (event: MergeTaskInput, context: unknown) => Promise<unknown>)(mergeInput(chunks), context);
    return performance.now() - started;
  };
  // Warm both paths (JIT, the schema's compiled validator), then alternate, order flipped every round.
  await run("grounded");
  await run("ungrounded");
  for (let i = 0; i < runs; i++) {
    const order: Array<keyof typeof handlers> = i % 2 === 0 ? ["ungrounded", "grounded"] : ["grounded", "ungrounded"];
    for (const name of order) times[name].push(await run(name));
  }
  const median = (list: number[]) => quantile([...list].sort((a, b) => a - b), 0.5);
  const summary = {
    chunks,
    runs,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    ungroundedMs: { median: round(median(times.ungrounded), 1), min: round(Math.min(...times.ungrounded), 1), max: round(Math.max(...times.ungrounded), 1) },
    groundedMs: { median: round(median(times.grounded), 1), min: round(Math.min(...times.grounded), 1), max: round(Math.max(...times.grounded), 1) },
    /** (grounded − ungrounded) / ungrounded, medians: the share grounding adds to the merge. */
    groundingShare: round(median(times.grounded) / median(times.ungrounded) - 1, 3),
  };
  process.stderr.write(
    `Merge of a ${chunks}-chunk document, ${runs} alternating runs each, in-memory S3/DynamoDB:\n` +
      `  without grounding: median ${summary.ungroundedMs.median} ms (${summary.ungroundedMs.min}–${summary.ungroundedMs.max})\n` +
      `  with grounding:    median ${summary.groundedMs.median} ms (${summary.groundedMs.min}–${summary.groundedMs.max})\n` +
      `  grounding adds ${(summary.groundingShare * 100).toFixed(1)} % to the merge\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
