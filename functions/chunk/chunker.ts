import type { TokenCounter } from "./tokenizer.ts";

/** A piece of a document sized for one inference call. */
export interface Chunk {
  /** 0-based position in the document. */
  index: number;
  /** 1-based, inclusive page range the text comes from. */
  pageStart: number;
  pageEnd: number;
  /** Tokens in `text` by the injected counter; never more than `maxTokens`. */
  tokenCount: number;
  text: string;
}

export interface ChunkOptions {
  /** Upper bound on each chunk's token count. At least 4, so that any single code point fits. */
  maxTokens: number;
  /** Token counter (in production the cl100k_base tokenizer from tokenizer.ts). */
  tokenizer: TokenCounter;
}

/** The smallest budget that always fits one code point: UTF-8 has at most 4 bytes, byte-level BPE a token per byte. */
export const MIN_CHUNK_TOKENS = 4;

/**
 * Splits a document's pages into chunks of at most `maxTokens` tokens.
 *
 * Paragraphs (separated by blank lines) are packed greedily, across page boundaries, into as few chunks as fit. A
 * paragraph that alone exceeds the budget is split at sentence boundaries, then line breaks, then spaces, then word
 * boundaries (for scripts written without spaces); a single word still over the budget is cut into runs of grapheme
 * clusters (for a pathological cluster, code points), never inside a code point. Chunk texts keep the whitespace
 * between the pieces they join (paragraphs are rejoined with one blank line) and start and end with non-whitespace,
 * so concatenating them in order gives every non-whitespace character of the input, in order. Text without
 * whitespace is kept to runs of at most MAX_RUN_CHARS characters per chunk (see there). Pure and deterministic.
 */
export function chunkPages(pages: readonly string[], options: ChunkOptions): Chunk[] {
  const { maxTokens, tokenizer } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < MIN_CHUNK_TOKENS) {
    throw new RangeError(`maxTokens must be an integer of at least ${MIN_CHUNK_TOKENS}, got ${maxTokens}`);
  }
  const pieces: Piece[] = [];
  const splitter = new Splitter(maxTokens, tokenizer);
  pages.forEach((pageText, pageIndex) => {
    for (const paragraph of pageText.split(PARAGRAPH_BREAK)) {
      const text = paragraph.trim();
      if (text !== "") splitter.fit(text, PARAGRAPH_SEPARATOR, pageIndex + 1, 0, false, pieces);
    }
  });
  return pack(pieces, maxTokens, (text) => splitter.count(text));
}

/** A run of text that fits the budget on its own, with the whitespace that separates it from the previous piece. */
interface Piece {
  text: string;
  /** Whitespace between the previous piece and this one; dropped when the piece starts a chunk. */
  sep: string;
  tokens: number;
  page: number;
  /** Joined to the previous piece with no separator, inside what was one word (see MAX_RUN_CHARS). */
  glued: boolean;
  /** A cut of an over-long word: it is a chunk of its own. */
  solo: boolean;
}

/** A blank line (possibly holding spaces) separates paragraphs; paragraphs are rejoined with one blank line. */
const PARAGRAPH_BREAK = /\n[^\S\n]*\n\s*/;
const PARAGRAPH_SEPARATOR = "\n\n";

/**
 * Longest run without whitespace the chunker builds or asks the tokenizer to count. tiktoken's BPE takes time
 * quadratic in the length of a pre-token (a run of letters, of symbols or of whitespace): counting one 16,000-letter
 * run takes seconds. Ordinary text has short runs; a base64 blob, a long unpunctuated CJK sentence or a row of
 * "=====" does not, and goes into chunks of at most this many characters of it, even when more tokens would fit.
 */
export const MAX_RUN_CHARS = 1000;
const LONG_RUN = /\p{L}+|[^\s\p{L}\p{N}]+|\s+/gu;

type Level = "sentence" | "line" | "space" | "word";
const LEVELS: readonly Level[] = ["sentence", "line", "space", "word"];

// A fixed locale keeps segmentation independent of the host's LANG. ICU's word segmenter uses dictionaries for CJK
// and Thai whatever the locale.
const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });
const wordSegmenter = new Intl.Segmenter("en", { granularity: "word" });
const graphemeSegmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** tiktoken has a fixed cost per call; short strings (single words, punctuation) repeat a lot. */
const MEMO_MAX_CHARS = 24;
const MEMO_MAX_ENTRIES = 50_000;

class Splitter {
  private readonly memo = new Map<string, number>();

