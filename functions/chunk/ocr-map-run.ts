import type { OcrBatchInput, OcrBatchOutput } from "../shared/contracts.ts";
import { addUsage, type FunctionUsage } from "../shared/invocation-usage.ts";
import { parseRecordJson, parseResultFile, parseResultWriterManifest } from "../shared/map-results.ts";

export interface OcrMapRunResults {
  /** The OCR function's invocations of the child executions that succeeded, as billed. */
  usage?: FunctionUsage;
  /** Pages of child executions that failed or never finished, with the child's error (their results are missing). */
  failedPages: Map<number, string>;
}

/**
 * Reads the OCR Map Run's ResultWriter files: the usage of its invocations, and which pages' child executions failed
 * (a Lambda timeout, a crash beyond the retries). A child listed more than once (a redriven Map Run) counts once, its
 * success winning.
 */
export async function collectOcrMapRun(
  bucket: string,
  manifestKey: string,
  readObject: (bucket: string, key: string) => Promise<string>,
): Promise<OcrMapRunResults> {
  const manifest = parseResultWriterManifest(await readObject(bucket, manifestKey));
  const resultBucket = manifest.DestinationBucket || bucket;
  const seen = new Set<string>();
  let usage: FunctionUsage | undefined;
  for (const file of manifest.ResultFiles.SUCCEEDED ?? []) {
    for (const record of parseResultFile(await readObject(resultBucket, file.Key), file.Key)) {
      if (seen.has(record.ExecutionArn)) continue;
      seen.add(record.ExecutionArn);
      const output = parseRecordJson<OcrBatchOutput>(record, "Output");
      if (output.usage) usage = addUsage(usage, output.usage);
    }
  }
  const failedPages = new Map<number, string>();
  for (const file of [...(manifest.ResultFiles.FAILED ?? []), ...(manifest.ResultFiles.PENDING ?? [])]) {
    for (const record of parseResultFile(await readObject(resultBucket, file.Key), file.Key)) {
      if (seen.has(record.ExecutionArn)) continue;
      seen.add(record.ExecutionArn);
      const input = parseRecordJson<OcrBatchInput>(record, "Input");
      for (const group of input.Items ?? []) {
        for (const page of group.pages ?? []) failedPages.set(page, record.Error ?? record.Status);
      }
    }
  }
  return { ...(usage ? { usage } : {}), failedPages };
}
