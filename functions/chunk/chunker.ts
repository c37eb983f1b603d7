import { documentText, pageAt, pageStartOffsets } from "./document-text.ts";
import { MAX_RUN_CHARS, PieceSource, pieceEnd, Splitter, type Piece } from "./pieces.ts";
import { segmentStarts, sentenceSegmenter, wordSegmenter } from "./segmentation.ts";
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
