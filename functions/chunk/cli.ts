/**
 * `npm run chunk -- [--json] [--chunk-tokens N] <files...>`: what the chunk function makes of local files, one line
 * per file. Exit status 0 even when files fail (their outcome says why); 2 on a usage error.
 */
import { parseArgs } from "node:util";
import { createCl100kTokenizer } from "./tokenizer.ts";
import { chunkFile } from "./inspect.ts";
import { IsolatedExtractor } from "./isolated-extract.ts";

const usage = `Usage: npm run chunk -- [--json] [--chunk-tokens N] <file...>

Extracts and chunks each file as the chunk function does (PDF, .txt, .md, .jsonl, .csv; PDFs in a worker thread with
a 120 s and 1,024 MB bound) and prints one line per file:
{file, status: "ok"|"error", code?, message?, pages, chunks, tokens, ms, peakRssMb}.
peakRssMb is this process's peak resident memory after the file (it only grows), so a file's own peak shows as a jump.`;

async function main(): Promise<number> {
  let values: { json?: boolean; "chunk-tokens"?: string; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      allowPositionals: true,
      options: { json: { type: "boolean" }, "chunk-tokens": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const maxTokens = Number(values["chunk-tokens"] ?? 1000);
  if (files.length === 0 || !Number.isInteger(maxTokens) || maxTokens < 16) {
    process.stderr.write(`${files.length === 0 ? "No input files given." : "--chunk-tokens must be an integer >= 16"}\n\n${usage}\n`);
    return 2;
  }
  await run(files, maxTokens, Boolean(values.json));
  return 0;
}

async function run(files: string[], maxTokens: number, json: boolean): Promise<void> {
  const tokenizer = createCl100kTokenizer();
  // One worker for all files, replaced after a timeout or crash; the chunk function starts one per document.
  const extractor = new IsolatedExtractor({ memoryMb: 1024, reuse: true });
  for (const file of files) {
    let line: Record<string, unknown>;
    try {
      const { bytes: _bytes, ...outcome } = await chunkFile(file, { maxTokens, tokenizer, extractor, timeoutMs: 120_000 });
      line = { ...outcome, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
    } catch (error) {
      // Not a typed input error: report it (a bug to fix) and go on with the other files.
      line = { file, status: "error", code: "INTERNAL", message: String(error), pages: 0, chunks: 0, tokens: 0, ms: 0 };
    }
    if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
    else {
      const detail = line.status === "ok" ? `${line.pages} pages, ${line.chunks} chunks, ${line.tokens} tokens` : `${line.code}: ${line.message}`;
      process.stdout.write(`${line.status === "ok" ? "ok   " : "error"} ${file}: ${detail} (${line.ms} ms, peak ${line.peakRssMb ?? "?"} MB)\n`);
    }
  }
  tokenizer.dispose();
  await extractor.close();
}

process.exit(await main());
