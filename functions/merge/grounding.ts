/**
 * Grounding: where an extracted value is in the text it was extracted from. A value is looked for exactly first (at
 * word boundaries), then in normalised forms (case, whitespace, Unicode compatibility forms, quotation marks, words
 * hyphenated across lines), then in other readings of it: a company's legal form abbreviated or in full, without a
 * leading "#" or "No.", a currency code as its symbol, an identifier with its groups written apart, its lines or its
 * label and value in another order, a number or amount in its written forms, a date in its written forms (month names
 * in English, Dutch, French, German and Spanish; ranges within a month), then fuzzily (the value's tokens aligned with
 * a window of the text's tokens; not for a number, nor a value that starts with a digit). The result is a span of the text in UTF-16 code units, so that
 * `text.slice(charStart, charEnd)` is the quote.
 *
 * `groundValue` does it for a value of a document: within the spans of the chunks the value came from, on the
 * document layout the chunk step wrote (functions/shared/contracts.ts DocumentLayout), and maps the quote to its page
 * and to the boxes of the runs (text items, OCR'd words) that draw it.
 *
 * Pure and synchronous: the merge and the grounding tool (`npm run ground`) run the same code.
 */
import type { DocumentLayout, LayoutPage, LayoutRun } from "../shared/contracts.ts";
import type { FieldGrounding, PageBox } from "../shared/document-item.ts";
import { editDistanceWithin } from "../shared/edit-distance.ts";

export type GroundingMatch = "exact" | "normalised" | "fuzzy" | "none";

export type Grounding =
  | { match: "exact" | "normalised" | "fuzzy"; charStart: number; charEnd: number; /** 0–1, 1 for exact and normalised. */ score: number }
  | { match: "none" };

/** Fuzzy matches below this share of the value's characters in aligned tokens are not matches. */
export const FUZZY_THRESHOLD = 0.8;

/** Shortest value looked for fuzzily: short values match by chance. */
const MIN_FUZZY_LENGTH = 6;

/** Longest quote an item keeps (FieldGrounding.quote). */
export const MAX_QUOTE_LENGTH = 200;

/** Locates `value` (a string, number or ISO date) in `text`. */
export function locateValue(value: string | number, text: string): Grounding {
  return locate(value, new SearchText(text)).grounding;
}

/**
 * How good a match is, best first: as written at word boundaries; normalised at word boundaries; another reading of
 * the value (without its "#", a currency's symbol, a number or date in another written form); as written or
 * normalised inside a longer word; fuzzy. A value found in several places is taken where it matches best.
 */
const Rank = { Exact: 0, Normalised: 1, Reading: 2, InsideWord: 3, Fuzzy: 4, None: 5 } as const;
type Rank = (typeof Rank)[keyof typeof Rank];

interface Located {
  grounding: Grounding;
  rank: Rank;
}

/**
 * A text to search, with what searching it needs computed once, on first use: the merge grounds many values in the
 * same chunks.
 */
class SearchText {
  private mapped: MappedText | undefined;
  private tokenList: Array<{ start: number; end: number }> | undefined;
  private alnum: MappedText | undefined;
  private numberList: WrittenNumber[] | undefined;
  private dateList: WrittenDate[] | undefined;

  constructor(readonly text: string) {}

  get normalised(): MappedText {
    this.mapped ??= normaliseMapped(this.text);
    return this.mapped;
  }

  /** The text's written numbers, each with the values it can mean, in text order. */
  get numbers(): WrittenNumber[] {
    this.numberList ??= writtenNumbers(this.text);
    return this.numberList;
  }

  /** The text's written dates, each with the dates it can mean: single dates first, then ranges, each in text order. */
  get dates(): WrittenDate[] {
    this.dateList ??= writtenDates(this.text);
    return this.dateList;
  }

  /** Only the letters and digits of the text, lower case, mapped back. */
  get alphanumeric(): MappedText {
    if (this.alnum === undefined) {
      const origin: number[] = [];
      const units: number[] = [];
      for (let i = 0; i < this.text.length; i++) {
        const code = this.text.charCodeAt(i);
        if (code < 0x80) {
          if ((code >= 48 && code <= 57) || (code >= 97 && code <= 122)) units.push(code);
          else if (code >= 65 && code <= 90) units.push(code + 32);
          else continue;
          origin.push(i);
          continue;
        }
        const char = this.text[i]!;
        if (!WORD_CHAR.test(char)) continue;
        const lower = char.toLowerCase();
        for (let u = 0; u < lower.length; u++) {
          units.push(lower.charCodeAt(u));
          origin.push(i);
        }
      }
      this.alnum = { text: decodeUnits(units), origin };
    }
    return this.alnum;
  }

  /** Tokens of the normalised text, from their first to their last letter or digit: "gmbh," aligns with "gmbh". */
  get tokens(): Array<{ start: number; end: number }> {
    this.tokenList ??= [...this.normalised.text.matchAll(/[\p{L}\p{N}](?:\S*[\p{L}\p{N}])?/gu)].map((m) => ({
      start: m.index,
      end: m.index + m[0].length,
    }));
    return this.tokenList;
  }
}

function found(match: "exact" | "normalised", rank: Rank, span: { charStart: number; charEnd: number }): Located {
  return { grounding: { match, ...span, score: 1 }, rank };
}

const NONE: Located = { grounding: { match: "none" }, rank: Rank.None };

