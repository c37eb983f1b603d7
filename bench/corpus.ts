import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** Shared by the benchmarks: where the shared corpus is, which files it has, and the statistics we report. */
export const defaultCorpusDir = resolve(import.meta.dirname, "../../shared/corpus");
export const corpusFolders = ["pdfjs", "docs", "invoices"] as const;

/**
 * What to say when a benchmark finds no corpus at `dir`: what is missing, where llambda's developers have it, and how
 * anyone else points the benchmark at documents of their own.
 */
export function corpusMissingMessage(dir: string, skipped: string): string {
  return (
    `No corpus at ${dir}: ${skipped}. The corpus is not part of the repository: it is a folder with the subfolders ` +
    `${corpusFolders.map((folder) => `${folder}/`).join(", ")} (any of them) holding the documents. llambda's developers ` +
    `have it beside the clone, at ../shared/corpus (the default); anyone else can pass --corpus <dir> with a folder of ` +
    `their own laid out that way.`
  );
}

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

/** The median of values (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
