import { describe, expect, it } from "vitest";
import { PDFDocument, StandardFonts, degrees } from "pdf-lib";
import { column, encryptedPdf, inputError, pdfOf } from "../helpers/extract-fixtures.ts";
import { DocumentInputCodes, DocumentInputError } from "../../functions/shared/errors.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { extractPages } from "../../functions/chunk/pdf-text.ts";
import {
  booleanEnv,
  checkByteSize,
  EXTRACTION_TIME_MARGIN_MS,
  extractionTimeout,
  LimitDefaults,
  MIN_EXTRACTION_TIMEOUT_MS,
  readChunkLimits,
} from "../../functions/chunk/limits.ts";
import { dropRunningLines, runningLineKey } from "../../functions/chunk/running-lines.ts";
import { groupParagraphs, hyphenatedVocabulary, joinLines, layoutPages } from "../../functions/chunk/page-layout.ts";
import { textLines, type TextItemLike, type TextLine } from "../../functions/chunk/text-lines.ts";

/**
 * Text extraction quality (paragraphs, hyphenation, running headers and footers, NFC), passwords and limits, in
 * process. The isolated (worker thread) path is test/e2e/extract-isolated.test.ts.
 */

// ---------------------------------------------------------------------------------------------------------------------
// Fixtures

/**
 * Synthetic page lines from text: one TextLine per line, 14 pt apart at 12 pt; an empty line adds 14 pt (a paragraph
 * gap); leading spaces indent by 6 pt each.
 */
function page(text: string): TextLine[] {
  const lines: TextLine[] = [];
  let y = 760;
  for (const raw of text.split("\n")) {
    if (raw.trim() !== "") {
      const x = 72 + 6 * (raw.length - raw.trimStart().length);
      const line = raw.trim();
      lines.push({ text: line, x, end: x + 6 * line.length, y, size: 12 });
    }
    y -= 14;
  }
  return lines;
}

const texts = (pages: TextLine[][]): string[][] => pages.map((lines) => lines.map((line) => line.text));

// ---------------------------------------------------------------------------------------------------------------------

describe("textLines (pdf.js items to lines)", () => {
  const item = (str: string, x: number, y: number, options: Partial<TextItemLike> = {}): TextItemLike => ({
    str,
    transform: [10, 0, 0, 10, x, y],
    width: 5 * str.length,
    height: 10,
    hasEOL: false,
    ...options,
  });

  it("joins items on a baseline, adds unmarked word gaps, keeps superscripts on their line, splits at EOL", () => {
    const lines = textLines([
      item("Hello", 72, 700),
      item("world", 72 + 25 + 3, 700), // a 3 pt gap (> a quarter of the 10 pt size) that pdf.js did not mark
      item("2", 130, 703, { transform: [6, 0, 0, 6, 130, 703] }), // a footnote mark, raised 3 pt
      { type: "beginMarkedContent" }, // marked-content items are skipped
      item("", 135, 700, { hasEOL: true }),
      item("next", 72, 700), // same baseline, but pdf.js said the line ended
      item("line", 92, 686),
    ]);
    expect(lines.map((line) => line.text)).toEqual(["Hello world 2", "next", "line"]);
    expect(lines[0]).toMatchObject({ x: 72, y: 700, size: 10 });
  });

  it("reads rotated, upside-down and mirrored pages like upright ones", () => {
    const twoLines = (matrix: [number, number, number, number], first: [number, number], second: [number, number]) =>
      textLines([
        item("first line", ...first, { transform: [...matrix, ...first] }),
        item("second line", ...second, { transform: [...matrix, ...second] }),
      ]);
    // Rotated 90°: the baseline runs up the page, the next line is to its right.
    const rotated = twoLines([0, 10, -10, 0], [100, 100], [114, 100]);
    // Upside down: the next line is higher on the page. Mirrored: the text runs right to left, lines go down.
    const upsideDown = twoLines([-10, 0, 0, -10], [500, 100], [500, 114]);
    const mirrored = twoLines([-10, 0, 0, 10], [500, 700], [500, 686]);
    for (const lines of [rotated, upsideDown, mirrored]) {
      expect(lines.map((line) => line.text)).toEqual(["first line", "second line"]);
      expect(groupParagraphs(lines)).toHaveLength(1);
    }
  });
});

