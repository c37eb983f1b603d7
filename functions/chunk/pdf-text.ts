// Must come first: pdf.js needs a DOMMatrix when its module is evaluated.
import { pdfjsLoaded } from "./dom-polyfill.ts";
// pdf.js itself, the module pdf-parse 2.4.5 wraps (same file, same instance): its text items carry the positions that
// paragraph, header and hyphenation handling need, and its document proxy gives the page count before any page is read.
import { AnnotationMode, getDocument, OPS, PasswordResponses, VerbosityLevel } from "pdfjs-dist/legacy/build/pdf.mjs";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LayoutRun, OcrRegion, PageDrawing } from "../shared/contracts.ts";
import { EnvNames } from "../shared/env-names.ts";
import { HEADER_SEARCH_BYTES, hasPdfHeader } from "../shared/image-format.ts";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";
import { PDF_PASSWORD_METADATA } from "../shared/upload-object.ts";
import { imagePlacements, imageRegions, MAX_HYBRID_PAGES, MAX_REGION_SEARCH_DECODE_SHARE, newRegions } from "./image-regions.ts";
import { layoutPages } from "./page-layout.ts";
import { withDecodeBound, type DecodeBound } from "./pdf-decode-bound.ts";
import { textLines, type TextItemLike, type TextLine } from "./text-lines.ts";
import { textLayerVerdict, type TextLayerVerdict } from "./text-layer.ts";
import { roundPoint, shownBox, textRuns } from "./text-runs.ts";
import { tidyText } from "./tidy-text.ts";

/**
 * Text of an upload: `.txt` and `.md` as one page of text, PDFs read with pdf.js (password, page bound, text item bound,
 * annotations, errors as DocumentInputError). What is done to a PDF page's text items is the layout: text-lines.ts,
 * running-lines.ts, page-layout.ts; the decompression-bomb bound is pdf-decode-bound.ts.
 */

pdfjsLoaded();

export type { DecodeBound };

/** Text of a document, one string per page (index 0 is page 1). Pages without text are empty strings. */
export interface ExtractedText {
  pages: string[];
  /** A PDF's pages: whether each page's text layer can be used as it is, or the page needs OCR. */
  textLayer?: TextLayerVerdict[];
  /** A PDF's pages as drawn: size as shown and text runs with their boxes (for grounding); absent for plain text. */
  drawings?: PageDrawing[];
  /**
   * With `findImageRegions`: per page, the images on a page with a usable text layer that OCR should read
   * (image-regions.ts); an empty list for every other page.
   */
  imageRegions?: OcrRegion[][];
}

