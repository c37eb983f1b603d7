import type { TokenCounter } from "./tokenizer.ts";

/**
 * A piece of a document sized for one inference call.
 *
 * Offsets: `charStart`/`charEnd` are UTF-16 code unit offsets (JavaScript string indices) into the document text,
 * `documentText(pages)` = the pages joined with PAGE_SEPARATOR (a blank line). The exact relation, for every chunk:
 * `documentText(pages).slice(chunk.charStart, chunk.charEnd) === chunk.text`.
 */
export interface Chunk {
  /** 0-based position in the document. */
  index: number;
  /** 1-based, inclusive page range of the chunk's first and last character (the overlap included). */
  pageStart: number;
  pageEnd: number;
  /** Start (inclusive) and end (exclusive) of `text` in the document text, in UTF-16 code units. */
  charStart: number;
  charEnd: number;
  /** Tokens in `text` by the injected counter; never more than `maxTokens`. */
  tokenCount: number;
  text: string;
}

export interface ChunkOptions {
  /** Upper bound on each chunk's token count. At least 4, so that any single code point fits. */
  maxTokens: number;
  /** Token counter (in production the cl100k_base tokenizer from tokenizer.ts). */
  tokenizer: TokenCounter;
  /**
   * Each chunk after the first starts with up to this many tokens of the previous chunk's tail, taken from a
   * sentence start (else a word start) inside the previous chunk. 0 (the default) for no overlap; at most
   * maxTokens / 2. Best effort: a chunk gets less overlap, or none, when no boundary fits (see chunkPages).
   */
  overlapTokens?: number;
  /**
   * Most chunks the document may produce. Chunking stops, throwing ChunkLimitError, as soon as chunk number
   * `maxChunks + 1` would be made; the rest of the document is never split or counted.
   */
  maxChunks?: number;
}

/** The smallest budget that always fits one code point: UTF-8 has at most 4 bytes, byte-level BPE a token per byte. */
export const MIN_CHUNK_TOKENS = 4;

/** What separates pages in the document text that chunk offsets refer to. */
export const PAGE_SEPARATOR = "\n\n";

/** The document text chunk offsets refer to: the pages joined with PAGE_SEPARATOR. */
export function documentText(pages: readonly string[]): string {
  return pages.join(PAGE_SEPARATOR);
}

/** The document needs more than `maxChunks` chunks. Thrown before the extra chunk is built. */
export class ChunkLimitError extends RangeError {
  override readonly name = "ChunkLimitError";
  constructor(readonly maxChunks: number) {
    super(`the document needs more than ${maxChunks} chunks`);
  }
}

/**
 * Splits a document's pages into chunks of at most `maxTokens` tokens.
 *
 * Paragraphs (separated by blank lines) are packed greedily, across page boundaries, into as few chunks as fit. A
 * paragraph that alone exceeds the budget is split at sentence boundaries, then line breaks, then spaces, then word
 * boundaries (for scripts written without spaces); a single word still over the budget is cut into runs of grapheme
 * clusters (for a pathological cluster, code points), never inside a code point. Each chunk's text is the exact
 * slice of the document text between its offsets (see Chunk): it keeps the document's own whitespace between the
 * pieces it joins, and starts and ends with non-whitespace. Without overlap, the chunks' ranges are disjoint and in
 * order, and together hold every non-whitespace character of the document. Text without whitespace is kept to runs
 * of at most MAX_RUN_CHARS characters per chunk (see there).
 *
 * Overlap (`overlapTokens` > 0): a chunk starts at the earliest sentence start in the previous chunk (never its own
 * first character) whose tail up to the previous chunk's end has at most `overlapTokens` tokens; when even the last
 * sentence is longer, at the earliest such word start. The overlap is shortened, or dropped, when the chunk's first
 * new piece would not fit beside it; a chunk that begins with a cut of an over-long word gets none. Every chunk still
 * ends with text no earlier chunk has (charEnd strictly increases), so the number of chunks stays bounded.
 *
 * Pure and deterministic.
 */