function locate(value: string | number, source: SearchText): Located {
  const wanted = typeof value === "number" ? String(value) : value.trim();
  if (wanted === "") return NONE;
  const { text } = source;
  const numeric = typeof value === "number" || /^[-−]?\d/.test(wanted);

  const exact = findBounded(text, wanted, 0);
  if (exact) return found("exact", Rank.Exact, exact);
  const number = typeof value === "number" ? value : parseNumber(wanted);
  // A number or an ISO date in another written form ("6512,92" written "6.512,92", 2024-03-05 as "5 March 2024") is
  // looked for before the normalised text is built: building that costs more than the whole number or date search.
  if (number !== undefined) {
    const span = findNumber(number, source);
    if (span) return found("normalised", Rank.Reading, span);
  }
  const date = isoDate(wanted);
  if (date !== undefined) {
    const span = findDate(date, source);
    if (span) return found("normalised", Rank.Reading, span);
  }

  const needle = normaliseMapped(wanted).text;
  const normalised = needle === "" ? undefined : findNormalised(source, needle);
  if (normalised) return found("normalised", Rank.Normalised, normalised);

  for (const reading of readingsOfValue(wanted)) {
    const span = findReading(source, reading);
    if (span) return found("normalised", Rank.Reading, span);
  }
  if (number === undefined || Number.isInteger(number)) {
    const span = findIdentifier(source, wanted);
    if (span) return found("normalised", Rank.Reading, span);
  }
  const parts = findParts(source, wanted);
  if (parts) return found("normalised", Rank.Reading, parts);
  // Inside a longer word: "ACME" in "ACMECorp". Never for a number: "21" in "2014" is not the number 21.
  if (!numeric) {
    const at = text.indexOf(wanted);
    if (at >= 0) return found("exact", Rank.InsideWord, { charStart: at, charEnd: at + wanted.length });
    const inside = needle === "" ? -1 : source.normalised.text.indexOf(needle);
    if (inside >= 0) return found("normalised", Rank.InsideWord, originalSpan(source.normalised, inside, inside + needle.length));
  }
  // A number is found in one of its written forms or not at all: 12,345.62 is no fuzzy match for 12,345.67.
  if (numeric) return NONE;
  const fuzzy = findFuzzy(needle, source);
  return fuzzy ? { grounding: fuzzy, rank: Rank.Fuzzy } : NONE;
}

// ---------------------------------------------------------------------------------------------------------------------
// Word boundaries: a value that starts or ends with a letter or digit is found only where the text's neighbouring
// character is not one ("GB" is not found in "GBP"); a number is not found inside a longer number ("21" in "3.21").

const WORD_CHAR = /[\p{L}\p{N}]/u;
const DIGIT = /\p{N}/u;

function isBoundedAt(text: string, start: number, end: number): boolean {
  const first = text[start] ?? "";
  const last = text[end - 1] ?? "";
  const before = text[start - 1] ?? "";
  const after = text[end] ?? "";
  if (WORD_CHAR.test(first) && WORD_CHAR.test(before)) return false;
  if (WORD_CHAR.test(last) && WORD_CHAR.test(after)) return false;
  // A digit next to a decimal or group mark that continues a number: "3.21" holds no 21, "399,00" no 399.
  if (DIGIT.test(first) && /[.,]/.test(before) && DIGIT.test(text[start - 2] ?? "")) return false;
  if (DIGIT.test(last) && /[.,'’]/.test(after) && DIGIT.test(text[end + 1] ?? "")) return false;
  return true;
}

/** First occurrence of `needle` in `text` from `from` at word boundaries. */
function findBounded(text: string, needle: string, from: number): { charStart: number; charEnd: number } | undefined {
  for (let at = text.indexOf(needle, from); at >= 0; at = text.indexOf(needle, at + 1)) {
    if (isBoundedAt(text, at, at + needle.length)) return { charStart: at, charEnd: at + needle.length };
  }
  return undefined;
}

function findNormalised(source: SearchText, needle: string): { charStart: number; charEnd: number } | undefined {
  const haystack = source.normalised;
  const span = findBounded(haystack.text, needle, 0);
  return span === undefined ? undefined : originalSpan(haystack, span.charStart, span.charEnd);
}

// ---------------------------------------------------------------------------------------------------------------------
// Normalised text with a map back to the original offsets.

interface MappedText {
  text: string;
  /** For each character of `text`, the offset in the original of the character it came from. */
  origin: number[];
}

const HYPHEN_AT_LINE_END = /^-[^\S\n]*\n\s*/;

/** Quotation marks, primes and apostrophes as the two ASCII marks (by UTF-16 code): fonts and OCR write them every way. */
const QUOTE_MARKS = new Map<number, number>([
  ..."'‘’‚‛′ʼ`´".split("").map((mark) => [mark.charCodeAt(0), 39] as const),
  ...'"“”„‟″'.split("").map((mark) => [mark.charCodeAt(0), 34] as const),
]);

/**
 * Lower case, NFKC per character, whitespace runs as one space, a hyphen at a line end joined to the next line's word
 * ("invoi-\nce" reads "invoice"), quotation marks as `'` and `"` (`''` as `"`), and every character mapped back to
 * where it was.
 */
export function normaliseMapped(source: string): MappedText {
  // Built as UTF-16 code units and decoded once: appending to a string per character was most of grounding's time.
  const units: number[] = [];
  const origin: number[] = [];
  let lastSpace = true;
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code < 0x80) {
      if (code === 32 || (code >= 9 && code <= 13)) {
        if (!lastSpace) {
          units.push(32);
          origin.push(i);
        }
        lastSpace = true;
        continue;
      }
      if (code === 45 /* - */ && i > 0 && /\p{L}/u.test(source[i - 1]!)) {
        const skip = HYPHEN_AT_LINE_END.exec(source.slice(i, i + 64));
        if (skip) {
          // Hyphenated across a line: skip the hyphen and the line break.
          i += skip[0].length - 1;
          continue;
        }
      }
    } else if (/\s/.test(source[i]!)) {
      if (!lastSpace) {
        units.push(32);
        origin.push(i);
      }
      lastSpace = true;
      continue;
    }
    lastSpace = false;
    const quote = QUOTE_MARKS.get(code);
    if (quote !== undefined) {
      // Two apostrophes typed for an inch or quotation mark read as one double quote.
      const doubled = quote === 39 && QUOTE_MARKS.get(source.charCodeAt(i + 1)) === 39;
      if (doubled) i++;
      units.push(doubled ? 34 : quote);
      origin.push(i);
      continue;
    }
    if (code < 0x80) {
      // ASCII needs no compatibility mapping, only case folding (most of a document's text: no normalize()).
      units.push(code >= 65 && code <= 90 ? code + 32 : code);
      origin.push(i);
      continue;
    }
    const folded = source[i]!.normalize("NFKC").toLowerCase();
    for (let u = 0; u < folded.length; u++) {
      units.push(folded.charCodeAt(u));
      origin.push(i);
    }
  }
  if (units.at(-1) === 32) {
    units.pop();
    origin.pop();
  }
  return { text: decodeUnits(units), origin };
}

