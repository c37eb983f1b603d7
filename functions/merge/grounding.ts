/**
 * Grounding: where an extracted value is in the text it was extracted from. A value is looked for exactly first, then
 * in normalised forms (case, whitespace, Unicode compatibility forms, words hyphenated across lines; numbers and
 * amounts in their common written forms; dates in their common written forms), then fuzzily (the value's tokens
 * aligned with a window of the text's tokens). The result is a span of the text in UTF-16 code units, so that
 * `text.slice(charStart, charEnd)` is the quote.
 *
 * Pure and synchronous: the merge and the grounding tool run the same code. Pages and boxes are the caller's: it
 * maps the span to its page and to the positions it knows (text items of the PDF, OCR word boxes).
 */
import { editDistance } from "../shared/edit-distance.ts";

export type GroundingMatch = "exact" | "normalised" | "fuzzy" | "none";

export type Grounding =
  | { match: "exact" | "normalised" | "fuzzy"; charStart: number; charEnd: number; /** 0–1, 1 for exact and normalised. */ score: number }
  | { match: "none" };

/** Fuzzy matches below this share of the value's characters in aligned tokens are not matches. */
export const FUZZY_THRESHOLD = 0.8;

/** Shortest value looked for fuzzily: short values match by chance. */
const MIN_FUZZY_LENGTH = 6;

/** Locates `value` (a string, number or ISO date) in `text`. */
export function locateValue(value: string | number, text: string): Grounding {
  const wanted = typeof value === "number" ? String(value) : value.trim();
  if (wanted === "") return { match: "none" };

  const exact = text.indexOf(wanted);
  if (exact >= 0) return { match: "exact", charStart: exact, charEnd: exact + wanted.length, score: 1 };

  const normalised = findNormalised(wanted, text);
  if (normalised) return { match: "normalised", ...normalised, score: 1 };

  const number = typeof value === "number" ? value : parseNumber(wanted);
  if (number !== undefined) {
    const span = findNumber(number, text);
    if (span) return { match: "normalised", ...span, score: 1 };
  }
  const date = isoDate(wanted);
  if (date !== undefined) {
    const span = findDate(date, text);
    if (span) return { match: "normalised", ...span, score: 1 };
  }
  return findFuzzy(wanted, text) ?? { match: "none" };
}

// ---------------------------------------------------------------------------------------------------------------------
// Normalised text with a map back to the original offsets.

interface MappedText {
  text: string;
  /** For each character of `text`, the offset in the original of the character it came from. */
  origin: number[];
}

/**
 * Lower case, NFKC per character, whitespace runs as one space, a hyphen at a line end joined to the next line's word
 * ("invoi-\nce" reads "invoice"), and every character mapped back to where it was.
 */
export function normaliseMapped(source: string): MappedText {
  let text = "";
  const origin: number[] = [];
  let lastSpace = true;
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === "-" && /^-[^\S\n]*\n\s*/.test(source.slice(i, i + 8)) && /\p{L}/u.test(source[i - 1] ?? "")) {
      // Hyphenated across a line: skip the hyphen and the line break.
      const skip = /^-[^\S\n]*\n\s*/.exec(source.slice(i))![0].length;
      i += skip - 1;
      continue;
    }
    if (/\s/.test(char)) {
      if (!lastSpace) {
        text += " ";
        origin.push(i);
      }
      lastSpace = true;
      continue;
    }
    lastSpace = false;
    for (const folded of char.normalize("NFKC").toLowerCase()) {
      text += folded;
      origin.push(i);
    }
  }
  if (text.endsWith(" ")) {
    text = text.slice(0, -1);
    origin.pop();
  }
  return { text, origin };
}

/** The original span of normalised characters [start, end). */
function originalSpan(mapped: MappedText, start: number, end: number): { charStart: number; charEnd: number } {
  const charStart = mapped.origin[start]!;
  const last = mapped.origin[end - 1]!;
  return { charStart, charEnd: last + 1 };
}

function findNormalised(wanted: string, text: string): { charStart: number; charEnd: number } | undefined {
  const needle = normaliseMapped(wanted).text;
  if (needle === "") return undefined;
  const haystack = normaliseMapped(text);
  const at = haystack.text.indexOf(needle);
  return at < 0 ? undefined : originalSpan(haystack, at, at + needle.length);
}

// ---------------------------------------------------------------------------------------------------------------------
// Numbers and amounts: 1,234.50 / 1.234,50 / 1 234,50 / 1234.5 / -12 / (12.00).