  constructor(
    private readonly maxTokens: number,
    private readonly tokenizer: TokenCounter,
  ) {}

  count(text: string): number {
    if (text.length > MEMO_MAX_CHARS) return this.tokenizer.count(text);
    let tokens = this.memo.get(text);
    if (tokens === undefined) {
      tokens = this.tokenizer.count(text);
      if (this.memo.size >= MEMO_MAX_ENTRIES) this.memo.clear();
      this.memo.set(text, tokens);
    }
    return tokens;
  }

  /** Appends to `out` pieces covering `text` (trimmed, non-empty), each within the budget. */
  fit(text: string, sep: string, page: number, level: number, glued: boolean, out: Piece[]): void {
    const tokens = this.countIfFits(text);
    if (tokens !== undefined) {
      out.push({ text, sep, tokens, page, glued, solo: false });
      return;
    }
    for (let next = level; next < LEVELS.length; next++) {
      const kind = LEVELS[next] as Level;
      const parts = splitAt(text, kind);
      if (parts.length > 1) {
        parts.forEach((part, k) =>
          k === 0
            ? this.fit(part.text, sep, page, next + 1, glued, out)
            : this.fit(part.text, part.sep, page, next + 1, kind === "word" && part.sep === "", out),
        );
        return;
      }
    }
    this.slice(text, sep, page, graphemeBounds(text), out);
  }

  /** The token count when `text` fits the budget; undefined when it does not or is not worth counting. */
  private countIfFits(text: string): number | undefined {
    // A token is at least one byte: text of at most maxTokens bytes fits whatever its count.
    if (utf8Length(text) <= this.maxTokens) return this.count(text);
    if (text.length >= MAX_RUN_CHARS && hasLongRun(text)) return undefined;
    const tokens = this.count(text);
    return tokens <= this.maxTokens ? tokens : undefined;
  }

  /**
   * Cuts a word (text without whitespace) too long for the budget into solo pieces at the given unit boundaries
   * (string indices, first 0, last text.length): each piece is the longest run of units, up to MAX_RUN_CHARS
   * characters, that fits. A single unit over the budget (a grapheme cluster with many combining marks) is cut at
   * code points, which always fit (at most 4 UTF-8 bytes, so at most 4 tokens).
   */
  private slice(text: string, sep: string, page: number, bounds: readonly number[], out: Piece[]): void {
    const units = bounds.length - 1;
    const at = (k: number): number => bounds[k] as number;
    // bytes[k]: UTF-8 bytes of units 0..k-1.
    const bytes = [0];
    for (let k = 0; k < units; k++) bytes.push((bytes[k] as number) + utf8Length(text.slice(at(k), at(k + 1))));
    const byteAt = (k: number): number => bytes[k] as number;
    /** Last end after `start` within `budget` bytes and MAX_RUN_CHARS characters; at least start + 1. */
    const reach = (start: number, budget: number): number => {
      let end = start + 1;
      while (end < units && byteAt(end + 1) - byteAt(start) <= budget && at(end + 1) - at(start) <= MAX_RUN_CHARS) {
        end += 1;
      }
      return end;
    };

    let start = 0;
    while (start < units) {
      const pieceSep = start === 0 ? sep : "";
      let end = reach(start, this.maxTokens);
      // Text of at most maxTokens bytes always fits; only a single unit over that size may not.
      const hugeUnit = end === start + 1 && at(end) - at(start) > MAX_RUN_CHARS;
      let tokens = hugeUnit ? Number.POSITIVE_INFINITY : this.count(text.slice(at(start), at(end)));
      if (tokens > this.maxTokens) {
        const unit = text.slice(at(start), at(end));
        this.slice(unit, pieceSep, page, codePointBounds(unit), out);
        start = end;
        continue;
      }
      // When the piece uses under half the budget, try twice the bytes.
      for (let budget = this.maxTokens * 2; end < units && tokens * 2 <= this.maxTokens; budget *= 2) {
        const longer = reach(start, budget);
        if (longer === end) break;
        const longerTokens = this.count(text.slice(at(start), at(longer)));
        if (longerTokens > this.maxTokens) break;
        end = longer;
        tokens = longerTokens;
      }
      out.push({ text: text.slice(at(start), at(end)), sep: pieceSep, tokens, page, glued: false, solo: true });
      start = end;
    }
  }
}

function hasLongRun(text: string): boolean {
  for (const match of text.matchAll(LONG_RUN)) if (match[0].length >= MAX_RUN_CHARS) return true;
  return false;
}

