/**
 * The values scoring compares (bench/eval/score.ts): emptiness, normalised text and its similarity, numbers and dates
 * as written in documents. Pure.
 */

/** How to read a numeric date whose first two parts are both ≤ 12 (03/08/2014): day first (dmy) or month first (mdy). */
export type DateOrder = "dmy" | "mdy";

/** null, undefined, a blank string or an empty array. */
export function isEmptyValue(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "") ||
    (Array.isArray(value) && value.length === 0);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stripDiacritics(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "");
}

/**
 * Text for fuzzy and exact comparison: Unicode NFKD without diacritics, lower case, a leading `http(s)://` and `www.`
 * and a trailing `/` removed (so `http://www.azure-interior.com` equals `azure-interior.com`), then every whitespace,
 * punctuation and symbol character removed. Non-strings are compared by their JSON text.
 */
export function normalizeText(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  return stripDiacritics(text)
    .toLowerCase()
    .trim()
    .replace(/^(https?:\/\/)?(www\.)?/, "")
    .replace(/\/+$/, "")
    .replace(/[\p{P}\p{S}\p{Z}\s]+/gu, "");
}

/** Levenshtein distance (insertions, deletions, substitutions), by code point. */
export function levenshtein(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  if (left.length === 0) return right.length;
  if (right.length === 0) return left.length;
  let previous = Array.from({ length: right.length + 1 }, (_, j) => j);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1]! + (left[i - 1] === right[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length]!;
}

/**
 * Similarity of two values in 0..1: 1 − Levenshtein distance / length of the longer, on `normalizeText` forms. Two
 * texts that normalise to nothing (only punctuation or symbols, e.g. "€" and "$") are compared case-insensitively as
 * written instead.
 */
export function similarity(a: unknown, b: unknown): number {
  let left = normalizeText(a);
  let right = normalizeText(b);
  if (left === "" && right === "") {
    left = String(a).trim().toLowerCase();
    right = String(b).trim().toLowerCase();
    if (left === right) return 1;
  }
  const longest = Math.max(Array.from(left).length, Array.from(right).length);
  return longest === 0 ? 1 : 1 - levenshtein(left, right) / longest;
}

/**
 * A number from a JSON number or a numeric string; null when it is not one. Strings may carry a currency symbol or a
 * code of up to three letters before or after ("€ 4.11", "4.11 EUR", "USD 4.11", "zł 5"), a sign or accounting
 * parentheses, "4,-" for 4.00, and thousands separators (space, no-break space, apostrophe, "," or "."). Separators:
 *   - both "." and "," present: the later one is the decimal separator ("1,234.50" and "1.234,50" are 1234.5);
 *   - only ",": one comma followed by exactly three digits, after a non-zero integer part, is a thousands separator
 *     ("1,234" is 1234); otherwise one comma is the decimal separator ("4,11", "0,500"); several commas are thousands;
 *   - only ".": one dot is the decimal separator ("1.234" is 1.234); several dots are thousands ("1.234.567").
 */
