/**
 * Whether a PDF page's text layer can be used as it is, or the page needs OCR (the per-page decision). A scan
 * has no text layer, or one that is too sparse for the page's area to be the page's text (a stamp, a page number, an
 * OCR layer of a few words on a page that paints an image), or one of replacement and control characters (fonts without
 * a usable encoding).
 */

/** Why a page's text layer is not used. */
export type TextLayerVerdict = "usable" | "empty" | "sparse" | "garbled";

/**
 * Fewer printable characters per square inch than this is not a page of text: a dense A4 page of prose has ~20–30
 * per square inch, a sparse form or an invoice 2–5; a scan with a page number or a stamp well under 0.1.
 */
export const MIN_CHARS_PER_SQUARE_INCH = 0.2;
/** More than this share of replacement (U+FFFD), private-use or control characters: the encoding is unusable. */
export const MAX_GARBLED_SHARE = 0.3;

const POINTS_PER_INCH = 72;

/**
 * The verdict on a page's text, given its size in PDF points. Whitespace does not count; a page whose text is mostly
 * U+FFFD, private-use (U+E000–U+F8FF) or C0/C1 control characters is `garbled`. A page with little text is `sparse`
 * only when it paints an image (`drawsImages`; unknown counts as yes): a short note on an otherwise blank page is
 * the page's whole text, and OCR would only read the same words back.
 */
export function textLayerVerdict(
  text: string,
  page: { widthPt: number; heightPt: number },
  drawsImages?: boolean,
): TextLayerVerdict {
  const characters = [...text.replace(/\s+/gu, "")];
  if (characters.length === 0) return "empty";
  const garbled = characters.filter((char) => /[\uFFFD\uE000-\uF8FF\p{Cc}]/u.test(char)).length;
  if (garbled / characters.length > MAX_GARBLED_SHARE) return "garbled";
  const squareInches = (page.widthPt / POINTS_PER_INCH) * (page.heightPt / POINTS_PER_INCH);
  const few = squareInches > 0 && (characters.length - garbled) / squareInches < MIN_CHARS_PER_SQUARE_INCH;
  if (few && drawsImages !== false) return "sparse";
  return "usable";
}
