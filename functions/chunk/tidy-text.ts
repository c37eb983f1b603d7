/** The whitespace tidy every extracted text gets: plain text files, PDF lines and pages, annotation texts. */

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