describe("groupParagraphs", () => {
  const paragraphs = (text: string): string[] =>
    groupParagraphs(page(text)).map((lines) => joinLines(lines.map((line) => line.text)));

  it("breaks at gaps wider than the usual line pitch, and not between ordinary lines", () => {
    expect(paragraphs("one a\none b\none c\n\ntwo a\ntwo b")).toEqual(["one a\none b\none c", "two a\ntwo b"]);
    expect(paragraphs("a\nb\nc\nd")).toEqual(["a\nb\nc\nd"]);
  });

  it("breaks at an indented first line after a sentence end, not at indented continuation lines", () => {
    expect(paragraphs("It ended.\n   A new one starts\nand goes on.")).toEqual([
      "It ended.",
      "A new one starts\nand goes on.",
    ]);
    expect(paragraphs("1. An item that goes\n   on here")).toEqual(["1. An item that goes\non here"]);
  });

  it("breaks before bullet items and when text jumps back up (a new column)", () => {
    expect(paragraphs("Shopping:\n• apples\n• pears")).toEqual(["Shopping:", "• apples", "• pears"]);
    const columns = [...page("left one\nleft two"), ...page("right one\nright two").map((line) => ({ ...line, x: 320 }))];
    expect(groupParagraphs(columns).map((lines) => lines.map((line) => line.text))).toEqual([
      ["left one", "left two"],
      ["right one", "right two"],
    ]);
  });
});

describe("joinLines (hyphenation)", () => {
  it("joins a word hyphenated across a line end and drops the hyphen", () => {
    expect(joinLines(["text extrac-", "tion works"])).toBe("text extraction works");
    expect(joinLines(["Arm-", "strong"])).toBe("Armstrong");
    expect(joinLines(["soft\u00ad", "hyphen"])).toBe("softhyphen");
  });

  it("keeps the hyphen when the document spells the hyphenated word within a line elsewhere", () => {
    const vocabulary = hyphenatedVocabulary(["A well-known fact.", "Nothing else."]);
    expect(vocabulary.has("well-known")).toBe(true);
    expect(joinLines(["it is well-", "known"], vocabulary)).toBe("it is well-known");
    expect(joinLines(["it is well-", "known"])).toBe("it is wellknown"); // the documented default: drop
  });

  it("leaves hyphens before capitals, digits and punctuation, and at a paragraph's end", () => {
    expect(joinLines(["Franco-", "German"])).toBe("Franco-\nGerman");
    expect(joinLines(["pages 10-", "20"])).toBe("pages 10-\n20");
    expect(joinLines(["a dash -", "then"])).toBe("a dash -\nthen");
    expect(joinLines(["ends with a-"])).toBe("ends with a-");
  });
});

describe("running headers and footers", () => {
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
  const report = (pages: number, body: (word: string) => string): TextLine[][] =>
    Array.from({ length: pages }, (_, k) =>
      page(`ACME Corp - Annual Report 2024\n\n${body(words[k] ?? "")}\n\nPage ${k + 1} of ${pages}`),
    );

  it("normalizes digits and lone roman numerals in the comparison key", () => {
    expect(runningLineKey("  Page 3   of 10 ")).toBe("page # of #");
    expect(runningLineKey("xiv")).toBe("#");
    expect(runningLineKey("Ⅻ")).toBe("#"); // NFKC turns the roman numeral character into "xii"
    expect(runningLineKey("Civil")).toBe("civil"); // words made of roman letters are words
    expect(runningLineKey("Mix")).toBe("mix");
  });

  it("drops lines repeated at the top or bottom of most pages, keeps the body", () => {
    const pages = report(4, (word) => `Body ${word} one.\nBody ${word} two.\nBody ${word} three.`);
    const kept = texts(dropRunningLines(pages));
    expect(kept[0]).toEqual(["Body alpha one.", "Body alpha two.", "Body alpha three."]);
    expect(kept[3]).toEqual(["Body delta one.", "Body delta two.", "Body delta three."]);
  });

  it("never drops a repeated line from the middle of a page", () => {
    const pages = report(
      4,
      (word) => `Intro ${word}.\nSee also:\nACME Corp - Annual Report 2024\nMore ${word}.\nEnd ${word}.`,
    );
    expect(texts(dropRunningLines(pages))[1]).toEqual([
      "Intro bravo.",
      "See also:",
      "ACME Corp - Annual Report 2024",
      "More bravo.",
      "End bravo.",
    ]);
  });

  it("needs 60% of the pages, or of the odd or even pages, and at least 3 pages", () => {
    // A book: alternating headers (each on half of the pages), page numbers at the bottom.
    const header = (k: number): string => (k % 2 === 0 ? "CHAPTER ONE" : "A BOOK TITLE");
    const book = words.map((word, k) => page(`${header(k)}\nText ${word} a\nmore ${word}\nand more ${word}\n\n${k + 1}`));
    expect(texts(dropRunningLines(book))[0]).toEqual(["Text alpha a", "more alpha", "and more alpha"]);
    expect(texts(dropRunningLines(book))[1]).toEqual(["Text bravo a", "more bravo", "and more bravo"]);

    // On 2 of 5 pages: 40% of the pages, 1 of 3 odd pages, 1 of 2 even pages.
    const draft = words
      .slice(0, 5)
      .map((word, k) => page(`${k < 2 ? "Draft" : `Final ${word}`}\nText ${word}\nmore ${word}\nend ${word}`));
    expect(texts(dropRunningLines(draft))[0]?.[0]).toBe("Draft");

    const short = report(2, (word) => `Body ${word}\nmore ${word}\nand more ${word}`);
    expect(texts(dropRunningLines(short))).toEqual(texts(short));
  });

  it("drops lines of digits only when they count with the pages (page numbers), not dates or amounts", () => {
    // Page numbers with an unnumbered page in between (the offset shifts, the run goes on); the last page has none.
    const numbers = ["1", "2", "", "3", "4", "5"];
    const numbered = words.map((word, k) => page(`Top ${word}\nBody ${word}\nmore ${word}\n\n${numbers[k]}`));
    expect(texts(dropRunningLines(numbered)).map((lines) => lines.at(-1))).toEqual(words.map((word) => `more ${word}`));

    // A table sorted by date: its last row differs on every page, and stays.
    const dates = ["06/22/2015", "07/01/2015", "07/17/2015", "08/03/2015", "09/01/2015"];
    const table = dates.map((date, k) => page(`Notice ${words[k]}\nrow ${words[k]}\nrow two\n${date}`));
    expect(texts(dropRunningLines(table)).map((lines) => lines.at(-1))).toEqual(dates);
    const amounts = ["1,250.00", "980.50", "77.10", "5,000.00"];
    const ledger = amounts.map((amount, k) => page(`Ledger ${words[k]}\nentry ${words[k]}\n${amount}`));
    expect(texts(dropRunningLines(ledger)).map((lines) => lines.at(-1))).toEqual(amounts);
  });

  it("leaves a document alone when dropping would leave it without text", () => {
    const slides = Array.from({ length: 3 }, (_, k) => page(`Confidential page ${k + 1} says zebra${k + 1}.`));
    expect(texts(dropRunningLines(slides))).toEqual(texts(slides));
  });

  it("is switched off by dropRunningHeaders: false", () => {
    const pages = report(3, (word) => `Body ${word}.`);
    expect(layoutPages(pages, { dropRunningHeaders: true })[0]).toBe("Body alpha.");
    expect(layoutPages(pages, { dropRunningHeaders: false })[0]).toBe(
      "ACME Corp - Annual Report 2024\n\nBody alpha.\n\nPage 1 of 3",
    );
  });
});

