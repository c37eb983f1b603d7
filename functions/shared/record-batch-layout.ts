import type { DocumentLayout, RecordBatchLayout, StoredLayout } from "./contracts.ts";

/** Whether a stored layout is a record batch's (else a document's: those written before batches had one carry no `kind`). */
export function isRecordBatchLayout(layout: StoredLayout): layout is RecordBatchLayout {
  return (layout as Partial<RecordBatchLayout>).kind === "records";
}

/**
 * A record of a batch layout as a document of its own, by record id (undefined for a record the layout does not
 * list): its text as the one page (size 0, no runs, like a text upload's, so its values are grounded in the text
 * without boxes) and its chunks' spans. Grounding offsets are then into the record's text, on page 1.
 *
 * Each call builds a new object: grounding's index of a layout (built on first use, kept while the object lives, several
 * times the text's size) then goes once its record is merged, and a batch's indexes are never all held at once.
 */
export function recordLayoutsOf(batch: RecordBatchLayout): (recordId: string) => DocumentLayout | undefined {
  const records = new Map(batch.records.map((record) => [record.recordId, record]));
  return (recordId) => {
    const record = records.get(recordId);
    if (record === undefined) return undefined;
    return {
      version: 1,
      text: record.text,
      pages: [{ page: 1, charStart: 0, charEnd: record.text.length, width: 0, height: 0, source: "text-layer", runs: [] }],
      chunks: record.chunks,
    };
  };
}
