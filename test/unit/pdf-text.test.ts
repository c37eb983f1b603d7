/** Reading a PDF's text (functions/chunk/pdf-text.ts): pages, paragraphs, running headers, limits. */
import { describe, expect, it } from "vitest";
import { PDFDocument, rgb } from "pdf-lib";
import { inputError, rawPdf } from "../helpers/extract-fixtures.ts";
import { DocumentInputCodes } from "../../functions/shared/errors.ts";
import { extractDocumentText, extractPages } from "../../functions/chunk/pdf-text.ts";
import { hasPdfHeader } from "../../functions/shared/image-format.ts";
import { pdfWithPages, taggedWords, wordsOf } from "../helpers/chunk-fixtures.ts";
import { tidyText } from "../../functions/chunk/tidy-text.ts";


describe("extractPages", () => {
  it("returns one tidied text per page, with each page's own words", async () => {
    const pages = [1, 2, 3].map((page) => [
      `Page ${page} alpha${page} beta${page}`,
      `Second    line gamma${page}`,
      `Caf\u00e9 delta${page}`,
    ]);
    const bytes = await pdfWithPages(pages);
    const { pages: texts } = await extractPages(bytes);
    expect(texts).toHaveLength(3);
    texts.forEach((text, k) => {
      const page = k + 1;
      expect(wordsOf(text)).toEqual(expect.arrayContaining([`alpha${page}`, `beta${page}`, `gamma${page}`, `delta${page}`]));
      for (const other of [1, 2, 3].filter((p) => p !== page)) expect(text).not.toContain(`alpha${other}`);
      expect(text).toContain("Second line"); // runs of spaces collapsed
      expect(text).not.toMatch(/ {2}|\t/);
      expect(text).toBe(text.normalize("NFC"));
    });
    // The caller's bytes are not handed over to pdf.js (which transfers the buffer it is given).
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect(hasPdfHeader(bytes)).toBe(true);
  });

  it("keeps blank pages as empty strings so page numbers stay aligned", async () => {
    const { pages } = await extractPages(await pdfWithPages([["first page"], [], ["third page"]]));
    expect(pages).toEqual(["first page", "", "third page"]);
  });

  it("rejects an empty object with EMPTY_FILE", async () => {
    expect((await inputError(extractPages(new Uint8Array()))).code).toBe(DocumentInputCodes.EmptyFile);
  });

  it("rejects bytes without a %PDF- header with NOT_A_PDF", async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(100).fill(0)]);
    expect((await inputError(extractPages(png))).code).toBe(DocumentInputCodes.NotAPdf);
    const text = new TextEncoder().encode("Just some text that is not a PDF at all.");
    expect((await inputError(extractPages(text))).code).toBe(DocumentInputCodes.NotAPdf);
    // The header may start anywhere in the first 1024 bytes, not later.
    const late = new Uint8Array(2000);
    late.set(new TextEncoder().encode("%PDF-1.7"), 1500);
    expect((await inputError(extractPages(late))).code).toBe(DocumentInputCodes.NotAPdf);
  });

  it("rejects a PDF that only draws shapes with NO_TEXT_LAYER and says OCR is not done", async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawRectangle({ x: 50, y: 50, width: 200, height: 100, color: rgb(0.2, 0.4, 0.8) });
    doc.addPage();
    const error = await inputError(extractPages(await doc.save()));
    expect(error.code).toBe(DocumentInputCodes.NoTextLayer);
    expect(error.message).toMatch(/OCR/);
  });

  it("rejects truncated and garbled PDFs with CORRUPT", async () => {
    const bytes = await pdfWithPages([taggedWords(1, 10), taggedWords(2, 10)]);
    for (const fraction of [0.3, 0.6, 0.9]) {
      const truncated = bytes.slice(0, Math.floor(bytes.length * fraction));
      expect((await inputError(extractPages(truncated))).code).toBe(DocumentInputCodes.Corrupt);
    }
    const garbled = new Uint8Array(bytes);
    for (let k = 20; k < garbled.length; k += 7) garbled[k] = ((garbled[k] as number) * 31 + 7) & 0xff;
    expect((await inputError(extractPages(garbled))).code).toBe(DocumentInputCodes.Corrupt);
    const headerOnly = new TextEncoder().encode(`%PDF-1.7\n${"garbage ".repeat(200)}`);
    expect((await inputError(extractPages(headerOnly))).code).toBe(DocumentInputCodes.Corrupt);
  });

  it("rejects a password-protected PDF with ENCRYPTED", async () => {
    // Standard security handler with made-up O/U entries: the empty user password does not open it.
    const id = "0123456789abcdef0123456789abcdef";
    const encrypted = rawPdf(
      [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        `<< /Filter /Standard /V 1 /R 2 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -4 >>`,
      ],
      `/Encrypt 4 0 R /ID [<${id}><${id}>]`,
    );
    expect((await inputError(extractPages(encrypted))).code).toBe(DocumentInputCodes.Encrypted);
  });

  it("rejects a PDF encrypted with a security handler pdf.js cannot open as ENCRYPTED and unsupported, not corrupt", async () => {
    const id = "0123456789abcdef0123456789abcdef";
    const withEncrypt = (encrypt: string) =>
      rawPdf(
        [
          "<< /Type /Catalog /Pages 2 0 R >>",
          "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
          "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
          encrypt,
        ],
        `/Encrypt 4 0 R /ID [<${id}><${id}>]`,
      );
    const unknownHandler = withEncrypt("<< /Filter /FooSecurity /V 2 /Length 128 >>");
    // The standard handler with an algorithm (/V 3) pdf.js does not implement.
    const unknownAlgorithm = withEncrypt(`<< /Filter /Standard /V 3 /R 3 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -4 >>`);
    for (const [bytes, password] of [
      [unknownHandler, undefined],
      [unknownHandler, "secret"],
      [unknownAlgorithm, undefined],
    ] as const) {
      const error = await inputError(extractPages(bytes, password === undefined ? {} : { password }));
      expect(error.code).toBe(DocumentInputCodes.Encrypted);
      expect(error.message).toMatch(/encryption .*is not supported/);
      // Neither repair advice nor the password metadata's: no password opens it here.
      expect(error.message).not.toMatch(/corrupt|cannot be read|repair|invalid|pdf-password|is wrong/i);
    }
  });
});

