import type { DocumentLayout, RecordBatchLayout, StoredLayout } from "./contracts.ts";

/** Whether a stored layout is a record batch's (else a document's: those written before batches had one carry no `kind`). */
export function isRecordBatchLayout(layout: StoredLayout): layout is RecordBatchLayout {
  return (layout as Partial<RecordBatchLayout>).kind === "records";
}

/**
 * Each record of a batch layout as a document of its own, by record id: its text as the one page (size 0, no runs,
 * like a text upload's, so its values are grounded in the text without boxes) and its chunks' spans. Grounding
 * offsets are then into the record's text, on page 1.
 */
export function recordDocumentLayouts(batch: RecordBatchLayout): Map<string, DocumentLayout> {
  return new Map(
    batch.records.map(({ recordId, text, chunks }) => [
      recordId,
      {
        version: 1,
        text,
        pages: [{ page: 1, charStart: 0, charEnd: text.length, width: 0, height: 0, source: "text-layer", runs: [] }],
        chunks,
      } satisfies DocumentLayout,
    ]),
  );
}
