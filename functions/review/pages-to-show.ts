import type { FieldGrounding } from "../shared/document-item.ts";

/**
 * The pages a review page shows: every page with a grounded value's box on it, in page order; a document without one
 * (nothing grounded, or a text upload without positions) shows its first pages instead. At most `maxPages`, and only
 * pages the document has.
 */
export function pagesToShow(args: {
  grounding: Readonly<Record<string, FieldGrounding>> | undefined;
  pageCount: number;
  maxPages: number;
}): number[] {
  const { pageCount, maxPages } = args;
  const withBoxes = new Set<number>();
  for (const grounding of Object.values(args.grounding ?? {})) {
    for (const box of grounding.boxes ?? []) {
      if (Number.isInteger(box.page) && box.page >= 1 && box.page <= pageCount) withBoxes.add(box.page);
    }
  }
  if (withBoxes.size > 0) return [...withBoxes].sort((a, b) => a - b).slice(0, maxPages);
  return Array.from({ length: Math.max(0, Math.min(pageCount, maxPages)) }, (_, index) => index + 1);
}
