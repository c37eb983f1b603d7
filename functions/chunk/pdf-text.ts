// Must come first: pdf.js needs a DOMMatrix when its module is evaluated.
import "./dom-polyfill.ts";
import { PDFParse, VerbosityLevel } from "pdf-parse";
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";

/** Text of a document, one string per page (index 0 is page 1). Pages without text are empty strings. */
export interface ExtractedText {
  pages: string[];
}

const PDF_HEADER = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"
/** pdf.js, like most readers, accepts junk before the header as long as it starts within the first 1024 bytes. */
const HEADER_SEARCH_BYTES = 1024;

const PLAIN_TEXT_EXTENSIONS = [".txt", ".md"];

/**
 * Text of an uploaded object: `.txt` and `.md` keys are one page of UTF-8 text; anything else is read as a PDF.
 */
export async function extractDocumentText(bytes: Uint8Array, contentHint: { key: string }): Promise<ExtractedText> {
  const key = contentHint.key.toLowerCase();
  if (PLAIN_TEXT_EXTENSIONS.some((extension) => key.endsWith(extension))) return extractPlainText(bytes);
  return extractPages(bytes);
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
 * Text of each page of a PDF, tidied (see `tidyText`). Throws DocumentInputError with one of the codes above when the
 * bytes are not a readable PDF or have no text layer.
 */
export async function extractPages(bytes: Uint8Array): Promise<ExtractedText> {
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  if (!hasPdfHeader(bytes)) {
    throw new DocumentInputError(
      DocumentInputCodes.NotAPdf,
      `no %PDF- header in the first ${HEADER_SEARCH_BYTES} bytes; only PDF, .txt and .md documents are supported`,
    );
  }

  const parser = new PDFParse({
    // pdf.js takes ownership of (transfers) the buffer it is given; hand it a copy so the caller's bytes stay intact.
    data: new Uint8Array(bytes),
    verbosity: VerbosityLevel.ERRORS,
    // Documents are untrusted input: never compile code from them, never touch system fonts.
    isEvalSupported: false,
    useSystemFonts: false,
    disableFontFace: true,
  });
  let pages: string[];
  try {
    // No page marker between pages; a tab marks a horizontal gap between text runs (tidied to a space below).
    const result = await parser.getText({ pageJoiner: "" });
    pages = result.pages.slice().sort((a, b) => a.num - b.num).map((page) => tidyText(page.text));
  } catch (error) {
    throw toDocumentInputError(error);
  } finally {
    await parser.destroy().catch(() => undefined);
  }

  if (pages.every((page) => page === "")) {
    throw new DocumentInputError(
      DocumentInputCodes.NoTextLayer,
      `none of the ${pages.length} page(s) has a text layer (a scanned document?); OCR is not done`,
    );
  }
  return { pages };
}

export function hasPdfHeader(bytes: Uint8Array): boolean {
  const limit = Math.min(bytes.byteLength, HEADER_SEARCH_BYTES) - PDF_HEADER.length;
  for (let start = 0; start <= limit; start++) {
    if (PDF_HEADER.every((byte, offset) => bytes[start + offset] === byte)) return true;
  }
  return false;
}

function toDocumentInputError(error: unknown): Error {
  const name = error instanceof Error ? error.name : "";
  const message = error instanceof Error ? error.message : String(error);
  // pdf.js could not load its worker code: a packaging fault, not a property of the document. Let it fail loudly.
  if (message.startsWith("Setting up fake worker failed")) return error instanceof Error ? error : new Error(message);
  switch (name) {
    case "PasswordException":
      return new DocumentInputError(DocumentInputCodes.Encrypted, "the PDF is password-protected", { cause: error });
    case "InvalidPDFException":
      return new DocumentInputError(DocumentInputCodes.Corrupt, `the PDF structure is invalid (${message})`, {
        cause: error,
      });
    default:
      // FormatError, UnknownErrorException and anything else pdf.js throws while reading a document's objects.
      return new DocumentInputError(DocumentInputCodes.Corrupt, `the PDF cannot be read (${name || "Error"}: ${message})`, {
        cause: error,
      });
  }
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
