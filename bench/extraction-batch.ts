/**
 * One batch of chunks extracted at once, timed, in a process of its own: `npm run bench -- inference` runs it for the
 * engine's path as it was before batched stepping and the patched llama.cpp build ("legacy": prebuilt binaries, no
 * step barrier, no forced tokens) and as it is ("current"), alternating, and reports the ratio of their wall times (`extraction4`).
 * A process per path because two llama.cpp builds do not load side by side in one process.
 *
 *   node --import tsx bench/extraction-batch.ts <model.gguf> <legacy|current> <threads> <chunks> <seed>
 *
 * Prints one JSON line: wall ms of the timed batch, tokens generated, and the binary the engine ran.
 */
import { basename } from "node:path";
import { ExtractionEngine } from "../functions/infer/engine.ts";
import { getExtractionSchema } from "../functions/schemas/index.ts";

export type ExtractionPath = "legacy" | "current";

/** The engine options of each path; everything else is the same. */
export const extractionPaths: Record<ExtractionPath, { binary: "prebuilt" | "auto"; stepBarrier: boolean; forcedTokens: boolean }> = {
  legacy: { binary: "prebuilt", stepBarrier: false, forcedTokens: false },
  current: { binary: "auto", stepBarrier: true, forcedTokens: true },
};

/** An invoice-like chunk: the same text for the same `n` in every run and path. */
export function benchChunk(n: number): { text: string; pageStart: number; pageEnd: number } {
  return {
    text:
      `INVOICE ${n}\nAcme Corporation, 1 Main Street, Springfield\nBill to: Globex Ltd\nDate: 2024-03-0${(n % 9) + 1}\n` +
      "Consulting services, 10 hours at 120.00 EUR: 1,200.00 EUR\nVAT 20%: 240.00 EUR\nTotal due: 1,440.00 EUR\n",
    pageStart: 1,
    pageEnd: 1,
  };
}

async function main(argv: string[]): Promise<void> {
  const [modelPath, path, threads, chunks, seed] = argv;
  const count = Number(chunks);
  const engine = await ExtractionEngine.load({
    modelPath: modelPath!,
    modelId: basename(modelPath!),
    threads: Number(threads),
    contextSize: 4096,
    maxOutputTokens: 512,
    schema: getExtractionSchema("invoice"),
    sequences: count,
    ...extractionPaths[path as ExtractionPath],
  });
  try {
    // Untimed: every sequence evaluates the instructions once, as a warm container's have.
    await engine.extractAll(Array.from({ length: count }, (_, i) => benchChunk(1000 + i)));
    const batch = Array.from({ length: count }, (_, i) => benchChunk(Number(seed) + i));
    const started = performance.now();
    const outcomes = await engine.extractAll(batch);
    const wallMs = performance.now() - started;
    const tokensOut = outcomes.reduce((sum, outcome) => sum + (outcome.ok ? outcome.extraction.tokensOut : 0), 0);
    const failed = outcomes.filter((outcome) => !outcome.ok).map((outcome) => (outcome.ok ? "" : outcome.error.name));
    const sum = (pick: (stats: { decodes: number; forced: number }) => number) =>
      outcomes.reduce((total, outcome) => total + (outcome.ok && outcome.extraction.decoding ? pick(outcome.extraction.decoding) : 0), 0);
    const decoding = { decodes: sum((stats) => stats.decodes), forced: sum((stats) => stats.forced) };
    process.stdout.write(`${JSON.stringify({ path, wallMs, tokensOut, decoding, failed, binary: engine.binary })}\n`);
  } finally {
    await engine.dispose();
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await main(process.argv.slice(2));
