import type { DocumentLayout, LayoutPage, PageDrawing } from "../shared/contracts.ts";
import { documentText, pageStartOffsets } from "./document-text.ts";

/**
 * The document layout the chunk step writes beside its manifest (`layoutKey`), for grounding: the source text the
 * chunks' offsets refer to, each page's span in it with its size and runs, and each chunk's span. Pure.
 *
 * `drawings[i]` is page i+1 as drawn (a PDF's text-layer items, or an OCR'd page's words); a page without one (a
 * `.txt`/`.md` upload) gets size 0 and no runs: its values are grounded in the text, without boxes.
 */
export function buildDocumentLayout(
  pages: readonly string[],
  drawings: ReadonlyArray<PageDrawing | undefined> | undefined,
  chunks: ReadonlyArray<{ index: number; charStart: number; charEnd: number }>,
): DocumentLayout {
  const starts = pageStartOffsets(pages);
  return {
    version: 1,
    text: documentText(pages),
    pages: pages.map((text, i): LayoutPage => {
      const drawing = drawings?.[i];
      return {
        page: i + 1,
        charStart: starts[i]!,
        charEnd: starts[i]! + text.length,
        width: drawing?.width ?? 0,
        height: drawing?.height ?? 0,
        source: drawing?.source ?? "text-layer",
        runs: drawing?.runs ?? [],
      };
    }),
    chunks: chunks.map(({ index, charStart, charEnd }) => ({ index, charStart, charEnd })),
  };
}