describe("extractDocumentText", () => {
  const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

  it("reads .txt and .md keys as one page of UTF-8 text, keeping indentation", async () => {
    const { pages } = await extractDocumentText(utf8("\uFEFFTitle\r\n\r\n\r\n\r\n    code block  \r\nend\n"), {
      key: "inbox/notes.TXT",
    });
    expect(pages).toEqual(["Title\n\n    code block\nend"]);
    expect((await extractDocumentText(utf8("# Heading\n\nBody"), { key: "a/readme.md" })).pages).toEqual([
      "# Heading\n\nBody",
    ]);
  });

  it("rejects empty, whitespace-only and non-UTF-8 text files", async () => {
    expect((await inputError(extractDocumentText(new Uint8Array(), { key: "a.txt" }))).code).toBe("EMPTY_FILE");
    expect((await inputError(extractDocumentText(utf8(" \n\t\n"), { key: "a.txt" }))).code).toBe("EMPTY_FILE");
    const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1
    expect((await inputError(extractDocumentText(latin1, { key: "a.txt" }))).code).toBe("NOT_UTF8");
  });

  it("treats every other key as a PDF", async () => {
    expect((await inputError(extractDocumentText(utf8("hello"), { key: "a.pdf" }))).code).toBe("NOT_A_PDF");
    expect((await inputError(extractDocumentText(utf8("hello"), { key: "no-extension" }))).code).toBe("NOT_A_PDF");
    const bytes = await pdfWithPages([["from a pdf"]]);
    expect((await extractDocumentText(bytes, { key: "upload.bin" })).pages).toEqual(["from a pdf"]);
  });
});

describe("tidyText", () => {
  it("normalizes to NFC, collapses spaces, keeps paragraph breaks as one blank line, trims", () => {
    expect(tidyText("  Cafe\u0301 \t\u00a0 au   lait \r\nnext line\r\n\r\n\r\n\r\nnew  paragraph \f end\u0000  ")).toBe(
      "Café au lait\nnext line\n\nnew paragraph\nend",
    );
    expect(tidyText("a\u2029b\u2028c")).toBe("a\n\nb\nc");
    expect(tidyText(" \n \n ")).toBe("");
  });
});
