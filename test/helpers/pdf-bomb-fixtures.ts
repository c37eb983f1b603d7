import { deflateRawSync, constants } from "node:zlib";

/**
 * Decompression-bomb PDFs made at test time (issue 14), small on disk, huge once inflated. A zlib stream is built from
 * one raw-deflate segment ending in a full flush (byte-aligned, no back-references across it) repeated `repeats`
 * times, then an empty final block and the Adler-32 of the whole inflated data (computed in closed form), so
 * gigabytes of output cost milliseconds to "compress" and the stream is valid for any inflater.
 */
export function repeatedZlib(unit: Uint8Array, repeats: number): Uint8Array {
  const segment = deflateRawSync(unit, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const final = deflateRawSync(new Uint8Array(0)); // one empty final block
  const out = new Uint8Array(2 + segment.length * repeats + final.length + 4);
  out.set([0x78, 0xda], 0);
  for (let k = 0; k < repeats; k++) out.set(segment, 2 + k * segment.length);
  out.set(final, 2 + segment.length * repeats);
  const view = new DataView(out.buffer);
  view.setUint32(out.length - 4, adler32Repeated(unit, repeats));
  return out;
}

const ADLER = 65521n;

/** Adler-32 of `unit` repeated `repeats` times, without materialising it. */
export function adler32Repeated(unit: Uint8Array, repeats: number): number {
  // One pass over the unit: sum of bytes S and the weighted sum W = Σ (len - i) * b_i. For the data of n units the
  // running sums are A = 1 + n S and B = N + n(n+1)/2 * len * S ... derived as below, all mod 65521.
  const len = BigInt(unit.length);
  let sum = 0n;
  let weighted = 0n;
  unit.forEach((byte, i) => {
    sum += BigInt(byte);
    weighted += (len - BigInt(i)) * BigInt(byte);
  });
  const n = BigInt(repeats);
  const total = n * len;
  const a = (1n + n * sum) % ADLER;
  // B = Σ_{k=1..N} A_k = N + Σ_j (N - j) b_j over all bytes j (0-based); for unit copy c (0-based), byte i sits at
  // j = c*len + i, so Σ = Σ_c Σ_i (N - c*len - i) b_i = Σ_c [ (N - c*len - len) S + W ] = n W + S Σ_c (N - (c+1) len).
  const copies = n * total - len * ((n * (n + 1n)) / 2n);
  const b = (total + n * weighted + sum * copies) % ADLER;
  return Number((b << 16n) | a);
}

/**
 * A one-page PDF whose content stream is `stream` with the given /Filter, and font /F1 (Helvetica); with `textPage`,
 * a second page whose (unfiltered) content shows that text.
 */
export function onePagePdf(stream: Uint8Array, filter: string, textPage?: string): Uint8Array {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let length = 0;
  const push = (chunk: Buffer | Uint8Array): void => {
    const buffer = Buffer.from(chunk);
    parts.push(buffer);
    length += buffer.length;
  };
  push(Buffer.from("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", "latin1"));
  const text = textPage === undefined ? undefined : Buffer.from(`BT /F1 12 Tf 72 720 Td (${textPage}) Tj ET`, "latin1");
  const bodies: Array<string | [string, Uint8Array]> = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    `<< /Type /Pages /Kids [3 0 R${text ? " 6 0 R" : ""}] /Count ${text ? 2 : 1} >>`,
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    [`<< /Length ${stream.length} /Filter ${filter} >>\nstream\n`, stream],
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ...(text
      ? [
          "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 7 0 R >>",
          [`<< /Length ${text.length} >>\nstream\n`, text] as [string, Uint8Array],
        ]
      : []),
  ];
  bodies.forEach((body, k) => {
    offsets.push(length);
    if (typeof body === "string") {
      push(Buffer.from(`${k + 1} 0 obj\n${body}\nendobj\n`, "latin1"));
    } else {
      push(Buffer.from(`${k + 1} 0 obj\n${body[0]}`, "latin1"));
      push(body[1]);
      push(Buffer.from("\nendstream\nendobj\n", "latin1"));
    }
  });
  const xref = length;
  let tail = `xref\n0 ${bodies.length + 1}\n0000000000 65535 f \n`;
  tail += offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("");
  tail += `trailer\n<< /Size ${bodies.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  push(Buffer.from(tail, "latin1"));
  return new Uint8Array(Buffer.concat(parts));
}

const MiB = 1024 * 1024;
const spaces = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(0x20);

/** (a) One page whose content stream is FlateDecode of `gib` GiB of spaces (2 GiB: ~2 MB on disk). */
export function spacesBomb(gib = 2): Uint8Array {
  return onePagePdf(repeatedZlib(spaces(MiB), gib * 1024), "/FlateDecode");
}

/** (b) A content stream filtered [/FlateDecode /FlateDecode] around `gib` GiB of spaces (8 GiB: ~14 KB on disk). */
export function nestedBomb(gib = 8): Uint8Array {
  const inner = repeatedZlib(spaces(MiB), gib * 1024);
  const outer = repeatedZlib(inner, 1);
  return onePagePdf(outer, "[/FlateDecode /FlateDecode]");
}

/** (c) FlateDecode of `gib` GiB of repeated `BT /F1 12 Tf (Hello bomb) Tj ET` lines (1 GiB: ~3 MB on disk). */
export function textBomb(gib = 1): Uint8Array {
  const line = "BT /F1 12 Tf (Hello bomb) Tj ET\n";
  const perUnit = Math.floor(MiB / line.length);
  const unit = Buffer.from(line.repeat(perUnit), "latin1");
  return onePagePdf(repeatedZlib(unit, Math.ceil((gib * 1024 * MiB) / unit.length)), "/FlateDecode");
}
