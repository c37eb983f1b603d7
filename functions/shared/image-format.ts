import UTIF from "utif2";
import { DocumentInputCodes, DocumentInputError } from "./errors.ts";

/**
 * Image uploads: documents too, every page of them OCR'd. The chunk step plans their pages, the OCR function reads
 * them; both know an image by its key's extension and count a TIFF's pages here.
 */
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
  if (format !== "tiff") return 1;
  let pages: number;
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // An IFD without a width tag (t256) holds no image (EXIF, thumbnails of other kinds).
    pages = UTIF.decode(buffer).filter((ifd) => ifd["t256"] !== undefined).length;
  } catch (error) {
    throw new DocumentInputError(DocumentInputCodes.NotAnImage, `the TIFF cannot be read (${String(error)})`, { cause: error });
  }
  if (pages === 0) throw new DocumentInputError(DocumentInputCodes.NotAnImage, "the TIFF holds no image");
  return pages;
}
