import { jsonLeafSpans } from "./json-leaf-spans.ts";

/**
 * The model's own confidence in each value it wrote: the probabilities llama.cpp gave the tokens it chose (read while
 * generating), mapped onto the answer's characters and then onto the JSON values those characters spell.
 */

/** Text of `tokens`, continuing after `lastTokens` (node-llama-cpp's `model.detokenize(tokens, false, lastTokens)`). */
export type Detokenize<T> = (tokens: readonly T[], lastTokens?: readonly T[]) => string;

/** [start, end) in UTF-16 code units of the detokenized answer. */
export type CharSpan = readonly [start: number, end: number];

// Tokens of context node-llama-cpp's detokenizer looks at (leading-space rules); a few more cost nothing.
const detokenizeContextTokens = 4;
const replacementCharacter = "\uFFFD";

/**
 * Each token's span in `detokenize(tokens)`. Detokenized one at a time (with the tokens before it as context) and
 * laid end to end; byte tokens that only together make a character (UTF-8 split across tokens) are detokenized as a
 * group and share its span. If the pieces do not add up to the whole text (a detokenizer whose output depends on
 * more than a few tokens of context), every prefix is detokenized instead: exact, and quadratic.
 */
export function tokenCharSpans<T>(tokens: readonly T[], detokenize: Detokenize<T>): CharSpan[] {
  const whole = detokenize(tokens);
  const spans: CharSpan[] = [];
  let laidOut = "";
  let groupStart = 0;
  for (let i = 0; i < tokens.length; i++) {
    const piece = detokenize(tokens.slice(groupStart, i + 1), tokens.slice(Math.max(0, groupStart - detokenizeContextTokens), groupStart));
    // An incomplete UTF-8 sequence detokenizes to U+FFFD: wait for the token that completes it.
    if (piece.endsWith(replacementCharacter) && i < tokens.length - 1) continue;
    for (let j = groupStart; j <= i; j++) spans.push([laidOut.length, laidOut.length + piece.length]);
    laidOut += piece;
    groupStart = i + 1;
  }
  if (laidOut === whole) return spans;
  return tokenCharSpansByPrefix(tokens, detokenize, whole);
}

/**
 * The exact fallback: token i ends where `detokenize(tokens[0..i])` stops agreeing with the whole text. A prefix that
 * ends inside a character (part of its UTF-8 bytes) touches that character, so the token's span includes it.
 */
export function tokenCharSpansByPrefix<T>(tokens: readonly T[], detokenize: Detokenize<T>, whole = detokenize(tokens)): CharSpan[] {
  const spans: CharSpan[] = [];
  let boundary = 0;
  for (let i = 0; i < tokens.length; i++) {
    const prefix = detokenize(tokens.slice(0, i + 1));
    const agreed = commonPrefixLength(prefix, whole);
    const touched = agreed < prefix.length && agreed < whole.length ? agreed + codePointLength(whole, agreed) : agreed;
    spans.push([boundary, Math.max(boundary, touched)]);
    boundary = Math.max(boundary, agreed);
  }
  return spans;
}

/**
 * Per scalar leaf of the JSON answer `text` (path in the item's notation): the geometric mean of the probabilities of
 * the tokens that overlap the value, rounded to 4 digits. A string's value is what lies between its quotes, so a token
 * that holds only a quote does not count, one that straddles a quote does; an empty string counts its quotes (the
 * model's choice to close it at once). `spans` are the tokens' spans in `text` (tokenCharSpans), `probabilities` the
 * chosen tokens' probabilities in the same order; a token without a finite probability is left out, and a value
 * without any token is left out.
 */
export function valueConfidences(text: string, spans: readonly CharSpan[], probabilities: readonly number[]): Record<string, number> {
  const confidences: Record<string, number> = {};
  let first = 0;
  for (const leaf of jsonLeafSpans(text)) {
    let { start, end } = leaf;
    if (leaf.type === "string" && end - start > 2) {
      start++;
      end--;
    }
    // Leaves come in text order and do not overlap: tokens ending at or before this one's start never matter again.
    while (first < spans.length && spans[first]![1] <= start) first++;
    let logSum = 0;
    let count = 0;
    for (let i = first; i < spans.length && spans[i]![0] < end; i++) {
      const [tokenStart, tokenEnd] = spans[i]!;
      const probability = probabilities[i];
      if (tokenEnd <= tokenStart || tokenEnd <= start || probability === undefined || !Number.isFinite(probability)) continue;
      logSum += Math.log(Math.min(1, Math.max(0, probability)));
      count++;
    }
    if (count > 0) confidences[leaf.path] = Math.round(Math.exp(logSum / count) * 1e4) / 1e4;
  }
  return confidences;
}

function commonPrefixLength(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function codePointLength(text: string, at: number): number {
  return (text.codePointAt(at) ?? 0) > 0xffff ? 2 : 1;
}
