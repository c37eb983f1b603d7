import { createHash } from "node:crypto";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { expect } from "vitest";
import { DocumentInputError } from "../../functions/shared/errors.ts";

/** PDFs for the extraction tests (test/extract*.test.ts), generated in the test: no files in the repository. */

export interface Placed {
  text: string;
  x?: number;
  y: number;
  size?: number;
}

/** A PDF whose pages hold the given texts at the given positions (Helvetica). */
export async function pdfOf(pages: Placed[][]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const items of pages) {
    const pdfPage = doc.addPage([612, 792]);
    for (const item of items) pdfPage.drawText(item.text, { x: item.x ?? 72, y: item.y, size: item.size ?? 11, font });
  }
  return doc.save();
}

/** Lines top down from y = 720, `pitch` apart; "" is an empty line (a gap of one pitch). */
export function column(lines: string[], pitch = 13, top = 720): Placed[] {
  return lines.flatMap((text, k) => (text === "" ? [] : [{ text, y: top - k * pitch }]));
}

/* An encrypted PDF, written by hand (pdf-lib cannot encrypt): standard security handler, revision 2 (RC4, 40 bits). */

const PASSWORD_PAD = Buffer.from("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A", "hex");
const md5 = (...parts: Buffer[]): Buffer => createHash("md5").update(Buffer.concat(parts)).digest();

function padded(password: string): Buffer {
  const bytes = Buffer.from(password, "latin1").subarray(0, 32);
  return Buffer.concat([bytes, PASSWORD_PAD.subarray(0, 32 - bytes.length)]);
}

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = Array.from({ length: 256 }, (_, k) => k);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + (s[i] as number) + (key[i % key.length] as number)) & 255;
    [s[i], s[j]] = [s[j] as number, s[i] as number];
  }
  const out = Buffer.alloc(data.length);
  let i = 0;
  j = 0;
  for (let k = 0; k < data.length; k++) {
    i = (i + 1) & 255;
    j = (j + (s[i] as number)) & 255;
    [s[i], s[j]] = [s[j] as number, s[i] as number];
    out[k] = (data[k] as number) ^ (s[((s[i] as number) + (s[j] as number)) & 255] as number);
  }
  return out;
}

/** A one-page PDF saying `text`, encrypted with the user password `userPassword` (PDF 1.7 §7.6.3, algorithms 2-4). */
export function encryptedPdf(text: string, userPassword: string, ownerPassword = "owner secret"): Uint8Array {
  const id = Buffer.from("00112233445566778899aabbccddeeff", "hex");
  const permissions = Buffer.alloc(4);
  permissions.writeInt32LE(-44);
  const owner = rc4(md5(padded(ownerPassword)).subarray(0, 5), padded(userPassword));
  const key = md5(padded(userPassword), owner, permissions, id).subarray(0, 5);
  const user = rc4(key, PASSWORD_PAD);
  const objectKey = (number: number): Buffer =>
    md5(key, Buffer.from([number & 255, (number >> 8) & 255, (number >> 16) & 255, 0, 0])).subarray(0, 10);
  const content = rc4(objectKey(4), Buffer.from(`BT /F1 18 Tf 72 700 Td (${text}) Tj ET`, "latin1"));
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content.toString("latin1")}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    `<< /Filter /Standard /V 1 /R 2 /O <${owner.toString("hex")}> /U <${user.toString("hex")}> /P -44 >>`,
  ];
  const hexId = id.toString("hex");
  return rawPdf(objects, `/Encrypt 6 0 R /ID [<${hexId}><${hexId}>]`);
}


/** A hand-written PDF from object bodies (object k + 1 is `objects[k]`, the catalog is object 1). */
export function rawPdf(objects: string[], trailerExtra = ""): Uint8Array {
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, k) => {
    offsets.push(out.length);
    out += `${k + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("");
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra} >>\nstartxref\n${xref}\n%%EOF\n`;
  return new Uint8Array(Buffer.from(out, "latin1"));
}

/**
 * A one-page PDF with `items` separately positioned words in one content stream: small to write (~30 bytes a word),
 * expensive to read (pdf.js builds an object per word). For time and memory bounds.
 */
export function manyWordsPdf(items: number): Uint8Array {
  const words = Array.from({ length: items }, (_, k) => `1 0 0 1 ${k % 500} ${k % 700} Tm (w${k}) Tj`);
  const content = `BT /F1 12 Tf\n${words.join("\n")}\nET`;
  return rawPdf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ]);
}

/** Awaits a promise that must reject with a DocumentInputError whose message starts with its code. */
/** The DocumentInputError `run` throws (fails the test when it throws nothing or something else). */
export function inputErrorOf(run: () => unknown): DocumentInputError {
  let error: unknown;
  try {
    run();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(DocumentInputError);
  return error as DocumentInputError;
}

export async function inputError(promise: Promise<unknown>): Promise<DocumentInputError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DocumentInputError);
  const typed = error as DocumentInputError;
  expect(typed.name).toBe("DocumentInputError");
  expect(typed.message.startsWith(`${typed.code}: `)).toBe(true);
  return typed;
}
