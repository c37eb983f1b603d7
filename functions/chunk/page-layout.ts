import { dropRunningLines } from "./running-lines.ts";
import { hasText, SAME_LINE_TOLERANCE, type TextLine } from "./text-lines.ts";
import { tidyText } from "./tidy-text.ts";

/**
 * Layout, last steps: a page's lines (text-lines.ts), running headers and footers dropped (running-lines.ts), grouped
 * into paragraphs, hyphenated line ends joined, tidied: the page's text. Pure.
 */

// --- paragraphs ---------------------------------------------------------------------------------------------------

/** A baseline step more than this many times the page's usual line pitch is a paragraph gap. */
const PARAGRAPH_GAP = 1.4;
/** A line starting this many font sizes right of the previous one, after a sentence end, is an indented paragraph. */
const PARAGRAPH_INDENT = 0.8;
const SENTENCE_END = /[.!?:;]["'’”»)\]]*$/u;
const BULLET_START = /^[•◦▪▫●○■□‣⁃∙·*–—-]\s/u;

/**
 * Groups a page's lines into paragraphs. A new paragraph starts at a line that is
 * - further below the previous line than 1.4 times the page's usual line pitch (the median baseline step; 1.2 font
 *   sizes when the page has fewer than 3 steps),
 * - above the previous line (a new column or block),
 * - indented by at least 0.8 font sizes relative to the previous line, when that line ends a sentence, or
 * - a bullet item ("• ", "– ", "* ").
 */
export function groupParagraphs(lines: readonly TextLine[]): TextLine[][] {
  const textLinesOnly = lines.filter(hasText);
  const steps: number[] = [];
  for (let k = 1; k < textLinesOnly.length; k++) {
    const previous = textLinesOnly[k - 1] as TextLine;
    const line = textLinesOnly[k] as TextLine;
    const step = previous.y - line.y;
    if (step > 0 && step <= 3 * Math.max(previous.size, line.size)) steps.push(step);
  }
  const pitch = steps.length >= 3 ? median(steps) : 1.2 * median(textLinesOnly.map((line) => line.size));

  const paragraphs: TextLine[][] = [];
  let previous: TextLine | undefined;
  for (const line of textLinesOnly) {
    const current = paragraphs.at(-1);
    if (previous === undefined || current === undefined || startsParagraph(previous, line, pitch)) {
      paragraphs.push([line]);
    } else {
      current.push(line);
    }
    previous = line;
  }
  return paragraphs;
}

function startsParagraph(previous: TextLine, line: TextLine, pitch: number): boolean {
  const step = previous.y - line.y;
  const size = Math.max(previous.size, line.size);
  if (step > PARAGRAPH_GAP * pitch) return true;
  if (step < -SAME_LINE_TOLERANCE * size) return true;
  if (line.x - previous.x >= PARAGRAPH_INDENT * line.size && SENTENCE_END.test(previous.text.trimEnd())) return true;
  return BULLET_START.test(line.text.trimStart());
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((p, q) => p - q);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

// --- hyphenation --------------------------------------------------------------------------------------------------

const HYPHENATED_END = /(\p{L}+)([-\u2010\u00ad])$/u;
const LOWERCASE_START = /^(\p{Ll}[\p{L}\p{M}]*)/u;
const WORDS = /[\p{L}\p{M}\p{N}]+(?:[-\u2010][\p{L}\p{M}\p{N}]+)*/gu;

/** Hyphenated words a document spells within a line ("well-known"), lower case: they keep their hyphen when split. */
export function hyphenatedVocabulary(texts: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const text of texts) {
    for (const [word] of text.matchAll(WORDS)) {
      if (/[-\u2010]/.test(word)) words.add(word.toLowerCase().replace(/\u2010/g, "-"));
    }
  }
  return words;
}

/**
 * Joins the lines of one paragraph with "\n", re-joining words hyphenated across a line end: when a line ends with a
 * letter and a hyphen and the next line starts with a lowercase letter, the two lines become one. The hyphen is
 * dropped ("extrac-" + "tion" -> "extraction") unless the document spells the hyphenated word within a line elsewhere
 * (`vocabulary`: "well-" + "known" -> "well-known" when "well-known" occurs); a soft hyphen (U+00AD) is always
 * dropped. A hyphen before an uppercase letter, a digit or the end of the paragraph is left alone.
 */
export function joinLines(lines: readonly string[], vocabulary: ReadonlySet<string> = new Set()): string {
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    const previous = out.at(-1);
    const head = previous === undefined ? null : HYPHENATED_END.exec(previous);
    const tail = LOWERCASE_START.exec(line);
    if (previous !== undefined && head && tail) {
      const [, stem = "", hyphen] = head;
      const keep = hyphen !== "\u00ad" && vocabulary.has(`${stem}-${tail[1] ?? ""}`.toLowerCase());
      out[out.length - 1] = previous.slice(0, -1) + (keep ? "-" : "") + line;
    } else {
      out.push(line);
    }
  }
  return out.join("\n");
}

/**
 * Page texts from page lines: running headers and footers dropped (when `dropRunningHeaders`), lines grouped into
 * paragraphs separated by a blank line, hyphenated line ends joined, then tidied (`tidyText`: NFC, spaces).
 */
export function layoutPages(pages: readonly TextLine[][], options: { dropRunningHeaders: boolean }): string[] {
  const kept = options.dropRunningHeaders ? dropRunningLines(pages) : pages;
  const vocabulary = hyphenatedVocabulary(kept.flatMap((lines) => lines.map((line) => line.text)));
  return kept.map((lines) =>
    tidyText(
      groupParagraphs(lines)
        .map((paragraph) => joinLines(paragraph.map((line) => tidyText(line.text)), vocabulary))
        .join("\n\n"),
    ),
  );
}