/** A string from UTF-16 code units, decoded in slices (an argument list has a size limit). */
function decodeUnits(units: readonly number[]): string {
  let text = "";
  for (let at = 0; at < units.length; at += 8192) text += String.fromCharCode(...units.slice(at, at + 8192));
  return text;
}

/** The original span of normalised characters [start, end). */
function originalSpan(mapped: MappedText, start: number, end: number): { charStart: number; charEnd: number } {
  const charStart = mapped.origin[start]!;
  const last = mapped.origin[end - 1]!;
  return { charStart, charEnd: last + 1 };
}

// ---------------------------------------------------------------------------------------------------------------------
// Other readings of a value: a company's legal form abbreviated or in full; without a leading "#" or "No."; a currency
// code as its symbols, a symbol as its codes.

/**
 * Currency codes (ISO 4217) and the symbols or abbreviations invoices write for them. A symbol shared by several
 * currencies ("$", "kr") reads as each of them: the document, not the value, says which it is.
 */
const CURRENCY_SIGNS: Readonly<Record<string, readonly string[]>> = {
  EUR: ["€", "euro", "euros"],
  USD: ["$", "us$", "us dollar"],
  GBP: ["£", "pound sterling"],
  INR: ["₹", "rs.", "rs", "rupees"],
  JPY: ["¥", "円"],
  CNY: ["¥", "元", "rmb"],
  CHF: ["fr.", "sfr."],
  PLN: ["zł"],
  SEK: ["kr"],
  NOK: ["kr"],
  DKK: ["kr."],
  CZK: ["kč"],
  HUF: ["ft"],
  KRW: ["₩"],
  RUB: ["₽", "руб."],
  TRY: ["₺"],
  BRL: ["r$"],
  AUD: ["a$", "$"],
  CAD: ["c$", "$"],
  NZD: ["nz$", "$"],
  HKD: ["hk$", "$"],
  SGD: ["s$", "$"],
  MXN: ["mx$", "$"],
  ILS: ["₪"],
  THB: ["฿"],
  VND: ["₫"],
  NGN: ["₦"],
  UAH: ["₴"],
  PHP: ["₱"],
  ZAR: ["r"],
};

/**
 * Company legal forms: abbreviations and what they stand for. A name is written with either ("ORLEN S.A." for
 * "ORLEN spółka akcyjna"), so a name ending with one is also looked for ending with the others of its line.
 */
const LEGAL_FORMS: ReadonlyArray<readonly string[]> = [
  ["S.A.", "SA", "spółka akcyjna", "société anonyme", "sociedad anónima", "sociedade anónima"],
  ["B.V.", "BV", "besloten vennootschap"],
  ["N.V.", "NV", "naamloze vennootschap"],
  ["GmbH", "Gesellschaft mit beschränkter Haftung"],
  ["AG", "Aktiengesellschaft"],
  ["Ltd.", "Ltd", "Limited"],
  ["Inc.", "Inc", "Incorporated"],
  ["Corp.", "Corp", "Corporation"],
  ["Co.", "Company"],
  ["LLC", "L.L.C.", "Limited Liability Company"],
  ["PLC", "Public Limited Company"],
  ["Sp. z o.o.", "spółka z ograniczoną odpowiedzialnością"],
  ["S.A.S.", "SAS", "société par actions simplifiée"],
  ["SARL", "S.à r.l.", "société à responsabilité limitée"],
  ["S.L.", "SL", "sociedad limitada"],
  ["S.r.l.", "Srl", "società a responsabilità limitata"],
  ["S.p.A.", "SpA", "società per azioni"],
];

/** The name with its legal form written the other ways ("X S.A." → "X spółka akcyjna", ...). */
function otherLegalForms(wanted: string): string[] {
  const lower = wanted.toLowerCase();
  for (const forms of LEGAL_FORMS) {
    for (const form of forms) {
      const suffix = ` ${form.toLowerCase()}`;
      if (!lower.endsWith(suffix)) continue;
      const name = wanted.slice(0, wanted.length - suffix.length);
      return forms.filter((other) => other !== form).map((other) => `${name} ${other}`);
    }
  }
  return [];
}

