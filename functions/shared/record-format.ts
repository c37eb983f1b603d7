/** Record batch formats, by the upload's extension: shared by the chunker (how to read it) and the start function (what kind of item it makes). */
export type RecordFormat = "jsonl" | "csv";

/** Record batch format of an object key (by extension, case-insensitive), undefined for any other document. */
export function recordFormatOf(key: string): RecordFormat | undefined {
  const lower = key.toLowerCase();
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".csv")) return "csv";
  return undefined;
}
