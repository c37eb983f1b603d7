import type { ReviewPageImage } from "./review-page.ts";

/**
 * Placeholder with the agreed export, so that the review stage compiles on its own branch: the page renderer is written
 * separately and replaces this file when the branches are merged.
 */
export function renderPageImages(_args: {
  bytes: Uint8Array;
  key: string;
  pages: number[];
  dpi?: number;
  jpegQuality?: number;
  maxTotalBytes?: number;
  pageTimeoutMs?: number;
}): Promise<ReviewPageImage[]> {
  throw new Error("not merged yet");
}