/** The other readings of a value, in the order they are tried. */
export function readingsOfValue(wanted: string): string[] {
  const readings: string[] = otherLegalForms(wanted);
  const unprefixed = wanted.replace(/^(?:#\s*|n[o°º](?:\.\s*|\s+)|nr(?:\.\s*|\s+))(?=[\p{L}\p{N}])/iu, "");
  if (unprefixed !== wanted) readings.push(unprefixed);
  const code = wanted.toUpperCase();
  if (/^[A-Z]{3}$/.test(code) && CURRENCY_SIGNS[code]) readings.push(...CURRENCY_SIGNS[code]);
  const lower = wanted.toLowerCase();
  for (const [currency, signs] of Object.entries(CURRENCY_SIGNS)) {
    // Symbols only: "rs" or "r" alone is a word, not a currency.
    if (!/^[\p{L}.]+$/u.test(lower) && signs.includes(lower)) readings.push(currency);
  }
  return [...new Set(readings)];
}

function findReading(source: SearchText, reading: string): { charStart: number; charEnd: number } | undefined {
  const exact = findBounded(source.text, reading, 0);
  if (exact) return exact;
  const needle = normaliseMapped(reading).text;
  return needle === "" ? undefined : findNormalised(source, needle);
}

// ---------------------------------------------------------------------------------------------------------------------
// Identifiers with their groups written apart: "FR60421938861" as "FR 604 219 388 61", "7740001454" as
// "774-00-01-454", "NL815254295B01" as "NL8152.54.295.B01", an IBAN in groups of four.

/** Shortest identifier (letters and digits, at least one digit) looked for with its groups apart: short ones match by chance. */
const MIN_IDENTIFIER_LENGTH = 6;
/** What may separate an identifier's groups. */
const IDENTIFIER = /^[\p{L}\p{N}](?:[\p{L}\p{N}]|[ \-./](?=[\p{L}\p{N}]))*$/u;

function findIdentifier(source: SearchText, wanted: string): { charStart: number; charEnd: number } | undefined {
  if (!IDENTIFIER.test(wanted)) return undefined;
  const needle = wanted.replace(/[ \-./]/g, "").toLowerCase();
  if (needle.length < MIN_IDENTIFIER_LENGTH || !/\p{N}/u.test(needle)) return undefined;
  const digitsOnly = /^\d+$/.test(needle);
  const alnum = source.alphanumeric;
  for (let at = alnum.text.indexOf(needle); at >= 0; at = alnum.text.indexOf(needle, at + 1)) {
    const span = originalSpan(alnum, at, at + needle.length);
    const written = source.text.slice(span.charStart, span.charEnd);
    // Digits alone with a dot between are a decimal number ("1234.56" is no 123456).
    if (digitsOnly && written.includes(".")) continue;
    if (IDENTIFIER.test(written) && isBoundedAt(source.text, span.charStart, span.charEnd)) return span;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// A value in parts drawn in another order: the lines of a table cell ("line 1\nline 2" where the PDF draws line 2
// first), or a label and its value ("Ordernummer: 12572103" where the text has "12572103 Ordernummer:"). Every part
// must be found, at word boundaries, close together: within 1.5 times the value's length (plus 20 characters).

/** Most occurrences of a part considered: a part found more often is too common to place the value. */
const MAX_PART_OCCURRENCES = 50;

export function partsOfValue(wanted: string): string[] {
  const lines = wanted
    .split(/\n+/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (lines.length > 1) return lines;
  const labelled = /^([^:\n]{1,40}:)\s+(\S.*)$/u.exec(wanted);
  return labelled ? [labelled[1]!, labelled[2]!] : [];
}

function findParts(source: SearchText, wanted: string): { charStart: number; charEnd: number } | undefined {
  const parts = partsOfValue(wanted).map((part) => normaliseMapped(part).text);
  if (parts.length < 2 || parts.some((part) => part === "")) return undefined;
  const haystack = source.normalised.text;
  const occurrences = parts.map((part) => {
    const found: number[] = [];
    for (let at = haystack.indexOf(part); at >= 0 && found.length <= MAX_PART_OCCURRENCES; at = haystack.indexOf(part, at + 1)) {
      if (isBoundedAt(haystack, at, at + part.length)) found.push(at);
    }
    return found;
  });
  if (occurrences.some((found) => found.length === 0 || found.length > MAX_PART_OCCURRENCES)) return undefined;
  const limit = 1.5 * parts.reduce((sum, part) => sum + part.length + 1, 0) + 20;
  // Anchored on the rarest part, each other part at its occurrence nearest the anchor; the tightest span wins.
  const rarest = occurrences.reduce((best, found, i) => (found.length < occurrences[best]!.length ? i : best), 0);
  let best: { start: number; end: number } | undefined;
  for (const anchor of occurrences[rarest]!) {
    let start = anchor;
    let end = anchor + parts[rarest]!.length;
    parts.forEach((part, i) => {
      if (i === rarest) return;
      const nearest = occurrences[i]!.reduce((p, q) => (Math.abs(q - anchor) < Math.abs(p - anchor) ? q : p));
      start = Math.min(start, nearest);
      end = Math.max(end, nearest + part.length);
    });
    if (end - start <= limit && (best === undefined || end - start < best.end - best.start)) best = { start, end };
  }
  return best === undefined ? undefined : originalSpan(source.normalised, best.start, best.end);
}

// ---------------------------------------------------------------------------------------------------------------------
// Numbers and amounts: 1,234.50 / 1.234,50 / 1 234,50 / 1'234.50 / 1234.5 / -12 / (12.00).

/** Number-like runs of a text: digits with group and decimal separators (a space, an apostrophe or a mark groups). */
const NUMBER_RUN = /[-−]?\d{1,3}(?:[ ,.\u00A0\u202F'’]\d{3})+(?:[.,]\d+)?|[-−]?\d+(?:[.,]\d+)?/g;
/** The same without spaces grouping: in a table row "1 399,00" is a quantity and a price as often as one amount. */
const NUMBER_RUN_UNSPACED = /[-−]?\d{1,3}(?:[,.'’]\d{3})+(?:[.,]\d+)?|[-−]?\d+(?:[.,]\d+)?/g;

/**
 * The numbers a written number can mean: "1,234.50" → 1234.5; "1.234,50" → 1234.5; "1,5" → 1.5; "1.234.567" →
 * 1234567; "1,500" → 1500 or 1.5 (both kept: the text does not say which); "1 234,50" and "1'234.50" group with a
 * space or an apostrophe.
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

interface WrittenNumber {
  charStart: number;
  charEnd: number;
  written: string;
  /** significantDigits(written): only numbers with the same significant digits can be one of its readings. */
  digits: string;
  /** readingsOfNumber(written), computed when its digits match a value looked for (most of a text's numbers never do). */
  readings?: number[];
}

/**
 * A number's digits without sign, separators, leading or trailing zeros: "1.234,50" and 1234.5 both give "12345".
 * Every reading of a written number is its digits with a decimal point put somewhere, so a value whose digits differ
 * cannot be one of them; the comparison is a cheap filter before the readings are worked out.
 */
function significantDigits(written: string): string {
  return written.replace(/\D+/g, "").replace(/^0+|0+$/g, "");
}

/** Every number-like run of the text at word boundaries (grouped by spaces or not), by start. */
function writtenNumbers(text: string): WrittenNumber[] {
  const numbers: WrittenNumber[] = [];
  const seen = new Set<string>();
  for (const pattern of [NUMBER_RUN, NUMBER_RUN_UNSPACED]) {
    for (const match of text.matchAll(pattern)) {
      const charEnd = match.index + match[0].length;
      const key = `${match.index}:${charEnd}`;
      if (seen.has(key) || !isBoundedAt(text, match.index, charEnd)) continue;
      seen.add(key);
      numbers.push({ charStart: match.index, charEnd, written: match[0], digits: significantDigits(match[0]) });
    }
  }
  return numbers.sort((a, b) => a.charStart - b.charStart || b.charEnd - a.charEnd);
}

function findNumber(value: number, source: SearchText): { charStart: number; charEnd: number } | undefined {
  const tolerance = 1e-9 * Math.max(1, Math.abs(value));
  const plain = String(Math.abs(value));
  // An exponent form (1e+21) has no digit string to compare: every written number is then read.
  const digits = /^\d+(?:\.\d+)?$/.test(plain) ? significantDigits(plain) : undefined;
  const written = source.numbers.find((number) => {
    if (digits !== undefined && number.digits !== digits) return false;
    number.readings ??= readingsOfNumber(number.written);
    return number.readings.some((reading) => Math.abs(reading - value) < tolerance);
  });
  return written === undefined ? undefined : { charStart: written.charStart, charEnd: written.charEnd };
}

// ---------------------------------------------------------------------------------------------------------------------
// Dates: 2024-03-01 / 01/03/2024 / 03/01/2024 / 1 March 2024 / March 1, 2024 / 1. März 2024 / 18 april 2014 /
// 1er mars 2024 / 5 de marzo de 2024 / 31-Dec-2017.

/**
 * Month names and their usual abbreviations in English, Dutch, French, German and Spanish, without diacritics
 * (a name is looked up with them removed: "März" as "marz", "février" as "fevrier"). No spelling means two months.
 */
const MONTH_NAMES: ReadonlyArray<readonly string[]> = [
  ["january", "jan", "januari", "janvier", "janv", "januar", "janner", "jan", "enero", "ene"],
  ["february", "feb", "febr", "februari", "fevrier", "fevr", "fev", "februar", "febrero"],
  ["march", "mar", "maart", "mrt", "mars", "marz", "mrz", "marzo"],
  ["april", "apr", "avril", "avr", "abril", "abr"],
  ["may", "mei", "mai", "mayo"],
  ["june", "jun", "juni", "juin", "junio"],
  ["july", "jul", "juli", "juillet", "juil", "julio"],
  ["august", "aug", "augustus", "aout", "agosto", "ago"],
  ["september", "sep", "sept", "septembre", "septiembre", "setiembre", "set"],
  ["october", "oct", "oktober", "okt", "octobre", "octubre"],
  ["november", "nov", "novembre", "noviembre"],
  ["december", "dec", "dez", "decembre", "dezember", "diciembre", "dic"],
];

const MONTHS = new Map<string, number>(MONTH_NAMES.flatMap((names, i) => names.map((name) => [name, i + 1] as const)));

/** The month (1–12) a written month name means, or undefined. */
export function monthOf(name: string): number | undefined {
  const plain = name
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/\.$/, "");
  return MONTHS.get(plain);
}

/** The ISO date (YYYY-MM-DD) a value spells, when it is one. */
function isoDate(wanted: string): string | undefined {
  return /^\d{4}-\d{2}-\d{2}$/.test(wanted) ? wanted : undefined;
}

type Ymd = [number, number, number];

/** A month name: letters, perhaps ending with an abbreviation's dot. */
const MONTH = String.raw`(\p{L}{3,10}\.?)`;
/** A day with its ordinal ending (1st, 2nd, 3rd, 4th; 1er, 1re) or a German day's dot. */
const DAY = String.raw`(\d{1,2})(?:st|nd|rd|th|er|re|e|\.)?`;
/** Not preceded or followed by a letter or digit (JavaScript's \b knows ASCII letters only). */
const START = String.raw`(?<![\p{L}\p{N}])`;
const END = String.raw`(?![\p{L}\p{N}])`;
/** What joins the two days of a range: a dash, or "to" in the five languages. */
const RANGE = String.raw`(?:[-–—]|au|to|until|bis|al|t/m|tot)`;

/** Patterns of a written date; a range's only when no single date matches: "31 Juillet 2015" over "1er au 31 Juillet 2015". */
const DATE_PATTERNS: Array<{ pattern: RegExp; readings: (m: RegExpMatchArray) => Ymd[]; range?: true }> = [
  // 2024-03-01, 2024/03/01, 2024.03.01
  { pattern: new RegExp(String.raw`${START}(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})${END}`, "gu"), readings: (m) => [[+m[1]!, +m[2]!, +m[3]!]] },
  // 01/03/2024, 1.3.2024, 03-01-24: day first or month first (the text does not say which)
  {
    pattern: new RegExp(String.raw`${START}(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})${END}`, "gu"),
    readings: (m) => {
      const year = fullYear(m[3]!);
      return [
        [year, +m[2]!, +m[1]!],
        [year, +m[1]!, +m[2]!],
      ];
    },
  },
  // 1 March 2024, 1. März 2024, 1st Mar 2024, 1er mars 2024, 5 de marzo de 2024, 31-Dec-2017, 31 Dec 17
  {
    pattern: new RegExp(String.raw`${START}${DAY}(?:\s+de|\s*[-/])?\s*${MONTH}(?:\s+de|\s*[-/])?,?\s*(\d{4}|\d{2})${END}`, "gu"),
    readings: (m) => monthReading(m[2]!, (month) => [fullYear(m[3]!), month, +m[1]!]),
  },
  // A range within a month: 1er au 31 Juillet 2015, 1-31 March 2024, del 1 al 31 de julio de 2015 (both days)
  {
    pattern: new RegExp(
      String.raw`${START}${DAY}\s*${RANGE}\s*${DAY}(?:\s+de|\s*[-/])?\s*${MONTH}(?:\s+de|\s*[-/])?,?\s*(\d{4})${END}`,
      "gu",
    ),
    readings: (m) => [
      ...monthReading(m[3]!, (month) => [+m[4]!, month, +m[1]!]),
      ...monthReading(m[3]!, (month) => [+m[4]!, month, +m[2]!]),
    ],
    range: true,
  },
  // July 1 - July 31 , 2014 (both days)
  {
    pattern: new RegExp(String.raw`${START}${MONTH}\s*${DAY}\s*${RANGE}\s*${MONTH}\s*${DAY}\s*,?\s*(\d{4})${END}`, "gu"),
    readings: (m) => [
      ...monthReading(m[1]!, (month) => [+m[5]!, month, +m[2]!]),
      ...monthReading(m[3]!, (month) => [+m[5]!, month, +m[4]!]),
    ],
    range: true,
  },
  // March 1, 2024; Dec 31 2017; marzo 5, 2024; August 3 , 2014 (a text item's space before the comma)
  {
    pattern: new RegExp(String.raw`${START}${MONTH}\s*${DAY}\s*,?\s*(\d{4})${END}`, "gu"),
    readings: (m) => monthReading(m[1]!, (month) => [+m[3]!, month, +m[2]!]),
  },
];

function fullYear(written: string): number {
  return written.length === 2 ? 2000 + +written : +written;
}

function monthReading(name: string, make: (month: number) => Ymd): Ymd[] {
  const month = monthOf(name);
  return month === undefined ? [] : [make(month)];
}

interface WrittenDate {
  charStart: number;
  charEnd: number;
  readings: Ymd[];
  range: boolean;
}

/** Every written date of the text with the dates it can mean: single dates by start, then ranges by start. */
function writtenDates(text: string): WrittenDate[] {
  const dates: WrittenDate[] = [];
  for (const { pattern, readings, range } of DATE_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const meant = readings(match);
      if (meant.length > 0) dates.push({ charStart: match.index, charEnd: match.index + match[0].length, readings: meant, range: range ?? false });
    }
  }
  return dates.sort((a, b) => Number(a.range) - Number(b.range) || a.charStart - b.charStart);
}

function findDate(iso: string, source: SearchText): { charStart: number; charEnd: number } | undefined {
  const [year, month, day] = iso.split("-").map(Number) as Ymd;
  const written = source.dates.find((date) => date.readings.some(([y, m, d]) => y === year && m === month && d === day));
  return written === undefined ? undefined : { charStart: written.charStart, charEnd: written.charEnd };
}

// ---------------------------------------------------------------------------------------------------------------------
// Fuzzy: the value's tokens aligned with a window of the text's tokens.

function findFuzzy(needle: string, source: SearchText): Grounding | undefined {
  if (needle.length < MIN_FUZZY_LENGTH) return undefined;
  const haystack = source.normalised;
  const tokens = source.tokens;
  const count = needle.split(" ").length;
  let best: { score: number; start: number; end: number } | undefined;
  for (let i = 0; i + count <= tokens.length; i++) {
    const start = tokens[i]!.start;
    const end = tokens[i + count - 1]!.end;
    if (Math.abs(end - start - needle.length) > needle.length * (1 - FUZZY_THRESHOLD)) continue;
    const window = haystack.text.slice(start, end);
    const longer = Math.max(window.length, needle.length);
    // Only distances that can reach the threshold (or beat the best so far) are computed to the end.
    const allowed = Math.floor(longer * (1 - Math.max(FUZZY_THRESHOLD, best?.score ?? 0)) + 1e-9);
    const distance = editDistanceWithin(window, needle, allowed);
    if (distance === undefined) continue;
    const score = 1 - distance / longer;
    if (score >= FUZZY_THRESHOLD && (best === undefined || score > best.score)) best = { score, start, end };
  }
  if (!best) return undefined;
  return { match: "fuzzy", ...originalSpan(haystack, best.start, best.end), score: Math.round(best.score * 1000) / 1000 };
}

// =====================================================================================================================
// Grounding a document's value: chunk spans, page, quote, boxes.

export interface GroundedValue {
  grounding: FieldGrounding;
  /** Mean word confidence (0–100) of the OCR'd words under the quote, when its page was OCR'd. */
  ocrConfidence?: number;
}

/**
 * Grounds `value` in the document: looks for it (locateValue) within the span of each chunk it came from
 * (`chunkIndexes`, its provenance), keeps the best match (earliest on ties), and gives its page, its span in the
 * document text, its quote and the boxes that draw it. `match: "none"` when no chunk holds it.
 *
 * Boxes: the quote is found again in its page's runs (text items, OCR'd words), both compared without spaces,
 * punctuation, case or diacritics; when the quote occurs several times on the page, the same occurrence as in the
 * page's text is taken. A run only partly in the quote gets its box cut along x in proportion to its characters (an
 * approximation: glyphs differ in width, and a vertical run is cut across its height). A quote over two pages has
 * boxes on both; a page without runs (a text upload) gives none.
 */
/** How many of a value's chunks (the first, in page order) are searched for its other written forms and fuzzily. */
export const MAX_LADDER_CHUNKS = 4;

/**
 * `near`: a span of the document text the value is expected close to (a list item's first field found: the quantity 1
 * of the third line is the 1 on that line, not the first 1 of the chunk). Without it, the first occurrence.
 */
export function groundValue(
  value: string | number,
  layout: DocumentLayout,
  chunkIndexes: readonly number[],
  near?: { charStart: number; charEnd: number },
): GroundedValue {
  const index = indexOf(layout);
  const inPageOrder = [...new Set(chunkIndexes)].sort((a, b) => a - b);
  let best: (Located & { offset: number }) | undefined;
  // As written first, in every chunk the value came from, in page order: a plain search, cheap on any number of chunks.
  const wanted = typeof value === "number" ? String(value) : value.trim();
  for (const chunk of wanted === "" ? [] : inPageOrder.flatMap((chunkIndex) => index.plainChunk(chunkIndex) ?? [])) {
    let exact = findBounded(chunk.text, wanted, 0);
    if (exact && near !== undefined) {
      // The occurrence nearest to the `near` span (0 inside it), in this chunk.
      const distance = (span: { charStart: number }) => {
        const at = chunk.charStart + span.charStart;
        return Math.max(0, near.charStart - at, at - near.charEnd);
      };
      for (let next = findBounded(chunk.text, wanted, exact.charStart + 1); next; next = findBounded(chunk.text, wanted, next.charStart + 1)) {
        if (distance(next) < distance(exact)) exact = next;
      }
    }
    if (exact) {
      best = { ...found("exact", Rank.Exact, exact), offset: chunk.charStart + exact.charStart };
      break;
    }
  }
  // Then the other written forms and fuzzy windows, in the first chunks only: a value many chunks agree on (a header
  // field repeated on every page) would otherwise cost the whole ladder once per chunk.
  const ladderChunks = best ? [] : inPageOrder.slice(0, MAX_LADDER_CHUNKS).flatMap((chunkIndex) => index.chunk(chunkIndex) ?? []);
  for (const chunk of ladderChunks) {
    const located = locate(value, chunk.search);
    if (located.grounding.match === "none") continue;
    const offset = chunk.charStart + located.grounding.charStart;
    if (best === undefined || located.rank < best.rank) best = { ...located, offset };
    if (best.rank <= Rank.Reading) break;
  }
  if (best === undefined || best.grounding.match === "none") return { grounding: { match: "none" } };
  const charStart = best.offset;
  const charEnd = charStart + (best.grounding.charEnd - best.grounding.charStart);
  const drawn = index.boxesOf(charStart, charEnd);
  const grounding: FieldGrounding = {
    match: best.grounding.match,
    page: index.pageAt(charStart).page,
    charStart,
    charEnd,
    quote: layout.text.slice(charStart, Math.min(charEnd, charStart + MAX_QUOTE_LENGTH)),
    boxes: drawn.boxes,
    ...(best.grounding.match === "fuzzy" ? { similarity: best.grounding.score } : {}),
  };
  return { grounding, ...(drawn.ocrConfidence === undefined ? {} : { ocrConfidence: drawn.ocrConfidence }) };
}

/** What grounding a document's values needs, built once per layout object and on first use. */
const indexes = new WeakMap<DocumentLayout, LayoutIndex>();

function indexOf(layout: DocumentLayout): LayoutIndex {
  let index = indexes.get(layout);
  if (index === undefined) {
    index = new LayoutIndex(layout);
    indexes.set(layout, index);
  }
  return index;
}

/**
 * A string compared without spaces, punctuation, case or diacritics (letters, digits and symbols such as "€" kept),
 * with each character's origin. Page texts and runs differ exactly there: pdf.js splits words into items and spaces
 * into items of their own, the page text joins lines, rebuilds paragraphs and rejoins hyphenated words.
 */
interface Compact {
  text: string;
  /** For each character of `text`, the index of the character of the source it came from. */
  origin: Int32Array;
}

const KEPT = /[\p{L}\p{N}\p{S}]/u;

/** A text as grounding compares it with a page's runs: without spaces, punctuation, case or diacritics. */
export function compactForm(text: string): string {
  return compact(text).text;
}

/** What compact() keeps of each ASCII character (lower-cased), 0 for what it drops: most of a page's text is ASCII. */
const ASCII_COMPACT = Uint16Array.from({ length: 128 }, (_, code) => {
  if (!KEPT.test(String.fromCharCode(code))) return 0;
  return code >= 65 && code <= 90 ? code + 32 : code;
});

function compact(source: string): Compact {
  // Built as UTF-16 code units and decoded once, as normaliseMapped does: appending per character was most of its time.
  const units: number[] = [];
  const origin: number[] = [];
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code < 0x80) {
      const kept = ASCII_COMPACT[code]!;
      if (kept !== 0) {
        units.push(kept);
        origin.push(i);
      }
      continue;
    }
    for (const unit of source[i]!.normalize("NFKD").toLowerCase()) {
      if (!KEPT.test(unit)) continue;
      for (let u = 0; u < unit.length; u++) {
        units.push(unit.charCodeAt(u));
        origin.push(i);
      }
    }
  }
  return { text: decodeUnits(units), origin: Int32Array.from(origin) };
}

interface PageIndex {
  page: LayoutPage;
  /** The page's text, compact, and for each offset of the page text the number of compact characters before it. */
  text: Compact;
  before: Int32Array;
  /** The page's runs joined, compact; each compact character's run and character in it. */
  runs: string;
  runOf: Int32Array;
  charOf: Int32Array;
}

class LayoutIndex {
  private readonly chunks = new Map<number, { charStart: number; charEnd: number; search?: SearchText }>();
  private readonly pageIndexes = new Map<number, PageIndex>();

  constructor(private readonly layout: DocumentLayout) {
    for (const chunk of layout.chunks) if (!this.chunks.has(chunk.index)) this.chunks.set(chunk.index, { ...chunk });
  }

  /** A chunk's text as it is: enough for the search as written, without building the chunk's normalised forms. */
  plainChunk(index: number): { charStart: number; text: string } | undefined {
    const chunk = this.chunks.get(index);
    if (chunk === undefined) return undefined;
    return { charStart: chunk.charStart, text: chunk.search?.text ?? this.layout.text.slice(chunk.charStart, chunk.charEnd) };
  }

  chunk(index: number): { charStart: number; search: SearchText } | undefined {
    const chunk = this.chunks.get(index);
    if (chunk === undefined) return undefined;
    chunk.search ??= new SearchText(this.layout.text.slice(chunk.charStart, chunk.charEnd));
    return { charStart: chunk.charStart, search: chunk.search };
  }

  /** The page holding `offset` (a separator's offset belongs to the page before it). */
  pageAt(offset: number): LayoutPage {
    const pages = this.layout.pages;
    let low = 0;
    let high = pages.length - 1;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (pages[mid]!.charStart <= offset) low = mid;
      else high = mid - 1;
    }
    return pages[low]!;
  }

  /** The boxes drawing the document text's [charStart, charEnd), page by page, and the OCR confidence under it. */
  boxesOf(charStart: number, charEnd: number): { boxes: PageBox[]; ocrConfidence?: number } {
    const boxes: PageBox[] = [];
    const confidences: number[] = [];
    for (const page of this.layout.pages) {
      const start = Math.max(charStart, page.charStart);
      const end = Math.min(charEnd, page.charEnd);
      if (start >= end || page.runs.length === 0) continue;
      const found = this.boxesOnPage(this.pageIndex(page), start - page.charStart, end - page.charStart);
      boxes.push(...found.boxes);
      // Only OCR'd words carry a confidence: an OCR'd page's, or the images' words on a page with a text layer.
      confidences.push(...found.confidences);
    }
    if (confidences.length === 0) return { boxes };
    const mean = confidences.reduce((sum, value) => sum + value, 0) / confidences.length;
    return { boxes, ocrConfidence: Math.round(mean * 10) / 10 };
  }

  private pageIndex(page: LayoutPage): PageIndex {
    let index = this.pageIndexes.get(page.page);
    if (index !== undefined) return index;
    const pageText = this.layout.text.slice(page.charStart, page.charEnd);
    const text = compact(pageText);
    const before = new Int32Array(pageText.length + 1);
    for (let c = 0, i = 0; i <= pageText.length; i++) {
      while (c < text.origin.length && text.origin[c]! < i) c++;
      before[i] = c;
    }
    let runs = "";
    const runOf: number[] = [];
    const charOf: number[] = [];
    page.runs.forEach((run, r) => {
      const part = compact(run.text);
      runs += part.text;
      for (const origin of part.origin) {
        runOf.push(r);
        charOf.push(origin);
      }
    });
    index = { page, text, before, runs, runOf: Int32Array.from(runOf), charOf: Int32Array.from(charOf) };
    this.pageIndexes.set(page.page, index);
    return index;
  }

  /** Boxes of the runs drawing the page text's [start, end) (page offsets), and the OCR confidences of those runs. */
  private boxesOnPage(index: PageIndex, start: number, end: number): { boxes: PageBox[]; confidences: number[] } {
    const from = index.before[start]!;
    const to = index.before[end]!;
    const needle = index.text.text.slice(from, to);
    if (needle === "") return { boxes: [], confidences: [] };
    // Which occurrence of the quote on the page this is, by the page's text; the same occurrence in the runs.
    let nth = 0;
    let total = 0;
    for (let at = index.text.text.indexOf(needle); at >= 0; at = index.text.text.indexOf(needle, at + 1)) {
      if (at < from) nth++;
      total++;
    }
    const inRuns: number[] = [];
    for (let at = index.runs.indexOf(needle); at >= 0; at = index.runs.indexOf(needle, at + 1)) inRuns.push(at);
    if (inRuns.length === 0) return { boxes: [], confidences: [] };
    let at: number;
    if (inRuns.length === total) at = inRuns[nth]!;
    else {
      // The runs hold text the page text lacks (running headers dropped) or the reverse: the nearest by position.
      const wanted = from / Math.max(1, index.text.text.length);
      at = inRuns.reduce((best, candidate) =>
        Math.abs(candidate / Math.max(1, index.runs.length) - wanted) < Math.abs(best / Math.max(1, index.runs.length) - wanted) ? candidate : best,
      );
    }
    const last = at + needle.length - 1;
    const firstRun = index.runOf[at]!;
    const lastRun = index.runOf[last]!;
    // The quote's punctuation at its ends ("Ltd.", "(12)") is drawn too: widen the cut over as many such characters.
    const pageText = this.layout.text.slice(index.page.charStart + start, index.page.charStart + end);
    const leading = /^[^\p{L}\p{N}\p{S}\s]*/u.exec(pageText)![0].length;
    const trailing = /[^\p{L}\p{N}\p{S}\s]*$/u.exec(pageText)![0].length;
    const boxes: PageBox[] = [];
    const confidences: number[] = [];
    for (let r = firstRun; r <= lastRun; r++) {
      const run = index.page.runs[r]!;
      const length = Math.max(1, run.text.length);
      const startChar = r === firstRun ? widen(run.text, index.charOf[at]!, -leading) : 0;
      const endChar = r === lastRun ? widen(run.text, index.charOf[last]! + 1, trailing) : length;
      boxes.push(cutBox(run, startChar / length, endChar / length, index.page.page));
      if (run.confidence !== undefined) confidences.push(run.confidence);
    }
    return { boxes: mergeLineBoxes(boxes), confidences };
  }
}

/**
 * `at` moved by up to `count` characters (backwards when negative) over punctuation of `text`: a position before
 * (after) the quote's leading (trailing) punctuation.
 */
function widen(text: string, at: number, count: number): number {
  const step = Math.sign(count);
  let moved = at;
  for (let n = 0; n < Math.abs(count); n++) {
    const char = step < 0 ? text[moved - 1] : text[moved];
    if (char === undefined || /[\p{L}\p{N}\p{S}\s]/u.test(char)) break;
    moved += step;
  }
  return moved;
}

/** The part of a run's box from `from` to `to` (shares of its characters) along x. */
function cutBox(run: LayoutRun, from: number, to: number, page: number): PageBox {
  const [x0, y0, x1, y1] = run.box;
  const width = x1 - x0;
  const left = from <= 0 ? x0 : x0 + width * from;
  const right = to >= 1 ? x1 : x0 + width * to;
  return { page, x: round(left), y: round(y0), width: round(right - left), height: round(y1 - y0) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Boxes in a row on the same line become one: a value split into several text items is highlighted once. */
function mergeLineBoxes(boxes: PageBox[]): PageBox[] {
  const merged: PageBox[] = [];
  for (const box of boxes) {
    const previous = merged.at(-1);
    if (previous !== undefined && previous.page === box.page && sameLine(previous, box)) {
      const x = Math.min(previous.x, box.x);
      const y = Math.min(previous.y, box.y);
      const right = Math.max(previous.x + previous.width, box.x + box.width);
      const bottom = Math.max(previous.y + previous.height, box.y + box.height);
      merged[merged.length - 1] = { page: box.page, x: round(x), y: round(y), width: round(right - x), height: round(bottom - y) };
    } else merged.push(box);
  }
  return merged;
}

function sameLine(a: PageBox, b: PageBox): boolean {
  const overlap = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  const gap = b.x - (a.x + a.width);
  return overlap >= 0.5 * Math.min(a.height, b.height) && gap <= Math.max(a.height, b.height) * 2 && gap >= -a.width;
}
