/**
 * Text segmentation for the chunker: sentence, word and grapheme boundaries by Intl.Segmenter, found a window at a time.
 */

// A fixed locale keeps segmentation independent of the host's LANG. ICU's word segmenter uses dictionaries for CJK
// and Thai whatever the locale.
export const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });
export const wordSegmenter = new Intl.Segmenter("en", { granularity: "word" });
export const graphemeSegmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Characters segmented per Intl.Segmenter call; see segmentStarts. */
const SEGMENT_WINDOW = 1024;

/**
 * Start indices of the segments of `text` (the first is 0). V8's segment iterator costs time proportional to the
 * input's length per segment (quadratic over a long text), so long texts are segmented a window at a time. A window
 * never ends inside a surrogate pair. Its last two segments are segmented again at the start of the next window: the
 * last may continue past the window, and the boundary before it was decided without the text that follows.
 * A window with fewer than three segments is widened.
 */
export function segmentStarts(segmenter: Intl.Segmenter, text: string): number[] {
  const starts: number[] = [];
  let offset = 0;
  let size = SEGMENT_WINDOW;
  while (offset < text.length) {
    let end = Math.min(text.length, offset + size);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
    const local: number[] = [];
    for (const segment of segmenter.segment(text.slice(offset, end))) local.push(segment.index);
    if (end === text.length) {
      for (const start of local) starts.push(offset + start);
      break;
    }
    if (local.length < 3) {
      size *= 2;
      continue;
    }
    const resume = local[local.length - 2] as number;
    for (const start of local.slice(0, -2)) starts.push(offset + start);
    offset += resume;
    size = SEGMENT_WINDOW;
  }
  return starts;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}
