// Must come first: pdf.js needs a DOMMatrix when its module is evaluated.
import { pdfjsLoaded } from "./dom-polyfill.ts";
// pdf.js itself, the module pdf-parse 2.4.5 wraps (same file, same instance): its text items carry the positions that
// paragraph, header and hyphenation handling need, and its document proxy gives the page count before any page is read.
import { getDocument, PasswordResponses, VerbosityLevel } from "pdfjs-dist/legacy/build/pdf.mjs";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EnvNames } from "../shared/env-names.ts";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";

pdfjsLoaded();

/** Text of a document, one string per page (index 0 is page 1). Pages without text are empty strings. */
export interface ExtractedText {
  pages: string[];
}

/** How a PDF is read. Every field is optional; the defaults are the chunk function's. */
export interface PdfTextOptions {
  /** Password for an encrypted PDF (the upload's `pdf-password` metadata). Never logged. */
  password?: string;
  /** A PDF with more pages is rejected with TOO_LARGE before any page is read. Default: no limit. */
  maxPages?: number;
  /** Drop running headers and footers (see `dropRunningLines`). Default true. */
  dropRunningHeaders?: boolean;
  /** Where pdf.js's data files are. Default: `pdfjsDataDirs()`. */
  pdfjsData?: PdfjsData;
  /**
   * Decoded-bytes bounds (decompression bombs): TOO_LARGE as soon as one stream's decode buffer, or the sum of all
   * decode buffers of the document, would exceed them. Enforced only where pdf.js carries the bundle-time patch
   * (infra/pdfjs-decode-bound.ts), i.e. in the extraction worker. Default: no bound.
   */
  decodeBound?: DecodeBound;
}

/** Bounds on what pdf.js may decode for one document, bytes. */
export interface DecodeBound {
  /** Largest decode buffer of one stream. */
  maxStreamBytes: number;
  /** Largest sum of the decode buffers of all streams of the document (each buffer counted at its final size). */
  maxDocumentBytes: number;
  /** The settings that set them, quoted in the TOO_LARGE message. */
  source: string;
}

/** Thrown inside pdf.js by the decode hook; pdf.js may swallow it (ignoreErrors), so the caller also asks. */
class DecodeBoundExceeded extends Error {
  override readonly name = "DecodeBoundExceeded";
}

type DecodeHook = (size: number, previous: number) => void;
const HOOK = "__llambdaDecodeBound"; // infra/pdfjs-decode-bound.ts DECODE_BOUND_HOOK (not imported: no infra in the bundle)

/** What the decode bound has refused so far. */
interface DecodeBoundState {
  /** The first refusal, as the TOO_LARGE error to report. */
  error: DocumentInputError | undefined;
  /** The document's total was passed: every further allocation is refused, reading stops. */
  documentExceeded: boolean;
  /** Allocations refused so far. */
  refusals: number;
}

/**
 * Runs `body` with the decode hook installed for `bound`. A stream over the per-stream bound is refused alone: pdf.js
 * treats that like a broken stream and reads on (a real document, pdf.js's issue3928.pdf, asks for over 1 GiB for one
 * stream it does not need for its text, and its pages read fine without it). Past the document's total, every
 * allocation is refused. The caller asks `state()`, since pdf.js may have caught the thrown error.
 */
