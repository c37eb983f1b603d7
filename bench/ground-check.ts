/**
 * Checks of grounding against expected values (the corpus invoices' target, test/e2e/ground-invoices.test.ts): which
 * expected values count, and whether a grounding's boxes draw its quote.
 */
import { compactForm } from "../functions/merge/grounding.ts";
import type { DocumentLayout } from "../functions/shared/contracts.ts";
import type { FieldGrounding } from "../functions/shared/document-item.ts";

/**
 * Expected values that are not text of the document by nature, so not counted: the summary the expected JSON writes
 * (`desc` at the top: "Invoice from ..."), codes from a code list that the JSON's format assigns rather than copies
 * (`country_code`: ISO 3166; `*unece_code`: UN/ECE codes of units and payment means, where the invoice prints "kg"
 * or "Units"), and booleans. A line item's own `desc` is its text
 * on the invoice and counts.
 */
export function notInDocumentByNature(path: string, value: unknown): boolean {
  if (typeof value === "boolean") return true;
  return path === "desc" || /(?:^|\.)(?:country_code|\w*unece_code)$/.test(path);
}

/**
 * Whether the boxes draw the quote: the page's runs that intersect a box, joined in their order, hold the quote
 * (both compared without spaces, punctuation, case or diacritics, as grounding matches runs). A quote over two pages
 * is held by the runs of both. A grounding without boxes holds nothing.
 */
export function boxesHoldQuote(layout: DocumentLayout, grounding: FieldGrounding): boolean {
  const boxes = grounding.boxes ?? [];
  if (boxes.length === 0 || grounding.charStart === undefined || grounding.charEnd === undefined) return false;
  const quote = compactForm(layout.text.slice(grounding.charStart, grounding.charEnd));
  if (quote === "") return false;
  const under = runsUnderBoxes(layout, grounding);
  return compactForm(under.map((run) => run.text).join("")).includes(quote);
}

/** The runs that intersect the grounding's boxes, page by page, in their order on the page. */
export function runsUnderBoxes(layout: DocumentLayout, grounding: FieldGrounding): Array<{ page: number; text: string }> {
  const boxes = grounding.boxes ?? [];
  const out: Array<{ page: number; text: string }> = [];
  for (const page of layout.pages) {
    const onPage = boxes.filter((box) => box.page === page.page);
    if (onPage.length === 0) continue;
    for (const run of page.runs) {
      const [x0, y0, x1, y1] = run.box;
      const hit = onPage.some((box) => x0 < box.x + box.width && box.x < x1 && y0 < box.y + box.height && box.y < y1);
      if (hit) out.push({ page: page.page, text: run.text });
    }
  }
  return out;
}