/** UTF-8 length of a JavaScript string (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let k = 0; k < text.length; k++) {
    const unit = text.charCodeAt(k);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && k + 1 < text.length) {
      const low = text.charCodeAt(k + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 4;
        k += 1;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Splits trimmed text into non-whitespace parts at one kind of boundary. Each part records the exact whitespace
 * before it, so joining `sep + text` of the parts after the first reproduces the input.
 */
function splitAt(text: string, level: Level): Array<{ text: string; sep: string }> {
  const parts: Array<{ text: string; sep: string }> = [];
  let pending = "";
  for (const raw of segments(text, level)) {
    const core = raw.trim();
    if (core === "") {
      pending += raw;
      continue;
    }
    const lead = raw.slice(0, raw.indexOf(core));
    parts.push({ text: core, sep: pending + lead });
    pending = raw.slice(lead.length + core.length);
  }
  return parts;
}

/** Consecutive substrings that concatenate to `text`, cut at boundaries of the given kind. */
function segments(text: string, level: Level): string[] {
  switch (level) {
    case "sentence":
      // A line break is a hard sentence break for ICU; in extracted PDF text it is mostly a line wrap. Segment a copy
      // with line breaks as spaces (same length, so the indices hold) and cut the original.
      return cutAt(text, segmentStarts(sentenceSegmenter, text.replace(/\n/g, " ")));
    case "line":
      return text.split(/(?<=\n)/);
    case "space":
      return text.split(/(?<=\s)(?=\S)/);
    case "word":
      return cutAt(text, segmentStarts(wordSegmenter, text));
  }
}

function cutAt(text: string, starts: readonly number[]): string[] {
  return starts.map((start, k) => text.slice(start, starts[k + 1] ?? text.length));
}

function graphemeBounds(text: string): number[] {
  const bounds = segmentStarts(graphemeSegmenter, text);
  bounds.push(text.length);
  return bounds;
}

function codePointBounds(text: string): number[] {
  const bounds: number[] = [];
  let index = 0;
  for (const codePoint of text) {
    bounds.push(index);
    index += codePoint.length;
  }
  bounds.push(text.length);
  return bounds;
}

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

/**
 * Packs pieces greedily into chunks. Token counts of joined text are not exactly additive (BPE merges across a
 * boundary; a space usually joins the next word's token), so sums only propose how far a chunk can extend, and every
 * chunk's final count is an exact count of its text.
 */
function pack(pieces: readonly Piece[], maxTokens: number, count: (text: string) => number): Chunk[] {
  // Spaces and empty separators mostly merge into the next token; line breaks are tokens of their own.
  const sepEstimate = (sep: string): number => (sep.includes("\n") ? count(sep) : 0);
  const piece = (k: number): Piece => pieces[k] as Piece;
  const join = (from: number, to: number): string => {
    let text = piece(from).text;
    for (let k = from + 1; k <= to; k++) text += piece(k).sep + piece(k).text;
    return text;
  };

  const chunks: Chunk[] = [];
  let start = 0;
  while (start < pieces.length) {
    let end = start;
    let tokens = piece(start).tokens;
    let run = piece(start).text.length;
    while (!piece(start).solo) {
      let proposal = end;
      let estimate = tokens;
      let proposalRun = run;
      while (proposal + 1 < pieces.length) {
        const next = piece(proposal + 1);
        if (next.solo) break;
        const nextRun = next.glued ? proposalRun + next.text.length : next.text.length;
        const grown = estimate + sepEstimate(next.sep) + next.tokens;
        if (grown > maxTokens || nextRun > MAX_RUN_CHARS) break;
        estimate = grown;
        proposalRun = nextRun;
        proposal += 1;
      }
      if (proposal === end) break;
      const proposed = count(join(start, proposal));
      if (proposed <= maxTokens) {
        end = proposal;
        tokens = proposed;
        run = proposalRun;
        continue;
      }
      // The estimate was optimistic: bisect between the last verified end and the proposal.
      let bad = proposal;
      while (bad - end > 1) {
        const mid = Math.floor((end + bad) / 2);
        const midTokens = count(join(start, mid));
        if (midTokens <= maxTokens) {
          end = mid;
          tokens = midTokens;
        } else {
          bad = mid;
        }
      }
      break;
    }
    chunks.push({
      index: chunks.length,
      pageStart: piece(start).page,
      pageEnd: piece(end).page,
      tokenCount: tokens,
      text: join(start, end),
    });
    start = end + 1;
  }
  return chunks;
}