async function withDecodeBound<T>(bound: DecodeBound | undefined, body: (state: () => DecodeBoundState) => Promise<T>): Promise<T> {
  const state: DecodeBoundState = { error: undefined, documentExceeded: false, refusals: 0 };
  if (bound === undefined) return body(() => state);
  const global = globalThis as Record<string, unknown>;
  const previousHook = global[HOOK];
  let total = 0;
  const refuse = (error: DocumentInputError): never => {
    state.error ??= error;
    state.refusals++;
    throw new DecodeBoundExceeded(error.message);
  };
  const hook: DecodeHook = (size, previous) => {
    if (state.documentExceeded) refuse(state.error!);
    if (size > bound.maxStreamBytes) {
      refuse(
        new DocumentInputError(
          DocumentInputCodes.TooLarge,
          `a stream of the PDF decodes to more than ${formatMiB(bound.maxStreamBytes)} (${bound.source}); ` +
            "a decompression bomb or a page too large to read",
        ),
      );
    }
    total += size - previous;
    if (total > bound.maxDocumentBytes) {
      state.documentExceeded = true;
      // This error wins over an earlier stream's: it is why reading stopped.
      state.error = undefined;
      refuse(
        new DocumentInputError(
          DocumentInputCodes.TooLarge,
          `the PDF's streams decode to more than ${formatMiB(bound.maxDocumentBytes)} in total (${bound.source})`,
        ),
      );
    }
  };
  global[HOOK] = hook;
  try {
    return await body(() => state);
  } finally {
    global[HOOK] = previousHook;
  }
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/**
 * pdf.js's data files, as directory paths ending in `/`: the CMaps that map the character codes of CJK fonts that are
 * not embedded to Unicode (without them such text is lost), and the metrics of the 14 standard fonts (word spacing of
 * PDFs that use them without embedding).
 */
export interface PdfjsData {
  cMapDir: string;
  standardFontDir: string;
}

/** Where the Lambda bundle keeps pdf.js's data directories, next to index.mjs (infra/bundling.ts copies them there). */
export const PDFJS_DATA_DIR = "pdfjs";

/**
 * pdf.js's data directories: `pdfjs/` next to `base`'s file (the Lambda bundle), else those of the installed
 * pdfjs-dist; undefined when neither is there (CJK text in fonts that are not embedded is then lost).
 */
export function pdfjsDataDirs(base: string = import.meta.url): PdfjsData | undefined {
  const beside = join(dirname(fileURLToPath(base)), PDFJS_DATA_DIR);
  const inBundle = { cMapDir: `${join(beside, "cmaps")}/`, standardFontDir: `${join(beside, "standard_fonts")}/` };
  if (existsSync(inBundle.cMapDir)) return inBundle;
  try {
    const root = dirname(createRequire(base).resolve("pdfjs-dist/package.json"));
    return { cMapDir: `${join(root, "cmaps")}/`, standardFontDir: `${join(root, "standard_fonts")}/` };
  } catch {
    return undefined;
  }
}

let defaultPdfjsData: PdfjsData | null | undefined;

const PDF_HEADER = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"
/** pdf.js, like most readers, accepts junk before the header as long as it starts within the first 1024 bytes. */
const HEADER_SEARCH_BYTES = 1024;

const PLAIN_TEXT_EXTENSIONS = [".txt", ".md"];

/** The object metadata key (S3 user metadata, header `x-amz-meta-pdf-password`) that carries a PDF's password. */
export const PDF_PASSWORD_METADATA = "pdf-password";

export function isPlainTextKey(key: string): boolean {
  const lower = key.toLowerCase();
  return PLAIN_TEXT_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/**
 * Text of an uploaded object: `.txt` and `.md` keys are one page of UTF-8 text; anything else is read as a PDF.
 */
export async function extractDocumentText(
  bytes: Uint8Array,
  contentHint: { key: string },
  options: PdfTextOptions = {},
): Promise<ExtractedText> {
  if (isPlainTextKey(contentHint.key)) return extractPlainText(bytes);
  return extractPages(bytes, options);
}

/** One page of UTF-8 text. Indentation is kept (Markdown code blocks); line ends and blank-line runs are tidied. */
export function extractPlainText(bytes: Uint8Array): ExtractedText {
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new DocumentInputError(DocumentInputCodes.NotUtf8, "the text file is not valid UTF-8", { cause: error });
  }
  const text = tidyText(decoded, { collapseSpaces: false });
  if (text === "") throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the text file contains only whitespace");
  return { pages: [text] };
}

/**
 * Text of each page of a PDF (see `layoutPages` for what is done to it). Throws DocumentInputError when the bytes
 * are not a readable PDF, need a password that was not supplied or is wrong, have too many pages, or have no text.
 * The caller's bytes are not modified (pdf.js gets a copy).
 */
export async function extractPages(bytes: Uint8Array, options: PdfTextOptions = {}): Promise<ExtractedText> {
  checkPdfBytes(bytes);
  const passwordSupplied = options.password !== undefined;
  if (defaultPdfjsData === undefined) defaultPdfjsData = pdfjsDataDirs() ?? null;
  const data = options.pdfjsData ?? defaultPdfjsData ?? undefined;
  const task = getDocument({
    // pdf.js takes ownership of (transfers) the buffer it is given; hand it a copy so the caller's bytes stay intact.
    data: new Uint8Array(bytes),
    ...(passwordSupplied ? { password: options.password } : {}),
    verbosity: VerbosityLevel.ERRORS,
    // Documents are untrusted input: never compile code from them, never touch system fonts.
    isEvalSupported: false,
    useSystemFonts: false,
    disableFontFace: true,
    ...(data === undefined
      ? {}
      : { cMapUrl: data.cMapDir, cMapPacked: true, standardFontDataUrl: data.standardFontDir }),
  });
  const pages: TextLine[][] = [];
  const annotationTexts: string[][] = [];
  let decodeRefusal: DocumentInputError | undefined;
  await withDecodeBound(options.decodeBound, async (decodeState) => {
    try {
      const doc = await task.promise;
      const maxPages = options.maxPages ?? Number.POSITIVE_INFINITY;
      if (doc.numPages > maxPages) {
        throw new DocumentInputError(
          DocumentInputCodes.TooLarge,
          `the PDF has ${doc.numPages} pages, more than the limit of ${maxPages} (setting ${EnvNames.maxPages})`,
        );
      }
      for (let number = 1; number <= doc.numPages; number++) {
        const refusedBefore = decodeState().refusals;
        let lines: TextLine[] = [];
        let annotations: string[] = [];
        try {
          const page = await doc.getPage(number);
          lines = textLines(await pageTextItems(page, number));
          annotations = annotationText(await page.getAnnotations({ intent: "display" }));
          page.cleanup();
        } catch (error) {
          // pdf.js gave up on this page because a stream of it was refused: the page reads as empty, the rest go on.
          const refusedHere = decodeState().refusals > refusedBefore && !decodeState().documentExceeded;
          if (!refusedHere || error instanceof DocumentInputError) throw error;
          lines = [];
          annotations = [];
        }
        pages.push(lines);
        annotationTexts.push(annotations);
        if (decodeState().documentExceeded) throw decodeState().error;
      }
    } catch (error) {
      throw decodeState().error ?? (error instanceof DocumentInputError ? error : toDocumentInputError(error, passwordSupplied));
    } finally {
      await task.destroy().catch(() => undefined);
    }
    decodeRefusal = decodeState().error;
  });

  const texts = layoutPages(pages, { dropRunningHeaders: options.dropRunningHeaders ?? true }).map((text, i) =>
    [text, ...(annotationTexts[i] ?? [])].filter((part) => part !== "").join("\n\n"),
  );
  if (texts.every((page) => page === "")) {
    // No text because a stream was refused (a bomb whose only content is the stream): say that, not "scanned".
    if (decodeRefusal) throw decodeRefusal;
    throw new DocumentInputError(
      DocumentInputCodes.NoTextLayer,
      `none of the ${texts.length} page(s) has a text layer (a scanned document?); OCR is not done`,
    );
  }
  return { pages: texts };
}

/**
 * Most text items (pdf.js text runs) one page may have. A dense page has a few thousand; a content stream of nothing
 * but tiny text operators (issue 14's 3 MB "text bomb", 1 GiB of `BT /F1 12 Tf (Hello bomb) Tj ET`) has tens of
 * millions, at ~50,000 a second in pdf.js. Reading stops at the bound (TOO_LARGE) instead of building them all.
 */
export const MAX_TEXT_ITEMS_PER_PAGE = 100_000;

/**
 * The text items of a page, read from pdf.js's text stream so that reading can stop at MAX_TEXT_ITEMS_PER_PAGE: pdf.js
 * parses a page's content in batches and waits for its reader between them, so once this stops reading, it stops too.
 */
async function pageTextItems(
  page: { streamTextContent(): ReadableStream },
  number: number,
): Promise<Array<TextItemLike | object>> {
  const reader = (page.streamTextContent() as ReadableStream<{ items: Array<TextItemLike | object> }>).getReader();
  const items: Array<TextItemLike | object> = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return items;
    for (const item of value.items) items.push(item);
    if (items.length > MAX_TEXT_ITEMS_PER_PAGE) {
      reader.releaseLock();
      throw new DocumentInputError(
        DocumentInputCodes.TooLarge,
        `page ${number} of the PDF has more than ${MAX_TEXT_ITEMS_PER_PAGE.toLocaleString("en-US")} text items ` +
          "(a bound of llambda's PDF reader)",
      );
    }
  }
}

