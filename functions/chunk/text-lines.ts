/**
 * Layout, first step: pdf.js text items -> lines, in the page's reading frame. Then running-lines.ts drops running
 * headers and footers, and page-layout.ts groups the lines into paragraphs and joins hyphenated words. All pure, so it
 * is tested on synthetic lines as well as on generated PDFs.
 */

/**
 * A line of text on a page, in the page's reading frame: `x` grows along the text, `y` is the baseline and grows
 * upward (the PDF convention), so the next line down has a smaller `y`. Units are PDF points.
 */
export interface TextLine {
  text: string;
  /** Where the line starts and ends along its direction. */
  x: number;
  end: number;
  y: number;
  /** Font size of the line's largest text, > 0. */
  size: number;
}

/** The part of a pdf.js text content item this module reads (TextItem; marked-content items have no `str`). */
export interface TextItemLike {
  str: string;
  /** [a, b, c, d, e, f]: text matrix; (e, f) is the item's origin on the page. */
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}

/** Two items whose baselines differ by less than this many font sizes are on the same line (sub/superscripts). */
export const SAME_LINE_TOLERANCE = 0.5;
/** A horizontal gap wider than this many font sizes between two items of a line is a word gap pdf.js did not mark. */
const WORD_GAP = 0.25;

/**
 * Lines of one page from pdf.js text content items, in content-stream order. A line ends where pdf.js marks an end of
 * line (`hasEOL`) or where the baseline moves by more than half a font size. Items of a line are concatenated, with a
 * space where a gap wider than a quarter of the font size is not already a space. Coordinates are turned into the
 * reading frame of the page's dominant text direction, so rotated, upside-down and mirrored pages read like upright
 * ones.
 */
export function textLines(items: ReadonlyArray<TextItemLike | object>): TextLine[] {
  const textItems = items.filter(
    (item): item is TextItemLike => "str" in item && Array.isArray((item as TextItemLike).transform),
  );
  const frame = readingFrame(textItems);
  const lines: TextLine[] = [];
  let current: TextLine | undefined;
  let lineEnded = false;
  // Whether `current.text` ends with whitespace, kept aside: reading the end of the growing string (a regex, even
  // charAt) flattens it each time, which made a page of 30,000 items on one line take ~25 s (issue 14's text bomb).
  let endsSpaced = false;
  for (const item of textItems) {
    const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = item.transform;
    const { x, y } = toReadingFrame(e, f, frame);
    const size = Math.hypot(c, d) || Math.hypot(a, b) || item.height || 1;
    if (item.str !== "") {
      const sameLine =
        current !== undefined &&
        !lineEnded &&
        Math.abs(y - current.y) <= SAME_LINE_TOLERANCE * Math.max(size, Math.min(current.size, 2 * size));
      if (!sameLine || current === undefined) {
        current = { text: item.str, x, end: x + item.width, y, size };
        lines.push(current);
      } else {
        const gap = x - current.end;
        const spaced = endsSpaced || /^\s/.test(item.str);
        if (!spaced && (gap > WORD_GAP * size || gap < -size)) current.text += " ";
        current.text += item.str;
        current.end = Math.max(current.end, x + item.width);
        current.size = Math.max(current.size, size);
      }
      endsSpaced = /\s$/.test(item.str);
      lineEnded = false;
    }
    if (item.hasEOL) lineEnded = true;
  }
  return lines;
}

/**
 * The page's reading frame: the dominant direction of the text (the baseline's direction, `a b` of the text matrix)
 * and of the glyphs' up (`c d`), each snapped to an axis, weighted by text length. Upright text gives x along the
 * baseline and y up; rotated, upside-down and mirrored pages get the frame in which their text reads the same way.
 */
interface ReadingFrame {
  along: readonly [number, number];
  up: readonly [number, number];
}

function axis(x: number, y: number): readonly [number, number] {
  if (Math.abs(x) >= Math.abs(y)) return [x < 0 ? -1 : 1, 0];
  return [0, y < 0 ? -1 : 1];
}

function readingFrame(items: readonly TextItemLike[]): ReadingFrame {
  const weights = new Map<string, { frame: ReadingFrame; weight: number }>();
  for (const item of items) {
    const [a = 1, b = 0, c = 0, d = 1] = item.transform;
    const frame: ReadingFrame = { along: axis(a, b), up: axis(c, d) };
    const key = `${frame.along.join()} ${frame.up.join()}`;
    const entry = weights.get(key) ?? { frame, weight: 0 };
    entry.weight += item.str.length;
    weights.set(key, entry);
  }
  let best: { frame: ReadingFrame; weight: number } = { frame: { along: [1, 0], up: [0, 1] }, weight: 0 };
  for (const entry of weights.values()) if (entry.weight > best.weight) best = entry;
  // Degenerate matrices (both axes the same) fall back to upright.
  return best.frame.along.join() === best.frame.up.join() ? { along: [1, 0], up: [0, 1] } : best.frame;
}

function toReadingFrame(x: number, y: number, frame: ReadingFrame): { x: number; y: number } {
  return { x: x * frame.along[0] + y * frame.along[1], y: x * frame.up[0] + y * frame.up[1] };
}

/** Whether a line has some non-whitespace. */
export function hasText(line: TextLine): boolean {
  return line.text.trim() !== "";
}