/** How a PDF is read. Every field is optional; the defaults are the chunk function's. */
export interface PdfTextOptions {
  /** Password for an encrypted PDF (the upload's `pdf-password` metadata). Never logged. */
  password?: string;
  /** A PDF with more pages is rejected with TOO_LARGE before any page is read. Default: no limit. */
  maxPages?: number;
  /** Drop running headers and footers (see running-lines.ts `dropRunningLines`). Default true. */
  dropRunningHeaders?: boolean;
  /** Where pdf.js's data files are. Default: `pdfjsDataDirs()`. */
  pdfjsData?: PdfjsData;
  /**
   * Decoded-bytes bounds (decompression bombs): TOO_LARGE as soon as one stream's decode buffer, or the sum of all
   * decode buffers of the document, would exceed them. Enforced only where pdf.js carries the bundle-time patch
   * (infra/pdfjs-decode-bound.ts), i.e. in the extraction worker. Default: no bound.
   */
  decodeBound?: DecodeBound;
  /**
   * Return a PDF whose pages have no text (a scan) with empty pages instead of rejecting it with NO_TEXT_LAYER: OCR
   * will read it. Default false.
   */
  keepTextlessPages?: boolean;
  /**
   * Look for images that may hold text on pages whose text layer is usable (`imageRegions`), for OCR's `auto` mode.
   * It costs an operator list per such page, which may decode the page's images (bounded like any decode). Default false.
   */
  findImageRegions?: boolean;
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

const PLAIN_TEXT_EXTENSIONS = [".txt", ".md"];

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
 * are not a readable PDF, need a password that was not supplied or is wrong, use encryption pdf.js cannot decrypt,
 * have too many pages, or have no text.
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
  const pageSizes: Array<{ widthPt: number; heightPt: number }> = [];
  const drawings: PageDrawing[] = [];
  /** Per page: whether it paints an image, looked up only for pages with little text (undefined: not looked up). */
  const pageImages: Array<boolean | undefined> = [];
  const regions: OcrRegion[][] = [];
  /** Image regions found on earlier pages: a running letterhead is read on its first page only. */
  const seenRegions = new Set<string>();
  /** Pages with regions so far, and the decoded bytes past which no more are looked for (image-regions.ts). */
  let hybridPages = 0;
  const regionSearchDecodeBudget = (options.decodeBound?.maxDocumentBytes ?? Number.POSITIVE_INFINITY) * MAX_REGION_SEARCH_DECODE_SHARE;
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
        let size = { widthPt: 0, heightPt: 0 };
        let runs: LayoutRun[] = [];
        let pageRegions: OcrRegion[] = [];
        try {
          const page = await doc.getPage(number);
          const viewport = page.getViewport({ scale: 1 });
          size = { widthPt: viewport.width, heightPt: viewport.height };
          const items = await pageTextItems(page, number);
          lines = textLines(items);
          runs = textRuns(items, viewport.transform);
          const annotated = annotationEntries(await page.getAnnotations({ intent: "display" }));
          annotations = annotated.map((entry) => entry.text);
          for (const entry of annotated) {
            if (entry.rect) runs.push({ text: entry.text, box: shownBox(entry.rect, viewport.transform) });
          }
          const pageText = lines.map((line) => line.text).join("\n");
          const verdict = textLayerVerdict(pageText, size);
          if (options.keepTextlessPages && pageText.trim() !== "" && verdict === "sparse") {
            pageImages[number - 1] = await paintsImage(page);
          }
          if (
            options.findImageRegions &&
            hybridPages < MAX_HYBRID_PAGES &&
            decodeState().decodedBytes < regionSearchDecodeBudget &&
            verdict === "usable"
          ) {
            const found = await pageImageRegions(page, viewport.transform, { width: size.widthPt, height: size.heightPt }, runs);
            pageRegions = newRegions(found, seenRegions);
            if (pageRegions.length > 0) hybridPages++;
          }
          page.cleanup();
        } catch (error) {
          // pdf.js gave up on this page because a stream of it was refused: the page reads as empty, the rest go on.
          const refusedHere = decodeState().refusals > refusedBefore && !decodeState().documentExceeded;
          if (!refusedHere || error instanceof DocumentInputError) throw error;
          lines = [];
          annotations = [];
          runs = [];
          pageRegions = [];
        }
        pages.push(lines);
        annotationTexts.push(annotations);
        pageSizes.push(size);
        regions.push(pageRegions);
        drawings.push({ width: roundPoint(size.widthPt), height: roundPoint(size.heightPt), source: "text-layer", runs });
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
    if (!options.keepTextlessPages) {
      throw new DocumentInputError(
        DocumentInputCodes.NoTextLayer,
        `none of the ${texts.length} page(s) has a text layer (a scanned document?), and OCR is off for it ` +
          `(setting ${EnvNames.ocr}=never, or its upload prefix's OCR mode)`,
      );
    }
  }
  const textLayer = texts.map((text, i) => textLayerVerdict(text, pageSizes[i]!, pageImages[i]));
  return {
    pages: texts,
    textLayer,
    drawings,
    // Only pages still usable once running headers are gone; the others are OCR'd whole anyway.
    ...(options.findImageRegions ? { imageRegions: regions.map((boxes, i) => (textLayer[i] === "usable" ? boxes : [])) } : {}),
  };
}