/**
 * Text a page carries in annotations rather than in its content stream: free-text boxes (typewriter text, callouts)
 * and the values filled into form fields. Each becomes a paragraph after the page's text. Comments (sticky notes)
 * are left out: they are remarks about the document, not its text.
 */
export function annotationText(annotations: ReadonlyArray<Record<string, unknown>>): string[] {
  const texts: string[] = [];
  for (const annotation of annotations) {
    let value: unknown;
    if (annotation.subtype === "FreeText") {
      const lines = annotation.textContent;
      value = Array.isArray(lines) && lines.length > 0 ? lines.join("\n") : (annotation.contentsObj as { str?: unknown } | undefined)?.str;
    } else if (annotation.subtype === "Widget" && annotation.fieldType === "Tx") {
      value = annotation.fieldValue;
    } else if (annotation.subtype === "Widget" && annotation.fieldType === "Ch") {
      value = Array.isArray(annotation.fieldValue) ? annotation.fieldValue.join(", ") : annotation.fieldValue;
    }
    if (typeof value === "string" && value.trim() !== "") texts.push(tidyText(value));
  }
  return texts;
}

/** The checks that need no parser: EMPTY_FILE and NOT_A_PDF. */
export function checkPdfBytes(bytes: Uint8Array): void {
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  if (!hasPdfHeader(bytes)) {
    throw new DocumentInputError(
      DocumentInputCodes.NotAPdf,
      `no %PDF- header in the first ${HEADER_SEARCH_BYTES} bytes; only PDF, .txt, .md, .jsonl and .csv uploads are supported`,
    );
  }
}