describe("layoutPages", () => {
  it("returns NFC text with paragraphs separated by one blank line", () => {
    const decomposed = "Cafe\u0301 cre\u0300me";
    const lines = page(`${decomposed} first\nsame paragraph\n\nsecond paragraph`);
    const [text] = layoutPages([lines], { dropRunningHeaders: true });
    expect(text).toBe("Café crème first\nsame paragraph\n\nsecond paragraph");
    expect(text).toBe(text?.normalize("NFC"));
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe("extractPages on generated PDFs", () => {
  it("keeps paragraph breaks, joins hyphenated words and drops running headers and footers", async () => {
    const words = ["one", "two", "three"];
    const body = (word: string): string[] => [
      `Section ${word} opens with a sentence about text extrac-`,
      "tion from documents, and a well-known fact.",
      "",
      `A second paragraph in section ${word} follows the gap.`,
      `It has two lines (${word}).`,
    ];
    const pages = words.map((word, k) => [
      { text: "Quarterly Report - Confidential", y: 760, size: 9 },
      ...column(body(word)),
      { text: `Page ${k + 1} of 3`, y: 40, size: 9 },
    ]);
    const bytes = await pdfOf(pages);
    const { pages: texts } = await extractPages(bytes);
    expect(texts).toHaveLength(3);
    expect(texts[1]).toBe(
      "Section two opens with a sentence about text extraction from documents, and a well-known fact.\n\n" +
        "A second paragraph in section two follows the gap.\nIt has two lines (two).",
    );
    const kept = await extractPages(bytes, { dropRunningHeaders: false });
    expect(kept.pages[0]?.startsWith("Quarterly Report - Confidential\n\nSection one opens")).toBe(true);
    expect(kept.pages[0]?.endsWith("(one).\n\nPage 1 of 3")).toBe(true);
  });

  it("reads a rotated page", async () => {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    const pdfPage = doc.addPage([612, 792]);
    pdfPage.drawText("Rotated first line", { x: 100, y: 100, size: 12, font, rotate: degrees(90) });
    pdfPage.drawText("rotated second line", { x: 114, y: 100, size: 12, font, rotate: degrees(90) });
    const { pages } = await extractPages(await doc.save());
    expect(pages).toEqual(["Rotated first line\nrotated second line"]);
  });

  it("rejects a PDF with more pages than maxPages with TOO_LARGE, naming the setting", async () => {
    const bytes = await pdfOf([[{ text: "one", y: 700 }], [{ text: "two", y: 700 }], [{ text: "three", y: 700 }]]);
    const error = await inputError(extractPages(bytes, { maxPages: 2 }));
    expect(error.code).toBe(DocumentInputCodes.TooLarge);
    expect(error.message).toContain("3 pages");
    expect(error.message).toContain(EnvNames.maxPages);
    expect((await extractPages(bytes, { maxPages: 3 })).pages).toEqual(["one", "two", "three"]);
  });

  it("opens an encrypted PDF with its password; without it or with a wrong one it is ENCRYPTED", async () => {
    const bytes = encryptedPdf("Secret quarterly numbers", "open sesame");
    const missing = await inputError(extractPages(bytes));
    expect(missing.code).toBe(DocumentInputCodes.Encrypted);
    expect(missing.message).toContain("pdf-password");
    expect(missing.message).not.toContain("wrong");

    const wrong = await inputError(extractPages(bytes, { password: "guess" }));
    expect(wrong.code).toBe(DocumentInputCodes.Encrypted);
    expect(wrong.message).toContain("wrong");
    expect(wrong.message).not.toContain("guess"); // the password is never repeated

    expect((await extractPages(bytes, { password: "open sesame" })).pages).toEqual(["Secret quarterly numbers"]);
  });
});

describe("limits", () => {
  it("has documented defaults and derives the worker heap from the function's memory", () => {
    expect(readChunkLimits({})).toEqual({
      maxBytes: 100 * 1024 * 1024,
      maxPages: 2000,
      maxChunks: 5000,
      maxRecordBytes: 1024 * 1024,
      extractionTimeoutMs: 120_000,
      extractionMemoryMb: 1024,
      dropRunningHeaders: true,
    });
    expect(readChunkLimits({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "2048" }).extractionMemoryMb).toBe(
      Math.floor(2048 * LimitDefaults.extractionMemoryShare),
    );
    expect(
      readChunkLimits({
        [EnvNames.maxBytes]: "1000",
        [EnvNames.maxPages]: "5",
        [EnvNames.maxChunks]: "7",
        [EnvNames.maxRecordBytes]: "4096",
        [EnvNames.extractionTimeoutMs]: "2500",
        [EnvNames.extractionMemoryMb]: "256",
        [EnvNames.dropRunningHeaders]: "false",
      }),
    ).toEqual({
      maxBytes: 1000,
      maxPages: 5,
      maxChunks: 7,
      maxRecordBytes: 4096,
      extractionTimeoutMs: 2500,
      extractionMemoryMb: 256,
      dropRunningHeaders: false,
    });
  });

  it("fails on malformed settings with a message naming the variable", () => {
    expect(() => readChunkLimits({ [EnvNames.maxPages]: "many" })).toThrow(/LLAMBDA_MAX_PAGES/);
    expect(() => readChunkLimits({ [EnvNames.extractionMemoryMb]: "8" })).toThrow(/LLAMBDA_EXTRACTION_MEMORY_MB/);
    expect(() => readChunkLimits({ [EnvNames.dropRunningHeaders]: "maybe" })).toThrow(
      /LLAMBDA_DROP_RUNNING_HEADERS must be true or false/,
    );
    expect(booleanEnv("X", true, { X: " No " })).toBe(false);
    expect(booleanEnv("X", false, { X: "TRUE" })).toBe(true);
  });

  it("bounds extraction time by the invocation's remaining time minus a margin", () => {
    const limits = { extractionTimeoutMs: 120_000 };
    expect(extractionTimeout(limits)).toEqual({ timeoutMs: 120_000, cappedByRemainingTime: false });
    expect(extractionTimeout(limits, 300_000)).toEqual({ timeoutMs: 120_000, cappedByRemainingTime: false });
    expect(extractionTimeout(limits, 60_000)).toEqual({
      timeoutMs: 60_000 - EXTRACTION_TIME_MARGIN_MS,
      cappedByRemainingTime: true,
    });
    expect(extractionTimeout(limits, 2_000)).toEqual({ timeoutMs: MIN_EXTRACTION_TIMEOUT_MS, cappedByRemainingTime: true });
  });

  it("rejects too many bytes with TOO_LARGE, naming the limit and the setting", () => {
    expect(() => checkByteSize(100, { maxBytes: 100 }, "upload")).not.toThrow();
    try {
      checkByteSize(150 * 1024 * 1024, { maxBytes: 100 * 1024 * 1024 }, "size in the upload event");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DocumentInputError);
      expect((error as DocumentInputError).code).toBe("TOO_LARGE");
      expect((error as Error).message).toBe(
        "TOO_LARGE: the object is 150 MiB (size in the upload event), more than the limit of 100 MiB " +
          "(setting LLAMBDA_MAX_BYTES=104857600)",
      );
    }
  });
});
