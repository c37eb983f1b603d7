import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** Shared by the benchmarks: where the shared corpus is, which files it has, and the statistics we report. */
export const defaultCorpusDir = resolve(import.meta.dirname, "../../shared/corpus");
export const corpusFolders = ["pdfjs", "docs", "invoices"] as const;

/** Files of the corpus folders whose names match `pattern`, folder by folder, sorted. Missing folders are skipped. */
export function corpusFiles(corpus: string, pattern: RegExp): string[] {
  return corpusFolders.flatMap((folder) => {
    const directory = join(corpus, folder);
    return existsSync(directory) ? readdirSync(directory).sort().filter((name) => pattern.test(name)).map((name) => join(directory, name)) : [];
  });
}

/** Nearest-rank quantile (q in 0..1) of unsorted values; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
