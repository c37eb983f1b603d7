/**
 * The document text that chunk offsets refer to (the pages joined with PAGE_SEPARATOR), its paragraphs, and which page
 * an offset falls on.
 */

/** What separates pages in the document text that chunk offsets refer to. */
export const PAGE_SEPARATOR = "\n\n";

/** The document text chunk offsets refer to: the pages joined with PAGE_SEPARATOR. */
export function documentText(pages: readonly string[]): string {
  return pages.join(PAGE_SEPARATOR);
}

/** A blank line (possibly holding spaces) separates paragraphs. */
const PARAGRAPH_BREAK = /\n[^\S\n]*\n\s*/g;

/** Trimmed, non-empty paragraphs of every page, with their offsets in the document text. */
export function* paragraphsOf(pages: readonly string[]): Generator<{ text: string; start: number; page: number }> {
  let offset = 0;
  for (let index = 0; index < pages.length; index++) {
    const page = pages[index] as string;
    const breaks = new RegExp(PARAGRAPH_BREAK.source, "g");
    let from = 0;
    for (;;) {
      const match = breaks.exec(page);
      const to = match ? match.index : page.length;
      const raw = page.slice(from, to);
      const text = raw.trim();
      if (text !== "") yield { text, start: offset + from + (raw.length - raw.trimStart().length), page: index + 1 };
      if (!match) break;
      from = match.index + match[0].length;
    }
    offset += page.length + PAGE_SEPARATOR.length;
  }
}

/** Offset of each page's first character in the document text. */
export function pageStartOffsets(pages: readonly string[]): number[] {
  const starts: number[] = [];
  let offset = 0;
  for (const page of pages) {
    starts.push(offset);
    offset += page.length + PAGE_SEPARATOR.length;
  }
  return starts;
}

/** 1-based page holding the character at `offset` (a non-separator character). */
export function pageAt(pageStarts: readonly number[], offset: number): number {
  let low = 0;
  let high = pageStarts.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if ((pageStarts[mid] as number) <= offset) low = mid;
    else high = mid - 1;
  }
  return low + 1;
}