export function chunkPages(pages: readonly string[], options: ChunkOptions): Chunk[] {
  const { maxTokens, tokenizer } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < MIN_CHUNK_TOKENS) {
    throw new RangeError(`maxTokens must be an integer of at least ${MIN_CHUNK_TOKENS}, got ${maxTokens}`);
  }
  const overlapTokens = options.overlapTokens ?? 0;
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens > maxTokens / 2) {
    throw new RangeError(`overlapTokens must be an integer from 0 to maxTokens / 2 (${maxTokens / 2}), got ${overlapTokens}`);
  }
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  if (!(maxChunks === Number.POSITIVE_INFINITY || (Number.isInteger(maxChunks) && maxChunks >= 1))) {
    throw new RangeError(`maxChunks must be a positive integer, got ${maxChunks}`);
  }
  const doc = documentText(pages);
  const splitter = new Splitter(maxTokens, tokenizer);
  const pieces = new PieceSource(pages, splitter);
  return pack(doc, pieces, { maxTokens, overlapTokens, maxChunks, pageStarts: pageStartOffsets(pages) }, splitter);
}

/** A run of text that fits the budget on its own, located in the document text. */
interface Piece {
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

const pieceEnd = (piece: Piece): number => piece.start + piece.text.length;

/** A blank line (possibly holding spaces) separates paragraphs. */
const PARAGRAPH_BREAK = /\n[^\S\n]*\n\s*/g;

/**
 * Pieces of the document, split lazily: a paragraph is split only when the packer reaches it, so a document over
 * maxChunks is abandoned after the work for maxChunks + 1 chunks.
 */
class PieceSource {
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

/** Trimmed, non-empty paragraphs of every page, with their offsets in the document text. */
function* paragraphsOf(pages: readonly string[]): Generator<{ text: string; start: number; page: number }> {
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
function pageStartOffsets(pages: readonly string[]): number[] {
  const starts: number[] = [];
  let offset = 0;
  for (const page of pages) {
    starts.push(offset);
    offset += page.length + PAGE_SEPARATOR.length;
  }
  return starts;
}

/** 1-based page holding the character at `offset` (a non-separator character). */
function pageAt(pageStarts: readonly number[], offset: number): number {
  let low = 0;
  let high = pageStarts.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if ((pageStarts[mid] as number) <= offset) low = mid;
    else high = mid - 1;
  }
  return low + 1;
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

interface PackSettings {
  maxTokens: number;
  overlapTokens: number;
  maxChunks: number;
  pageStarts: readonly number[];
}

/**
 * Packs pieces greedily into chunks. Token counts of joined text are not exactly additive (BPE merges across a
 * boundary; a space usually joins the next word's token), so sums only propose how far a chunk can extend, and every
 * chunk's final count is an exact count of its text.
 */
function pack(doc: string, pieces: PieceSource, settings: PackSettings, splitter: Splitter): Chunk[] {
  const { maxTokens, overlapTokens, maxChunks, pageStarts } = settings;
  const count = (text: string): number => splitter.count(text);
  // Spaces and empty separators mostly merge into the next token; line breaks are tokens of their own.
  const sepEstimate = (from: number, to: number): number => {
    const sep = doc.slice(from, to);
    return sep.includes("\n") ? count(sep) : 0;
  };
  const piece = (k: number): Piece => pieces.get(k);

  const chunks: Chunk[] = [];
  let start = 0;
  while (pieces.has(start)) {
    const first = piece(start);
    const lead = overlapTokens > 0 && !first.solo ? overlapLead(doc, chunks.at(-1), first, overlapTokens, maxTokens, count) : undefined;
    // The chunk's text is doc.slice(from, pieceEnd(piece(end))).
    const from = lead?.from ?? first.start;
    let end = start;
    let tokens = lead?.tokens ?? first.tokens;
    let run = lead?.run ?? first.text.length;
    while (!first.solo) {
      let proposal = end;
      let estimate = tokens;
      let proposalRun = run;
      while (pieces.has(proposal + 1)) {
        const next = piece(proposal + 1);
        if (next.solo) break;
        const nextRun = next.glued ? proposalRun + next.text.length : next.text.length;
        const grown = estimate + sepEstimate(pieceEnd(piece(proposal)), next.start) + next.tokens;
        if (grown > maxTokens || nextRun > MAX_RUN_CHARS) break;
        estimate = grown;
        proposalRun = nextRun;
        proposal += 1;
      }
      if (proposal === end) break;
      const proposed = count(doc.slice(from, pieceEnd(piece(proposal))));
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
        const midTokens = count(doc.slice(from, pieceEnd(piece(mid))));
        if (midTokens <= maxTokens) {
          end = mid;
          tokens = midTokens;
        } else {
          bad = mid;
        }
      }
      break;
    }
    if (chunks.length >= maxChunks) throw new ChunkLimitError(maxChunks);
    const charEnd = pieceEnd(piece(end));
    chunks.push({
      index: chunks.length,
      pageStart: lead === undefined ? first.page : pageAt(pageStarts, from),
      pageEnd: piece(end).page,
      charStart: from,
      charEnd,
      tokenCount: tokens,
      text: doc.slice(from, charEnd),
    });
    start = end + 1;
  }
  return chunks;
}

/**
 * Characters of the previous chunk's end searched for an overlap start, per overlap token. English averages about 4
 * characters per cl100k token; a token longer than this on average only means a shorter overlap.
 */
const OVERLAP_CHARS_PER_TOKEN = 12;

/**
 * Where a chunk starting with piece `first` begins when it takes the previous chunk's tail as overlap: the earliest
 * sentence start (else word start) after the previous chunk's first character whose tail has at most
 * `overlapTokens` tokens and which leaves room for `first` within `maxTokens` (and within MAX_RUN_CHARS when `first`
 * continues a word). Undefined when no boundary qualifies. `tokens` and `run` describe doc.slice(from, end of first).
 */
function overlapLead(
  doc: string,
  previous: Chunk | undefined,
  first: Piece,
  overlapTokens: number,
  maxTokens: number,
  count: (text: string) => number,
): { from: number; tokens: number; run: number } | undefined {
  if (previous === undefined) return undefined;
  const windowStart = Math.max(previous.charStart, previous.charEnd - overlapTokens * OVERLAP_CHARS_PER_TOKEN);
  const window = doc.slice(windowStart, previous.charEnd);
  // Boundaries inside the window only: the window's own start is a cut, not a boundary (or the previous chunk's start).
  const inside = (starts: readonly number[]): number[] =>
    starts.filter((start) => start > 0 && /\S/.test(window[start] as string)).map((start) => windowStart + start);
  const sentenceStarts = inside(segmentStarts(sentenceSegmenter, window.replace(/\n/g, " ")));
  const wordStarts = inside(segmentStarts(wordSegmenter, window)).filter(
    (start) => /\s/.test(doc[start - 1] as string) || /[\p{L}\p{N}]/u.test(String.fromCodePoint(doc.codePointAt(start) as number)),
  );
  const firstEnd = pieceEnd(first);
  for (const starts of [sentenceStarts, wordStarts]) {
    // Later starts give shorter tails: find the earliest start whose tail fits the overlap budget, then the earliest
    // from there that leaves room for `first`. Both searches assume counts shrink with the tail; the chosen start is
    // checked against every condition, so a non-monotone count can only cost overlap, never break a bound.
    const tailFits = (k: number): boolean => count(doc.slice(starts[k] as number, previous.charEnd)) <= overlapTokens;
    const lead = (k: number): { from: number; tokens: number; run: number } => {
      const from = starts[k] as number;
      const run = first.glued ? firstEnd - lastRunStart(doc, from, first.start) : first.text.length;
      return { from, tokens: count(doc.slice(from, firstEnd)), run };
    };
    const fits = (k: number): boolean => {
      const { tokens, run } = lead(k);
      return tokens <= maxTokens && run <= MAX_RUN_CHARS && tailFits(k);
    };
    const found = firstTrue(firstTrue(0, starts.length, tailFits), starts.length, fits);
    if (found < starts.length) return lead(found);
  }
  return undefined;
}

/** The smallest k in [low, high) for which `test` holds, assuming it holds from some k on; `high` when none does. */
function firstTrue(low: number, high: number, test: (k: number) => boolean): number {
  let end = high;
  while (low < end) {
    const mid = Math.floor((low + end) / 2);
    if (test(mid)) end = mid;
    else low = mid + 1;
  }
  return low;
}

/** Start of the run without whitespace that ends at `end` (not before `from`). */
function lastRunStart(doc: string, from: number, end: number): number {
  let start = end;
  while (start > from && !/\s/.test(doc[start - 1] as string)) start -= 1;
  return start;
}
