import { DocumentInputCodes, DocumentInputError } from "./errors.ts";

/**
 * Image uploads: documents too, every page of them OCR'd. The chunk step plans their pages, the OCR function reads
 * them; both know an image by its key's extension and count a TIFF's pages here.
 */
const PDF_HEADER = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"
/** pdf.js, like most readers, accepts junk before the header as long as it starts within the first 1024 bytes. */
export const HEADER_SEARCH_BYTES = 1024;

/** Whether the bytes are a PDF as readers see it: `%PDF-` within the first HEADER_SEARCH_BYTES. */
export function hasPdfHeader(bytes: Uint8Array): boolean {
  const limit = Math.min(bytes.byteLength, HEADER_SEARCH_BYTES) - PDF_HEADER.length;
  for (let start = 0; start <= limit; start++) {
    if (PDF_HEADER.every((byte, offset) => bytes[start + offset] === byte)) return true;
  }
  return false;
}

export type ImageFormat = "png" | "jpeg" | "tiff";

const EXTENSIONS: Record<string, ImageFormat> = { png: "png", jpg: "jpeg", jpeg: "jpeg", tif: "tiff", tiff: "tiff" };

/** The image format an upload's key names by its extension (case-insensitive), or undefined: not an image upload. */
export function imageFormatOf(key: string): ImageFormat | undefined {
  const match = /\.([A-Za-z]+)$/.exec(key);
  return match ? EXTENSIONS[match[1]!.toLowerCase()] : undefined;
}

/** The signature each format's files start with. */
const SIGNATURES: Record<ImageFormat, number[][]> = {
  png: [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  jpeg: [[0xff, 0xd8, 0xff]],
  tiff: [
    [0x49, 0x49, 0x2a, 0x00],
    [0x4d, 0x4d, 0x00, 0x2a],
  ],
};

/**
 * Pages of an image upload: 1 for PNG and JPEG, the number of images of a TIFF (its image file directories; the
 * pixels are not decoded here). EMPTY_FILE, or NOT_AN_IMAGE when the bytes are not that format.
 */
export function imagePageCount(bytes: Uint8Array, format: ImageFormat): number {
  if (bytes.byteLength === 0) throw new DocumentInputError(DocumentInputCodes.EmptyFile, "the object is empty (0 bytes)");
  const signed = SIGNATURES[format].some((signature) => signature.every((byte, i) => bytes[i] === byte));
  if (!signed) {
    throw new DocumentInputError(DocumentInputCodes.NotAnImage, `the bytes are not a ${format.toUpperCase()} image (its name says one)`);
  }
  return format === "tiff" ? tiffImageDirectories(bytes).length : 1;
}

/** Tag 256, ImageWidth: a directory without it holds no image (EXIF, thumbnails of other kinds). */
const IMAGE_WIDTH_TAG = 256;

/**
 * The byte offsets of a TIFF's image file directories that hold an image, in file order: page n is the n-th. The
 * chain is walked here, not by a decoder: one that loops (which utif2 would follow for ever), leaves the file or
 * holds no image is NOT_AN_IMAGE, and the walk is bounded by the file's size. BigTIFF (version 43) is not read.
 */
export function tiffImageDirectories(bytes: Uint8Array): number[] {
  const notATiff = (why: string) => new DocumentInputError(DocumentInputCodes.NotAnImage, `the TIFF cannot be read: ${why}`);
  const little = bytes[0] === 0x49;
  if (bytes.length < 8) throw notATiff("it is shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(2, little);
  if (version !== 42) throw notATiff(version === 43 ? "it is a BigTIFF, which is not supported" : `its version is ${version}, not 42`);
  const images: number[] = [];
  const seen = new Set<number>();
  for (let offset = view.getUint32(4, little); offset !== 0; ) {
    if (seen.has(offset)) throw notATiff("its directory chain loops");
    if (offset + 2 > bytes.length) throw notATiff(`a directory at byte ${offset} is beyond the file's end`);
    const entries = view.getUint16(offset, little);
    const next = offset + 2 + entries * 12;
    if (next + 4 > bytes.length) throw notATiff(`the directory at byte ${offset} is cut off`);
    seen.add(offset);
    let hasImage = false;
    for (let entry = 0; entry < entries && !hasImage; entry++) hasImage = view.getUint16(offset + 2 + entry * 12, little) === IMAGE_WIDTH_TAG;
    if (hasImage) images.push(offset);
    offset = view.getUint32(next, little);
  }
  if (images.length === 0) throw notATiff("it holds no image");
  return images;
}
