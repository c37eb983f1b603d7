import type { ChunkItem } from "../shared/contracts.ts";

/**
 * Splitting a chunk in two when it cannot be extracted in one piece (it ran past the invocation's deadline, or does not
 * fit the model's context). Pure text work: the halves are exact slices of the chunk's text, cut near the middle at
 * the strongest boundary available (paragraph, then sentence, then word, then anywhere), so nothing is lost or repeated.
 * Only the infer stage splits (the chunker never does), so this lives with it.
 */

/** Below this many characters a part is not split again: its failure is final. */
export const minSplitChars = 64;
/** At most 2^maxSplitDepth parts per chunk: halves that still fail after this many splits fail for good. */
export const maxSplitDepth = 6;

const boundaries: RegExp[] = [/\n\s*\n/g, /[.!?。！？]["')\]]?\s+/g, /\s+/g];

/** Where to cut `text` in two (an index strictly inside it), or undefined when it is too short to split. */
export function splitPoint(text: string): number | undefined {
  if (text.length < minSplitChars) return undefined;
  const middle = text.length / 2;
  // Look for a boundary in the middle half so neither part is tiny.
  const low = Math.floor(text.length / 4);
  const high = Math.ceil((text.length * 3) / 4);
  for (const pattern of boundaries) {
    let best: number | undefined;
    for (const match of text.matchAll(pattern)) {
      const cut = match.index + match[0].length;
      if (cut <= low || cut >= high) continue;
      if (best === undefined || Math.abs(cut - middle) < Math.abs(best - middle)) best = cut;
    }
    if (best !== undefined) return best;
  }
  // No boundary (e.g. text without spaces): cut in the middle, never inside a surrogate pair.
  let cut = Math.floor(middle);
  const code = text.charCodeAt(cut);
  if (code >= 0xdc00 && code <= 0xdfff) cut += 1;
  return cut;
}

export function splitDepth(item: Pick<ChunkItem, "part">): number {
  return item.part === undefined ? 0 : item.part.split(".").length;
}

/**
 * The two halves of a chunk item whose text is `text`, or undefined when it may not be split further (too short, or
 * already split maxSplitDepth times).
 */
export function splitChunkItem(item: ChunkItem, text: string): [ChunkItem, ChunkItem] | undefined {
  if (splitDepth(item) >= maxSplitDepth) return undefined;
  const cut = splitPoint(text);
  if (cut === undefined) return undefined;
  const half = (start: number, end: number, n: 1 | 2): ChunkItem => {
    const { text: _text, textLocation, textRange, ...rest } = item;
    const part: ChunkItem = {
      ...rest,
      part: item.part === undefined ? String(n) : `${item.part}.${n}`,
      charStart: item.charStart + start,
      charEnd: item.charStart + end,
      tokenCount: Math.max(1, Math.round((item.tokenCount * (end - start)) / Math.max(1, text.length))),
    };
    if (textLocation) {
      // The text stays in S3 (it was too large for the payload); the part names its range of it.
      const base = textRange?.start ?? 0;
      part.textLocation = textLocation;
      part.textRange = { start: base + start, end: base + end };
    } else {
      part.text = text.slice(start, end);
    }
    return part;
  };
  return [half(0, cut, 1), half(cut, text.length, 2)];
}
