/**
 * What an image upload's headers say about a page (size, resolution), read from the bytes without decoding any
 * pixels, for the render worker (render-worker.ts), which decodes them under the page's time bound. Which keys are
 * images and how many pages they have is functions/shared/image-format.ts.
 */
import { OcrPageCodes, OcrPageError } from "../errors.ts";
import type { ImageFormat } from "../image-format.ts";

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

/** A header that cannot be read: the page's problem (the file's signature was checked when it was opened). */
function unreadable(format: ImageFormat, why: string): OcrPageError {
  return new OcrPageError(OcrPageCodes.Failed, `the ${format.toUpperCase()} image cannot be read: ${why}`);
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

/** A TIFF page's resolution from its tags: XResolution (282) as a rational, ResolutionUnit (296: 2 inch, 3 cm). */
export function tiffDpi(tags: { t282?: unknown; t296?: unknown }): number | undefined {
  const resolution = Array.isArray(tags.t282) ? (tags.t282[0] as unknown) : undefined;
  const value = Array.isArray(resolution) ? Number(resolution[0]) / Number(resolution[1]) : Number(resolution);
  const unit = Array.isArray(tags.t296) ? Number(tags.t296[0]) : 2;
  if (unit === 2) return plausibleDpi(value);
  if (unit === 3) return plausibleDpi(value * 2.54);
  return undefined;
}
