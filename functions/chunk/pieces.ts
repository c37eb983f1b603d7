import { paragraphsOf } from "./document-text.ts";
import { graphemeSegmenter, segmentStarts, sentenceSegmenter, wordSegmenter } from "./segmentation.ts";
import type { TokenCounter } from "./tokenizer.ts";

/**
 * A document's pieces: runs of its text that each fit the token budget, cut at paragraphs, then sentences, lines,
 * spaces and words, and as a last resort inside a word. The chunker (chunker.ts) packs them into chunks.
 */

/** A run of text that fits the budget on its own, located in the document text. */
export interface Piece {
  text: string;
  /** Offset of `text` in the document text; it ends at `start + text.length`. */
  start: number;
  tokens: number;
  page: number;
  /** Joined to the previous piece with no separator, inside what was one word (see MAX_RUN_CHARS). */
  glued: boolean;
  /** A cut of an over-long word: it is a chunk of its own. */
  solo: boolean;
}

export const pieceEnd = (piece: Piece): number => piece.start + piece.text.length;

/**
 * Pieces of the document, split lazily: a paragraph is split only when the packer reaches it, so a document over
 * maxChunks is abandoned after the work for maxChunks + 1 chunks.
 */
export class PieceSource {
  private readonly pieces: Piece[] = [];
  private readonly paragraphs: Iterator<{ text: string; start: number; page: number }>;
  private done = false;

  constructor(
    pages: readonly string[],
    private readonly splitter: Splitter,
  ) {
    this.paragraphs = paragraphsOf(pages);
  }

  /** Whether piece `k` exists (splitting more paragraphs as needed). */
  has(k: number): boolean {
    while (this.pieces.length <= k && !this.done) {
      const next = this.paragraphs.next();
      if (next.done) this.done = true;
      else this.splitter.fit(next.value.text, next.value.start, next.value.page, 0, false, this.pieces);
    }
    return k < this.pieces.length;
  }

  get(k: number): Piece {
    return this.pieces[k] as Piece;
  }
}

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
/** tiktoken has a fixed cost per call; short strings (single words, punctuation) repeat a lot. */
const MEMO_MAX_CHARS = 24;
const MEMO_MAX_ENTRIES = 50_000;

export class Splitter {
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

  /**
   * Appends to `out` pieces covering `text` (trimmed, non-empty, found at offset `start` of the document text), each
   * within the budget.
   */
  fit(text: string, start: number, page: number, level: number, glued: boolean, out: Piece[]): void {
    const tokens = this.countIfFits(text);
    if (tokens !== undefined) {
      out.push({ text, start, tokens, page, glued, solo: false });
      return;
    }
    for (let next = level; next < LEVELS.length; next++) {
      const kind = LEVELS[next] as Level;
      const parts = splitAt(text, kind);
      if (parts.length > 1) {
        let offset = start;
        parts.forEach((part, k) => {
          if (k > 0) offset += part.sep.length;
          this.fit(part.text, offset, page, next + 1, k === 0 ? glued : kind === "word" && part.sep === "", out);
          offset += part.text.length;
        });
        return;
      }
    }
    this.slice(text, start, page, graphemeBounds(text), out);
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
  private slice(text: string, offset: number, page: number, bounds: readonly number[], out: Piece[]): void {
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
      let end = reach(start, this.maxTokens);
      // Text of at most maxTokens bytes always fits; only a single unit over that size may not.
      const hugeUnit = end === start + 1 && at(end) - at(start) > MAX_RUN_CHARS;
      let tokens = hugeUnit ? Number.POSITIVE_INFINITY : this.count(text.slice(at(start), at(end)));
      if (tokens > this.maxTokens) {
        const unit = text.slice(at(start), at(end));
        this.slice(unit, offset + at(start), page, codePointBounds(unit), out);
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
      out.push({ text: text.slice(at(start), at(end)), start: offset + at(start), tokens, page, glued: false, solo: true });
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
