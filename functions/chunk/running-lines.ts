import { hasText, type TextLine } from "./text-lines.ts";

/** Layout, second step: running headers and footers (page numbers, titles repeated on every page) dropped. Pure. */

/** Settings of running header/footer detection. */
export const RunningLines = {
  /** Lines this close to the top and to the bottom of a page (by baseline) are candidates. */
  edgeLines: 2,
  /** A candidate is running when it is on this share of the pages with text (or of the odd, or the even, pages). */
  minShare: 0.6,
  /** ...and on at least this many pages; documents with fewer pages with text are left alone. */
  minPages: 3,
} as const;

/** A lone roman numeral from i to cccxcix: front-matter page numbers. */
const ROMAN_PAGE_NUMBER = /^c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$/;

/**
 * The form in which lines are compared across pages: NFKC, lower case, whitespace collapsed, every run of digits
 * replaced by `#` ("Page 3 of 10" and "Page 4 of 10" are both "page # of #"), and a lone roman numeral is `#` too.
 */
export function runningLineKey(text: string): string {
  const key = text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
  if (key !== "" && ROMAN_PAGE_NUMBER.test(key)) return "#";
  return key.replace(/\d+/g, "#");
}

/**
 * Drops running headers and footers: among each page's two top and two bottom lines (by baseline), those whose key
 * (`runningLineKey`) appears there on at least 60% of the pages with text, or on 60% of the odd or of the even pages
 * (books alternate their headers), and on at least 3 pages. Lines of only digits and punctuation must also count with
 * the pages (see `occurrenceMatcher`). Documents with fewer than 3 pages with text are unchanged; so is a document that
 * would be left without any text. Lines elsewhere on a page are never dropped.
 */
export function dropRunningLines(pages: readonly TextLine[][]): TextLine[][] {
  const withText = pages.map((lines, index) => ({ lines, index })).filter(({ lines }) => lines.some(hasText));
  if (withText.length < RunningLines.minPages) return pages.map((lines) => lines.slice());

  const edges = pages.map(edgeLineIndexes);
  const occurrences = new Map<string, Occurrence[]>();
  pages.forEach((lines, page) => {
    for (const index of edges[page] ?? []) {
      const text = lines[index]?.text ?? "";
      const key = runningLineKey(text);
      if (key === "") continue;
      const list = occurrences.get(key) ?? [];
      list.push({ page, text });
      occurrences.set(key, list);
    }
  });

  const odd = withText.filter(({ index }) => index % 2 === 0).length; // page 1 is index 0
  const even = withText.length - odd;
  const enough = (count: number, of: number): boolean =>
    count >= RunningLines.minPages && of >= RunningLines.minPages && count >= Math.ceil(RunningLines.minShare * of);
  const running = new Map<string, (occurrence: Occurrence) => boolean>();
  for (const [key, list] of occurrences) {
    const matches = occurrenceMatcher(key, list);
    const onPages = new Set(list.filter(matches).map((occurrence) => occurrence.page));
    const onOdd = [...onPages].filter((page) => page % 2 === 0).length;
    if (enough(onPages.size, withText.length) || enough(onOdd, odd) || enough(onPages.size - onOdd, even)) {
      running.set(key, matches);
    }
  }
  if (running.size === 0) return pages.map((lines) => lines.slice());

  const kept = pages.map((lines, page) => {
    const edge = new Set(edges[page]);
    return lines.filter(
      (line, index) => !(edge.has(index) && running.get(runningLineKey(line.text))?.({ page, text: line.text })),
    );
  });
  return kept.some((lines) => lines.some(hasText)) ? kept : pages.map((lines) => lines.slice());
}

interface Occurrence {
  /** 0-based page index. */
  page: number;
  text: string;
}

/**
 * Which occurrences of a key count as running lines. A line with letters ("Page 3 of 10", a title) counts wherever
 * its key repeats. A line of only digits and punctuation that varies counts only where it reads as a page number: at
 * most two numbers ("12", "3/10", "- 7 -", a roman numeral), the first of which counts with the pages, i.e. minus the
 * page index it equals that of the previous or the next occurrence (unnumbered pages in between shift the offset, not
 * the run). Dates and amounts in a table's first or last row do not count.
 */
function occurrenceMatcher(key: string, list: readonly Occurrence[]): (occurrence: Occurrence) => boolean {
  if (/\p{L}/u.test(key) || new Set(list.map((occurrence) => occurrence.text.trim())).size === 1) return () => true;
  const sorted = [...list].sort((p, q) => p.page - q.page);
  const offsets = sorted.map(({ page, text }) => {
    const number = pageNumberIn(text);
    return number === undefined ? undefined : number - page;
  });
  const counting = new Set<string>();
  sorted.forEach(({ page, text }, k) => {
    const offset = offsets[k];
    if (offset !== undefined && (offsets[k - 1] === offset || offsets[k + 1] === offset)) {
      counting.add(`${page}\u0000${text}`);
    }
  });
  return ({ page, text }) => counting.has(`${page}\u0000${text}`);
}

/** The page number a line of digits and punctuation may be: its first of at most two numbers, or its roman numeral. */
function pageNumberIn(text: string): number | undefined {
  const trimmed = text.normalize("NFKC").trim().toLowerCase();
  if (trimmed !== "" && ROMAN_PAGE_NUMBER.test(trimmed)) return romanValue(trimmed);
  const numbers = trimmed.match(/\d+/g) ?? [];
  return numbers.length >= 1 && numbers.length <= 2 ? Number(numbers[0]) : undefined;
}

function romanValue(numeral: string): number {
  const values: Record<string, number> = { i: 1, v: 5, x: 10, l: 50, c: 100 };
  let total = 0;
  for (let k = 0; k < numeral.length; k++) {
    const value = values[numeral[k] as string] ?? 0;
    const next = values[numeral[k + 1] as string] ?? 0;
    total += value < next ? -value : value;
  }
  return total;
}

/** Indexes of a page's top and bottom `edgeLines` lines with text, by baseline (content order breaks ties). */
function edgeLineIndexes(lines: readonly TextLine[]): number[] {
  const order = lines
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => hasText(line))
    .sort((p, q) => q.line.y - p.line.y || p.index - q.index)
    .map(({ index }) => index);
  const n = RunningLines.edgeLines;
  return order.length <= 2 * n ? order : [...order.slice(0, n), ...order.slice(-n)];
}