export function hasPdfHeader(bytes: Uint8Array): boolean {
  const limit = Math.min(bytes.byteLength, HEADER_SEARCH_BYTES) - PDF_HEADER.length;
  for (let start = 0; start <= limit; start++) {
    if (PDF_HEADER.every((byte, offset) => bytes[start + offset] === byte)) return true;
  }
  return false;
}

function toDocumentInputError(error: unknown, passwordSupplied: boolean): Error {
  const name = error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  // pdf.js could not load its worker code: a packaging fault, not a property of the document. Let it fail loudly.
  if (message.startsWith("Setting up fake worker failed")) return error instanceof Error ? error : new Error(message);
  switch (name) {
    case "PasswordException": {
      const wrong = passwordSupplied || (error as { code?: unknown }).code === PasswordResponses.INCORRECT_PASSWORD;
      return new DocumentInputError(
        DocumentInputCodes.Encrypted,
        wrong
          ? "the PDF is password-protected and the password supplied in the object metadata " +
            `"${PDF_PASSWORD_METADATA}" is wrong`
          : "the PDF is password-protected; upload it with its password in the object metadata " +
            `"${PDF_PASSWORD_METADATA}" (header x-amz-meta-${PDF_PASSWORD_METADATA}), or remove the protection`,
        { cause: error },
      );
    }
    case "InvalidPDFException":
      return new DocumentInputError(DocumentInputCodes.Corrupt, `the PDF structure is invalid (${message})`, {
        cause: error,
      });
    default:
      // FormatError, UnknownErrorException and anything else pdf.js throws while reading a document's objects.
      return new DocumentInputError(
        DocumentInputCodes.Corrupt,
        `the PDF cannot be read (${name || "Error"}: ${message})`,
        { cause: error },
      );
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Layout: pdf.js text items -> lines -> (running headers dropped) -> paragraphs -> (hyphenated words joined) -> text.
// Everything below is pure, so it is tested on synthetic lines as well as on generated PDFs.

/**
 * A line of text on a page, in the page's reading frame: `x` grows along the text, `y` is the baseline and grows
 * upward (the PDF convention), so the next line down has a smaller `y`. Units are PDF points.
 */
export interface TextLine {
  text: string;
  /** Where the line starts and ends along its direction. */
  x: number;
  end: number;
  y: number;
  /** Font size of the line's largest text, > 0. */
  size: number;
}

/** The part of a pdf.js text content item this module reads (TextItem; marked-content items have no `str`). */
export interface TextItemLike {
  str: string;
  /** [a, b, c, d, e, f]: text matrix; (e, f) is the item's origin on the page. */
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}

/** Two items whose baselines differ by less than this many font sizes are on the same line (sub/superscripts). */
const SAME_LINE_TOLERANCE = 0.5;
/** A horizontal gap wider than this many font sizes between two items of a line is a word gap pdf.js did not mark. */
const WORD_GAP = 0.25;

/**
 * Lines of one page from pdf.js text content items, in content-stream order. A line ends where pdf.js marks an end of
 * line (`hasEOL`) or where the baseline moves by more than half a font size. Items of a line are concatenated, with a
 * space where a gap wider than a quarter of the font size is not already a space. Coordinates are turned into the
 * reading frame of the page's dominant text direction, so rotated, upside-down and mirrored pages read like upright
 * ones.
 */
export function textLines(items: ReadonlyArray<TextItemLike | object>): TextLine[] {
  const textItems = items.filter(
    (item): item is TextItemLike => "str" in item && Array.isArray((item as TextItemLike).transform),
  );
  const frame = readingFrame(textItems);
  const lines: TextLine[] = [];
  let current: TextLine | undefined;
  let lineEnded = false;
  // Whether `current.text` ends with whitespace, kept aside: reading the end of the growing string (a regex, even
  // charAt) flattens it each time, which made a page of 30,000 items on one line take ~25 s (issue 14's text bomb).
  let endsSpaced = false;
  for (const item of textItems) {
    const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = item.transform;
    const { x, y } = toReadingFrame(e, f, frame);
    const size = Math.hypot(c, d) || Math.hypot(a, b) || item.height || 1;
    if (item.str !== "") {
      const sameLine =
        current !== undefined &&
        !lineEnded &&
        Math.abs(y - current.y) <= SAME_LINE_TOLERANCE * Math.max(size, Math.min(current.size, 2 * size));
      if (!sameLine || current === undefined) {
        current = { text: item.str, x, end: x + item.width, y, size };
        lines.push(current);
      } else {
        const gap = x - current.end;
        const spaced = endsSpaced || /^\s/.test(item.str);
        if (!spaced && (gap > WORD_GAP * size || gap < -size)) current.text += " ";
        current.text += item.str;
        current.end = Math.max(current.end, x + item.width);
        current.size = Math.max(current.size, size);
      }
      endsSpaced = /\s$/.test(item.str);
      lineEnded = false;
    }
    if (item.hasEOL) lineEnded = true;
  }
  return lines;
}

/**
 * The page's reading frame: the dominant direction of the text (the baseline's direction, `a b` of the text matrix)
 * and of the glyphs' up (`c d`), each snapped to an axis, weighted by text length. Upright text gives x along the
 * baseline and y up; rotated, upside-down and mirrored pages get the frame in which their text reads the same way.
 */
interface ReadingFrame {
  along: readonly [number, number];
  up: readonly [number, number];
}

function axis(x: number, y: number): readonly [number, number] {
  if (Math.abs(x) >= Math.abs(y)) return [x < 0 ? -1 : 1, 0];
  return [0, y < 0 ? -1 : 1];
}

function readingFrame(items: readonly TextItemLike[]): ReadingFrame {
  const weights = new Map<string, { frame: ReadingFrame; weight: number }>();
  for (const item of items) {
    const [a = 1, b = 0, c = 0, d = 1] = item.transform;
    const frame: ReadingFrame = { along: axis(a, b), up: axis(c, d) };
    const key = `${frame.along.join()} ${frame.up.join()}`;
    const entry = weights.get(key) ?? { frame, weight: 0 };
    entry.weight += item.str.length;
    weights.set(key, entry);
  }
  let best: { frame: ReadingFrame; weight: number } = { frame: { along: [1, 0], up: [0, 1] }, weight: 0 };
  for (const entry of weights.values()) if (entry.weight > best.weight) best = entry;
  // Degenerate matrices (both axes the same) fall back to upright.
  return best.frame.along.join() === best.frame.up.join() ? { along: [1, 0], up: [0, 1] } : best.frame;
}

function toReadingFrame(x: number, y: number, frame: ReadingFrame): { x: number; y: number } {
  return { x: x * frame.along[0] + y * frame.along[1], y: x * frame.up[0] + y * frame.up[1] };
}

// --- running headers and footers -------------------------------------------------------------------------------------

/** Settings of running header/footer detection. */
export const RunningLines = {
  /** Lines this close to the top and to the bottom of a page (by baseline) are candidates. */
  edgeLines: 2,
  /** A candidate is running when it is on this share of the pages with text (or of the odd, or the even, pages). */
  minShare: 0.6,
  /** ...and on at least this many pages; documents with fewer pages with text are left alone. */
  minPages: 3,
} as const;

/** A lone roman numeral from i to cccxcix: front-matter page numbers. */
const ROMAN_PAGE_NUMBER = /^c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$/;

/**
 * The form in which lines are compared across pages: NFKC, lower case, whitespace collapsed, every run of digits
 * replaced by `#` ("Page 3 of 10" and "Page 4 of 10" are both "page # of #"), and a lone roman numeral is `#` too.
 */
export function runningLineKey(text: string): string {
  const key = text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
  if (key !== "" && ROMAN_PAGE_NUMBER.test(key)) return "#";
  return key.replace(/\d+/g, "#");
}

/**
 * Drops running headers and footers: among each page's two top and two bottom lines (by baseline), those whose key
 * (`runningLineKey`) appears there on at least 60% of the pages with text, or on 60% of the odd or of the even pages
 * (books alternate their headers), and on at least 3 pages. Lines of only digits and punctuation must also count with
 * the pages (see `occurrenceMatcher`). Documents with fewer than 3 pages with text are unchanged; so is a document that
 * would be left without any text. Lines elsewhere on a page are never dropped.
 */
export function dropRunningLines(pages: readonly TextLine[][]): TextLine[][] {
  const withText = pages.map((lines, index) => ({ lines, index })).filter(({ lines }) => lines.some(hasText));
  if (withText.length < RunningLines.minPages) return pages.map((lines) => lines.slice());

  const edges = pages.map(edgeLineIndexes);
  const occurrences = new Map<string, Occurrence[]>();
  pages.forEach((lines, page) => {
    for (const index of edges[page] ?? []) {
      const text = lines[index]?.text ?? "";
      const key = runningLineKey(text);
      if (key === "") continue;
      const list = occurrences.get(key) ?? [];
      list.push({ page, text });
      occurrences.set(key, list);
    }
  });

  const odd = withText.filter(({ index }) => index % 2 === 0).length; // page 1 is index 0
  const even = withText.length - odd;
  const enough = (count: number, of: number): boolean =>
    count >= RunningLines.minPages && of >= RunningLines.minPages && count >= Math.ceil(RunningLines.minShare * of);
  const running = new Map<string, (occurrence: Occurrence) => boolean>();
  for (const [key, list] of occurrences) {
    const matches = occurrenceMatcher(key, list);
    const onPages = new Set(list.filter(matches).map((occurrence) => occurrence.page));
    const onOdd = [...onPages].filter((page) => page % 2 === 0).length;
    if (enough(onPages.size, withText.length) || enough(onOdd, odd) || enough(onPages.size - onOdd, even)) {
      running.set(key, matches);
    }
  }
  if (running.size === 0) return pages.map((lines) => lines.slice());

  const kept = pages.map((lines, page) => {
    const edge = new Set(edges[page]);
    return lines.filter(
      (line, index) => !(edge.has(index) && running.get(runningLineKey(line.text))?.({ page, text: line.text })),
    );
  });
  return kept.some((lines) => lines.some(hasText)) ? kept : pages.map((lines) => lines.slice());
}

interface Occurrence {
  /** 0-based page index. */
  page: number;
  text: string;
}

/**
 * Which occurrences of a key count as running lines. A line with letters ("Page 3 of 10", a title) counts wherever
 * its key repeats. A line of only digits and punctuation that varies counts only where it reads as a page number: at
 * most two numbers ("12", "3/10", "- 7 -", a roman numeral), the first of which counts with the pages, i.e. minus the
 * page index it equals that of the previous or the next occurrence (unnumbered pages in between shift the offset, not
 * the run). Dates and amounts in a table's first or last row do not count.
 */
function occurrenceMatcher(key: string, list: readonly Occurrence[]): (occurrence: Occurrence) => boolean {
  if (/\p{L}/u.test(key) || new Set(list.map((occurrence) => occurrence.text.trim())).size === 1) return () => true;
  const sorted = [...list].sort((p, q) => p.page - q.page);
  const offsets = sorted.map(({ page, text }) => {
    const number = pageNumberIn(text);
    return number === undefined ? undefined : number - page;
  });
  const counting = new Set<string>();
  sorted.forEach(({ page, text }, k) => {
    const offset = offsets[k];
    if (offset !== undefined && (offsets[k - 1] === offset || offsets[k + 1] === offset)) {
      counting.add(`${page}\u0000${text}`);
    }
  });
  return ({ page, text }) => counting.has(`${page}\u0000${text}`);
}

/** The page number a line of digits and punctuation may be: its first of at most two numbers, or its roman numeral. */
function pageNumberIn(text: string): number | undefined {
  const trimmed = text.normalize("NFKC").trim().toLowerCase();
  if (trimmed !== "" && ROMAN_PAGE_NUMBER.test(trimmed)) return romanValue(trimmed);
  const numbers = trimmed.match(/\d+/g) ?? [];
  return numbers.length >= 1 && numbers.length <= 2 ? Number(numbers[0]) : undefined;
}

function romanValue(numeral: string): number {
  const values: Record<string, number> = { i: 1, v: 5, x: 10, l: 50, c: 100 };
  let total = 0;
  for (let k = 0; k < numeral.length; k++) {
    const value = values[numeral[k] as string] ?? 0;
    const next = values[numeral[k + 1] as string] ?? 0;
    total += value < next ? -value : value;
  }
  return total;
}

function hasText(line: TextLine): boolean {
  return line.text.trim() !== "";
}

/** Indexes of a page's top and bottom `edgeLines` lines with text, by baseline (content order breaks ties). */
function edgeLineIndexes(lines: readonly TextLine[]): number[] {
  const order = lines
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => hasText(line))
    .sort((p, q) => q.line.y - p.line.y || p.index - q.index)
    .map(({ index }) => index);
  const n = RunningLines.edgeLines;
  return order.length <= 2 * n ? order : [...order.slice(0, n), ...order.slice(-n)];
}

// --- paragraphs ---------------------------------------------------------------------------------------------------

/** A baseline step more than this many times the page's usual line pitch is a paragraph gap. */
const PARAGRAPH_GAP = 1.4;
/** A line starting this many font sizes right of the previous one, after a sentence end, is an indented paragraph. */
const PARAGRAPH_INDENT = 0.8;
const SENTENCE_END = /[.!?:;]["'’”»)\]]*$/u;
const BULLET_START = /^[•◦▪▫●○■□‣⁃∙·*–—-]\s/u;

/**
 * Groups a page's lines into paragraphs. A new paragraph starts at a line that is
 * - further below the previous line than 1.4 times the page's usual line pitch (the median baseline step; 1.2 font
 *   sizes when the page has fewer than 3 steps),
 * - above the previous line (a new column or block),
 * - indented by at least 0.8 font sizes relative to the previous line, when that line ends a sentence, or
 * - a bullet item ("• ", "– ", "* ").
 */
export function groupParagraphs(lines: readonly TextLine[]): TextLine[][] {
  const textLinesOnly = lines.filter(hasText);
  const steps: number[] = [];
  for (let k = 1; k < textLinesOnly.length; k++) {
    const previous = textLinesOnly[k - 1] as TextLine;
    const line = textLinesOnly[k] as TextLine;
    const step = previous.y - line.y;
    if (step > 0 && step <= 3 * Math.max(previous.size, line.size)) steps.push(step);
  }
  const pitch = steps.length >= 3 ? median(steps) : 1.2 * median(textLinesOnly.map((line) => line.size));

  const paragraphs: TextLine[][] = [];
  let previous: TextLine | undefined;
  for (const line of textLinesOnly) {
    const current = paragraphs.at(-1);
    if (previous === undefined || current === undefined || startsParagraph(previous, line, pitch)) {
      paragraphs.push([line]);
    } else {
      current.push(line);
    }
    previous = line;
  }
  return paragraphs;
}

function startsParagraph(previous: TextLine, line: TextLine, pitch: number): boolean {
  const step = previous.y - line.y;
  const size = Math.max(previous.size, line.size);
  if (step > PARAGRAPH_GAP * pitch) return true;
  if (step < -SAME_LINE_TOLERANCE * size) return true;
  if (line.x - previous.x >= PARAGRAPH_INDENT * line.size && SENTENCE_END.test(previous.text.trimEnd())) return true;
  return BULLET_START.test(line.text.trimStart());
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((p, q) => p - q);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

// --- hyphenation --------------------------------------------------------------------------------------------------

const HYPHENATED_END = /(\p{L}+)([-\u2010\u00ad])$/u;
const LOWERCASE_START = /^(\p{Ll}[\p{L}\p{M}]*)/u;
const WORDS = /[\p{L}\p{M}\p{N}]+(?:[-\u2010][\p{L}\p{M}\p{N}]+)*/gu;

/** Hyphenated words a document spells within a line ("well-known"), lower case: they keep their hyphen when split. */
export function hyphenatedVocabulary(texts: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const text of texts) {
    for (const [word] of text.matchAll(WORDS)) {
      if (/[-\u2010]/.test(word)) words.add(word.toLowerCase().replace(/\u2010/g, "-"));
    }
  }
  return words;
}

/**
 * Joins the lines of one paragraph with "\n", re-joining words hyphenated across a line end: when a line ends with a
 * letter and a hyphen and the next line starts with a lowercase letter, the two lines become one. The hyphen is
 * dropped ("extrac-" + "tion" -> "extraction") unless the document spells the hyphenated word within a line elsewhere
 * (`vocabulary`: "well-" + "known" -> "well-known" when "well-known" occurs); a soft hyphen (U+00AD) is always
 * dropped. A hyphen before an uppercase letter, a digit or the end of the paragraph is left alone.
 */
export function joinLines(lines: readonly string[], vocabulary: ReadonlySet<string> = new Set()): string {
  const out: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    const previous = out.at(-1);
    const head = previous === undefined ? null : HYPHENATED_END.exec(previous);
    const tail = LOWERCASE_START.exec(line);
    if (previous !== undefined && head && tail) {
      const [, stem = "", hyphen] = head;
      const keep = hyphen !== "\u00ad" && vocabulary.has(`${stem}-${tail[1] ?? ""}`.toLowerCase());
      out[out.length - 1] = previous.slice(0, -1) + (keep ? "-" : "") + line;
    } else {
      out.push(line);
    }
  }
  return out.join("\n");
}

/**
 * Page texts from page lines: running headers and footers dropped (when `dropRunningHeaders`), lines grouped into
 * paragraphs separated by a blank line, hyphenated line ends joined, then tidied (`tidyText`: NFC, spaces).
 */
export function layoutPages(pages: readonly TextLine[][], options: { dropRunningHeaders: boolean }): string[] {
  const kept = options.dropRunningHeaders ? dropRunningLines(pages) : pages;
  const vocabulary = hyphenatedVocabulary(kept.flatMap((lines) => lines.map((line) => line.text)));
  return kept.map((lines) =>
    tidyText(
      groupParagraphs(lines)
        .map((paragraph) => joinLines(paragraph.map((line) => tidyText(line.text)), vocabulary))
        .join("\n\n"),
    ),
  );
}

/**
 * Whitespace tidy: Unicode NFC; `\r\n`, `\r`, U+2028 become `\n` and U+2029 a blank line; control characters and
 * zero-width no-break spaces are dropped; runs of spaces, tabs and other horizontal spaces become one space (unless
 * `collapseSpaces` is false, for plain text, where only trailing spaces go); spaces around line breaks go; three or
 * more line breaks become one blank line (a paragraph break); the result is trimmed.
 */
export function tidyText(raw: string, options: { collapseSpaces?: boolean } = {}): string {
  let text = raw
    .normalize("NFC")
    .replace(/\r\n?|\u2028/g, "\n")
    .replace(/\u2029/g, "\n\n")
    .replace(/[\v\f]/g, "\n")
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000e-\u001f\u007f\ufeff]/g, "");
  if (options.collapseSpaces ?? true) {
    text = text.replace(/[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+/g, " ").replace(/ ?\n ?/g, "\n");
  } else {
    text = text.replace(/[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+\n/g, "\n");
  }
  return text.replace(/\n{3,}/g, "\n\n").trim();
}