export function parseNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string") return null;
  let text = value.normalize("NFKC").trim();
  let negative = false;
  const parenthesised = /^\((.*)\)$/s.exec(text);
  if (parenthesised) {
    negative = true;
    text = parenthesised[1]!.trim();
  }
  text = text
    .replace(/\p{Sc}/gu, " ")
    .trim()
    .replace(/^\p{L}{1,3}\.?(?=[\s\d.,+\-\u2212]|$)\s*/u, "")
    .replace(/\s*\p{L}{1,3}\.?$/u, "")
    .replace(/[.,]-$/, "")
    .trim();
  const sign = /^[+\-\u2212]\s*/.exec(text);
  if (sign) {
    if (sign[0].trim() !== "+") negative = !negative;
    text = text.slice(sign[0].length);
  }
  if (!/^(\d|[.,]\d)[\d.,'\s]*$/.test(text) || !/\d$/.test(text)) return null;
  text = text.replace(/['\s]/g, "");
  const dots = (text.match(/\./g) ?? []).length;
  const commas = (text.match(/,/g) ?? []).length;
  if (dots > 0 && commas > 0) {
    const decimal = text.lastIndexOf(".") > text.lastIndexOf(",") ? "." : ",";
    const thousands = decimal === "." ? "," : ".";
    if ((decimal === "." ? dots : commas) !== 1) return null;
    text = text.split(thousands).join("").replace(decimal, ".");
  } else if (commas > 0) {
    const [integer, fraction] = text.split(",") as [string, string];
    const thousandsComma = commas > 1 || (fraction.length === 3 && !/^0*$/.test(integer) && integer !== "");
    text = thousandsComma ? text.split(",").join("") : text.replace(",", ".");
  } else if (dots > 1) {
    text = text.split(".").join("");
  }
  const number = Number(text);
  if (!Number.isFinite(number)) return null;
  return negative ? -number : number;
}

const MONTHS: Record<number, string[]> = {
  1: ["january", "januar", "januari", "janvier", "janner"],
  2: ["february", "februar", "februari", "fevrier"],
  3: ["march", "marz", "maart", "mars"],
  4: ["april", "avril"],
  5: ["may", "mai", "mei"],
  6: ["june", "juni", "juin"],
  7: ["july", "juli", "juillet"],
  8: ["august", "augustus", "aout"],
  9: ["september", "septembre"],
  10: ["october", "oktober", "octobre"],
  11: ["november", "novembre"],
  12: ["december", "dezember", "decembre"],
};
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const FILLER_WORDS = new Set(["of", "the", "de", "den", "der", "le"]);

/** Month number of an English, German, Dutch or French month name or an unambiguous prefix of ≥ 3 letters. */
function monthOf(word: string): number | null {
  if (word.length < 3) return null;
  const found = new Set<number>();
  for (const [month, names] of Object.entries(MONTHS)) {
    if (names.some((name) => name.startsWith(word))) found.add(Number(month));
  }
  return found.size === 1 ? [...found][0]! : null;
}

function fullYear(text: string): number {
  const year = Number(text);
  if (text.length !== 2) return year;
  return year < 70 ? 2000 + year : 1900 + year;
}

function isoDate(year: number, month: number, day: number): string | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  if (month < 1 || month > 12 || day < 1 || year < 1000 || year > 9999) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/**
 * A date as YYYY-MM-DD, or null. Reads:
 *   - ISO and year-first forms: 2014-08-03, 2014/8/3, 2014.08.03, 2014-08-03T10:00:00Z (the time is ignored);
 *   - day.month.year with dots: 03.08.2014, 3.8.14 (always day first);
 *   - numeric with "/" or "-": 03/08/2014, 3-8-14. When one of the first two parts is over 12 it is the day
 *     (13/08/2014, 08/13/2014); when both are ≤ 12 the `order` decides (default "dmy": 03/08/2014 is 3 August);
 *   - a month name (English, German, Dutch or French, full or a prefix of ≥ 3 letters) with a day and a year in either
 *     order: 3 Aug 2014, 3rd August 2014, August 3, 2014, 03-Aug-2014, 3. August 2014, Sunday, 3 August 2014,
 *     18 april 2014.
 * Two-digit years are 2000–2069 below 70, else 1900–1999. Impossible dates (2014-02-30) are null.
 */
export function parseDate(value: unknown, order: DateOrder = "dmy"): string | null {
  if (typeof value !== "string") return null;
  const text = stripDiacritics(value).toLowerCase().trim();
  let match = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t\s].*)?$/.exec(text);
  if (match) return isoDate(Number(match[1]), Number(match[2]), Number(match[3]));
  match = /^(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})$/.exec(text);
  if (match) return isoDate(fullYear(match[3]!), Number(match[2]), Number(match[1]));
  match = /^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})$/.exec(text);
  if (match) {
    const first = Number(match[1]);
    const second = Number(match[3]);
    const dayFirst = first > 12 ? true : second > 12 ? false : order === "dmy";
    return isoDate(fullYear(match[4]!), dayFirst ? second : first, dayFirst ? first : second);
  }
  const words = text.split(/[\s,.\-/]+/).filter((word) => word !== "");
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  for (const word of words) {
    const dayWord = /^(\d{1,2})(st|nd|rd|th|e|er|ste|de)?$/.exec(word);
    if (/^\d{4}$/.test(word)) {
      if (year !== undefined) return null;
      year = Number(word);
    } else if (dayWord && day === undefined) {
      day = Number(dayWord[1]);
    } else if (/^\d{2}$/.test(word) && day !== undefined && year === undefined && month !== undefined) {
      year = fullYear(word);
    } else if (/^\p{L}+$/u.test(word)) {
      const monthNumber = monthOf(word);
      if (monthNumber !== null && month === undefined) month = monthNumber;
      else if (!(FILLER_WORDS.has(word) || (word.length >= 3 && WEEKDAYS.some((name) => name.startsWith(word))))) return null;
    } else {
      return null;
    }
  }
  if (day === undefined || month === undefined || year === undefined) return null;
  return isoDate(year, month, day);
}