/** Number-like runs of a text: digits with group and decimal separators. */
const NUMBER_RUN = /[-−]?\d{1,3}(?:[ ,.\u00A0\u202F'’]\d{3})*(?:[.,]\d+)?|[-−]?\d+(?:[.,]\d+)?/g;

/**
 * The numbers a written number can mean: "1,234.50" → 1234.5; "1.234,50" → 1234.5; "1,5" → 1.5; "1.234.567" →
 * 1234567; "1,500" → 1500 or 1.5 (both kept: the text does not say which).
 */
export function readingsOfNumber(written: string): number[] {
  const sign = /^[-−]/.test(written) ? -1 : 1;
  const body = written.replace(/^[-−]/, "").replace(/[ \u00A0\u202F'’]/g, "");
  const readings = new Set<number>();
  const lastDot = body.lastIndexOf(".");
  const lastComma = body.lastIndexOf(",");
  const asDecimal = (decimalMark: "." | ",") => {
    const group = decimalMark === "." ? /,/g : /\./g;
    const value = Number(body.replace(group, "").replace(decimalMark, "."));
    if (Number.isFinite(value)) readings.add(sign * value);
  };
  const separators = (body.match(/[.,]/g) ?? []).length;
  if (lastDot >= 0 && lastComma >= 0) asDecimal(lastDot > lastComma ? "." : ",");
  else if (lastDot >= 0 || lastComma >= 0) {
    const mark = lastDot >= 0 ? "." : ",";
    // One separator followed by exactly three digits can group thousands or mark decimals; anything else says which.
    const decimalsAfter = body.length - 1 - Math.max(lastDot, lastComma);
    if (separators > 1) asDecimal(mark === "." ? "," : ".");
    else if (decimalsAfter === 3) {
      asDecimal(".");
      asDecimal(",");
    } else asDecimal(mark);
  } else asDecimal(".");
  return [...readings];
}

/** A string that is only a number (an amount as text: "1.234,50", "EUR 12") parsed; undefined when it is not one. */
function parseNumber(wanted: string): number | undefined {
  // Digits, perhaps with a currency symbol or code before or after: "12.50", "€ 12,50", "12.50 EUR".
  const match = /^(?:\p{Sc}|[A-Z]{3})?\s?([-−]?\d[\d ,.\u00A0\u202F'’]*?)\s?(?:\p{Sc}|[A-Z]{3})?$/u.exec(wanted);
  if (!match) return undefined;
  const readings = readingsOfNumber(match[1]!.trim());
  return readings.length === 1 ? readings[0] : undefined;
}

function findNumber(value: number, text: string): { charStart: number; charEnd: number } | undefined {
  for (const match of text.matchAll(NUMBER_RUN)) {
    if (readingsOfNumber(match[0]).some((reading) => Math.abs(reading - value) < 1e-9 * Math.max(1, Math.abs(value)))) {
      return { charStart: match.index, charEnd: match.index + match[0].length };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// Dates: 2024-03-01 / 01/03/2024 / 03/01/2024 / 1 March 2024 / March 1, 2024 / 1. März 2024 (English month names).

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** The ISO date (YYYY-MM-DD) a value spells, when it is one. */
function isoDate(wanted: string): string | undefined {
  return /^\d{4}-\d{2}-\d{2}$/.test(wanted) ? wanted : undefined;
}

const DATE_PATTERNS: Array<{ pattern: RegExp; readings: (m: RegExpExecArray) => Array<[number, number, number]> }> = [
  // 2024-03-01, 2024/03/01, 2024.03.01
  { pattern: /\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b/g, readings: (m) => [[+m[1]!, +m[2]!, +m[3]!]] },
  // 01/03/2024, 1.3.2024, 03-01-24: day first or month first (the text does not say which)
  {
    pattern: /\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\b/g,
    readings: (m) => {
      const year = m[3]!.length === 2 ? 2000 + +m[3]! : +m[3]!;
      return [
        [year, +m[2]!, +m[1]!],
        [year, +m[1]!, +m[2]!],
      ];
    },
  },
  // 1 March 2024, 1. March 2024, 1st Mar 2024
  {
    pattern: /\b(\d{1,2})(?:st|nd|rd|th)?\.?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b/g,
    readings: (m) => monthReading(m[2]!, (month) => [+m[3]!, month, +m[1]!]),
  },
  // March 1, 2024
  {
    pattern: /\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b/g,
    readings: (m) => monthReading(m[1]!, (month) => [+m[3]!, month, +m[2]!]),
  },
];

function monthReading(name: string, make: (month: number) => [number, number, number]): Array<[number, number, number]> {
  const month = MONTHS.indexOf(name.slice(0, 3).toLowerCase());
  return month < 0 ? [] : [make(month + 1)];
}

function findDate(iso: string, text: string): { charStart: number; charEnd: number } | undefined {
  const [year, month, day] = iso.split("-").map(Number) as [number, number, number];
  for (const { pattern, readings } of DATE_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      if (readings(match as RegExpExecArray).some(([y, m, d]) => y === year && m === month && d === day)) {
        return { charStart: match.index, charEnd: match.index + match[0].length };
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// Fuzzy: the value's tokens aligned with a window of the text's tokens.

function findFuzzy(wanted: string, text: string): Grounding | undefined {
  const needle = normaliseMapped(wanted).text;
  if (needle.length < MIN_FUZZY_LENGTH) return undefined;
  const haystack = normaliseMapped(text);
  // Tokens from their first to their last letter or digit: "gmbh," aligns with "gmbh".
  const tokens = [...haystack.text.matchAll(/[\p{L}\p{N}](?:\S*[\p{L}\p{N}])?/gu)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  const count = needle.split(" ").length;
  let best: { score: number; start: number; end: number } | undefined;
  for (let i = 0; i + count <= tokens.length; i++) {
    const window = haystack.text.slice(tokens[i]!.start, tokens[i + count - 1]!.end);
    if (Math.abs(window.length - needle.length) > needle.length * (1 - FUZZY_THRESHOLD)) continue;
    const score = 1 - editDistance(window, needle) / Math.max(window.length, needle.length);
    if (score >= FUZZY_THRESHOLD && (best === undefined || score > best.score)) {
      best = { score, start: tokens[i]!.start, end: tokens[i + count - 1]!.end };
    }
  }
  if (!best) return undefined;
  return { match: "fuzzy", ...originalSpan(haystack, best.start, best.end), score: Math.round(best.score * 1000) / 1000 };
}