/** pdf.js's operators that paint an image (a scan's page is one). */
const IMAGE_OPERATORS = new Set<number>([
  OPS.paintImageXObject,
  OPS.paintInlineImageXObject,
  OPS.paintInlineImageXObjectGroup,
  OPS.paintImageXObjectRepeat,
  OPS.paintImageMaskXObject,
  OPS.paintImageMaskXObjectGroup,
  OPS.paintImageMaskXObjectRepeat,
]);

/**
 * Whether the page paints an image, from its operator list. pdf.js may decode the page's images to build it (bounded like
 * any decode), so it is asked only for pages with little text.
 */
async function paintsImage(page: { getOperatorList(): Promise<{ fnArray: number[] }> }): Promise<boolean> {
  const { fnArray } = await page.getOperatorList();
  return fnArray.some((op) => IMAGE_OPERATORS.has(op));
}

/**
 * The images of a page that OCR should read (image-regions.ts), from its operator list without annotations. Looking is
 * optional: when pdf.js fails to build the list (or a decode is refused), the page simply has none.
 */
async function pageImageRegions(
  page: { getOperatorList(options: { annotationMode: number }): Promise<{ fnArray: number[]; argsArray: unknown[] }> },
  viewportTransform: number[],
  size: { width: number; height: number },
  runs: readonly LayoutRun[],
): Promise<OcrRegion[]> {
  try {
    const { fnArray, argsArray } = await page.getOperatorList({ annotationMode: AnnotationMode.DISABLE });
    return imageRegions(imagePlacements(fnArray, argsArray, OPS), viewportTransform, size, runs);
  } catch {
    return [];
  }
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
  return annotationEntries(annotations).map((entry) => entry.text);
}

/** annotationText's texts, each with its annotation's rectangle (PDF user space) when it has one. */
function annotationEntries(annotations: ReadonlyArray<Record<string, unknown>>): Array<{ text: string; rect?: number[] }> {
  const texts: Array<{ text: string; rect?: number[] }> = [];
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
    if (typeof value === "string" && value.trim() !== "") {
      const rect = Array.isArray(annotation.rect) && annotation.rect.length === 4 ? (annotation.rect as number[]) : undefined;
      texts.push({ text: tidyText(value), ...(rect ? { rect } : {}) });
    }
  }
  return texts;
}

/** The checks that need no parser: EMPTY_FILE and NOT_A_PDF. */
export function checkPdfBytes(bytes: Uint8Array): void {
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  if (!hasPdfHeader(bytes)) {
    throw new DocumentInputError(
      DocumentInputCodes.NotAPdf,
      `no %PDF- header in the first ${HEADER_SEARCH_BYTES} bytes; only PDF, images (.png, .jpg, .tif), .txt, .md, .jsonl and .csv uploads are supported`,
    );
  }
}

/**
 * pdf.js's messages (src/core/crypto.js) for encryption it cannot decrypt: a security handler other than /Standard
 * (certificates, DRM plug-ins), an algorithm (/V) or a crypt filter method (/CFM) it does not implement. They come as
 * FormatError (UnknownErrorException from pdf.js's worker), the class corrupt files get, so only the message tells.
 */
const UNSUPPORTED_ENCRYPTION_MESSAGES: ReadonlySet<string> = new Set([
  "unknown encryption method",
  "unsupported encryption algorithm",
  "Unknown crypto method",
]);

function toDocumentInputError(error: unknown, passwordSupplied: boolean): Error {
  const name = error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  // pdf.js could not load its worker code: a packaging fault, not a property of the document. Let it fail loudly.
  if (message.startsWith("Setting up fake worker failed")) return error instanceof Error ? error : new Error(message);
  if (UNSUPPORTED_ENCRYPTION_MESSAGES.has(message)) {
    return new DocumentInputError(
      DocumentInputCodes.Encrypted,
      `the PDF's encryption is not supported (${message}): it is protected by a security handler or method other ` +
        "than the standard password encryption (RC4, AES), such as a certificate or a DRM plug-in, and no password " +
        "opens it here; save an unprotected copy from the application that protected it and upload that",
      { cause: error },
    );
  }
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
