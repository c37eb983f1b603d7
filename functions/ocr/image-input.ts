/**
 * Image uploads (PNG, JPEG, TIFF) as OCR input: which format a key names, how many pages an image has, and what its
 * header says (size, resolution), read from the bytes without decoding any pixels. Nothing here decodes an image:
 * that happens in the render worker (render-worker.ts), under the page's time bound.
 */
import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";

export type ImageFormat = "png" | "jpeg" | "tiff";

const EXTENSIONS: Record<string, ImageFormat> = { png: "png", jpg: "jpeg", jpeg: "jpeg", tif: "tiff", tiff: "tiff" };

/** By extension, case-insensitive: .png, .jpg/.jpeg, .tif/.tiff; undefined otherwise. */
export function imageFormatOf(key: string): ImageFormat | undefined {
  const match = /\.([^./]+)$/.exec(key);
  return match ? EXTENSIONS[match[1]!.toLowerCase()] : undefined;
}

/** What an image's header says about one of its pages. */
export interface ImageHeader {
  width: number;
  height: number;
  /** Dots per inch, when the file says (PNG pHYs, JFIF density, TIFF XResolution). */
  dpi?: number;
}

/** Resolutions outside this range are not a scan's (many tools write 72 or 96 whatever the pixels are). */
const PLAUSIBLE_DPI = { min: 100, max: 2400 };

function plausibleDpi(dpi: number): number | undefined {
  return Number.isFinite(dpi) && dpi >= PLAUSIBLE_DPI.min && dpi <= PLAUSIBLE_DPI.max ? Math.round(dpi) : undefined;
}

function unreadable(format: ImageFormat, why: string): DocumentInputError {
  return new DocumentInputError(DocumentInputCodes.Corrupt, `the ${format.toUpperCase()} image cannot be read: ${why}`);
}

/**
 * Pages of an image upload: 1 for PNG/JPEG, the number of images (IFDs) for a TIFF. Throws DocumentInputError
 * (EMPTY_FILE, CORRUPT) when the bytes are not an image of that format.
 */
export async function imagePageCount(bytes: Uint8Array, format: ImageFormat): Promise<number> {
  return checkImage(bytes, format);
}

/** The synchronous core of `imagePageCount`: header checks only, bounded by the file's size. */
export function checkImage(bytes: Uint8Array, format: ImageFormat): number {
  if (bytes.length === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object has 0 bytes");
  switch (format) {
    case "png":
      pngHeader(bytes);
      return 1;
    case "jpeg":
      jpegHeader(bytes);
      return 1;
    case "tiff":
      return tiffDirectoryOffsets(bytes).length;
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** PNG: IHDR must be the first chunk; pHYs (pixels per metre when its unit is 1), if any, comes before IDAT. */
export function pngHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < 33 || PNG_SIGNATURE.some((byte, index) => bytes[index] !== byte)) {
    throw unreadable("png", "no PNG signature");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunkType = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  if (chunkType(8) !== "IHDR") throw unreadable("png", "its first chunk is not IHDR");
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) throw unreadable("png", `it claims ${width}x${height} pixels`);
  let dpi: number | undefined;
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = chunkType(at);
    if (type === "IDAT" || type === "IEND") break;
    if (type === "pHYs" && length === 9 && at + 17 <= bytes.length && bytes[at + 16] === 1) {
      dpi = plausibleDpi(view.getUint32(at + 8) * 0.0254);
    }
    at += 12 + length;
  }
  return { width, height, ...(dpi === undefined ? {} : { dpi }) };
}

/** JPEG: size from the first SOF marker; resolution from a JFIF APP0 segment (units 1 = per inch, 2 = per cm). */
export function jpegHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) {
    throw unreadable("jpeg", "no JPEG start-of-image marker");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let dpi: number | undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw unreadable("jpeg", `no marker at byte ${at}`);
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    // Markers without a length: TEM, RSTn. A scan (SOS) before any SOF: no frame to read.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break;
    const length = view.getUint16(at + 2);
    if (length < 2) throw unreadable("jpeg", `a segment at byte ${at} has length ${length}`);
    const body = at + 4;
    // APP0 "JFIF\0": version (2), units (1), x density (2), y density (2).
    if (marker === 0xe0 && body + 12 <= bytes.length && String.fromCharCode(...bytes.subarray(body, body + 5)) === "JFIF\0") {
      const units = bytes[body + 7];
      const density = view.getUint16(body + 8);
      if (units === 1) dpi = plausibleDpi(density);
      else if (units === 2) dpi = plausibleDpi(density * 2.54);
    }
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision (1), height (2), width (2).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body + 5 > bytes.length) break;
      const height = view.getUint16(body + 1);
      const width = view.getUint16(body + 3);
      if (width === 0 || height === 0) throw unreadable("jpeg", `its frame claims ${width}x${height} pixels`);
      return { width, height, ...(dpi === undefined ? {} : { dpi }) };
    }
    at += 2 + length;
  }
  throw unreadable("jpeg", "no frame header (SOF) before the image data");
}

/**
 * The offsets of a TIFF's image file directories, one per page, following the chain from the header. A chain that
 * loops, leaves the file or has no directory is CORRUPT (a loop would make a decoder that follows it run forever).
 * BigTIFF (version 43) is not supported.
 */
export function tiffDirectoryOffsets(bytes: Uint8Array): number[] {
  const little = bytes[0] === 0x49 && bytes[1] === 0x49;
  const big = bytes[0] === 0x4d && bytes[1] === 0x4d;
  if (bytes.length < 8 || (!little && !big)) throw unreadable("tiff", "no TIFF byte-order mark");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(2, little);
  if (version === 43) throw unreadable("tiff", "it is a BigTIFF, which is not supported");
  if (version !== 42) throw unreadable("tiff", `its version is ${version}, not 42`);
  const offsets: number[] = [];
  const seen = new Set<number>();
  for (let offset = view.getUint32(4, little); offset !== 0; ) {
    if (seen.has(offset)) throw unreadable("tiff", "its directory chain loops");
    if (offset + 2 > bytes.length) throw unreadable("tiff", `a directory at byte ${offset} is beyond the file's end`);
    const entries = view.getUint16(offset, little);
    const next = offset + 2 + entries * 12;
    if (entries === 0 || next + 4 > bytes.length) throw unreadable("tiff", `the directory at byte ${offset} is truncated`);
    seen.add(offset);
    offsets.push(offset);
    offset = view.getUint32(next, little);
  }
  if (offsets.length === 0) throw unreadable("tiff", "it has no image directory");
  return offsets;
}

/** A TIFF page's resolution from its tags: XResolution (282) as a rational, ResolutionUnit (296: 2 inch, 3 cm). */
export function tiffDpi(tags: { t282?: unknown; t296?: unknown }): number | undefined {
  const resolution = Array.isArray(tags.t282) ? (tags.t282[0] as unknown) : undefined;
  const value = Array.isArray(resolution) ? Number(resolution[0]) / Number(resolution[1]) : Number(resolution);
  const unit = Array.isArray(tags.t296) ? Number(tags.t296[0]) : 2;
  if (unit === 2) return plausibleDpi(value);
  if (unit === 3) return plausibleDpi(value * 2.54);
  return undefined;
}
