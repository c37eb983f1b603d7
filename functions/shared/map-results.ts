import { ResultFormatError } from "./errors.ts";

/**
 * The files a Distributed Map's ResultWriter writes (JSON output type, no transformation): a manifest.json naming
 * result files by status, and files that hold a JSON array of child executions with their input and output as strings.
 */
export interface ResultWriterManifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: Partial<Record<"SUCCEEDED" | "FAILED" | "PENDING", Array<{ Key: string; Size: number }>>>;
}

export interface ChildExecutionRecord {
  ExecutionArn: string;
  Name?: string;
  Status: "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE" | string;
  Input: string;
  InputDetails?: { Included: boolean };
  Output?: string;
  OutputDetails?: { Included: boolean };
  Error?: string;
  Cause?: string;
  StartDate?: string;
  StopDate?: string;
  StateMachineArn?: string;
  RedriveCount?: number;
  RedriveStatus?: string;
  RedriveStatusReason?: string;
}

export function parseResultWriterManifest(text: string): ResultWriterManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ResultFormatError(`Map Run manifest is not JSON: ${String(error)}`, { cause: error });
  }
  const manifest = value as Partial<ResultWriterManifest>;
  if (!manifest || typeof manifest !== "object" || typeof manifest.ResultFiles !== "object" || !manifest.ResultFiles) {
    throw new ResultFormatError("Map Run manifest has no ResultFiles");
  }
  return manifest as ResultWriterManifest;
}

export function parseResultFile(text: string, key: string): ChildExecutionRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ResultFormatError(`Map Run result file ${key} is not JSON: ${String(error)}`, { cause: error });
  }
  if (!Array.isArray(value)) throw new ResultFormatError(`Map Run result file ${key} is not a JSON array`);
  return value.map((record, i) => {
    if (!record || typeof record !== "object" || typeof (record as ChildExecutionRecord).Input !== "string") {
      throw new ResultFormatError(`Map Run result file ${key}, entry ${i}: not a child execution record`);
    }
    return record as ChildExecutionRecord;
  });
}

/** Parses a JSON string field of a child execution record, naming the record when it is not JSON. */
export function parseRecordJson<T>(record: ChildExecutionRecord, field: "Input" | "Output"): T {
  const text = record[field];
  if (typeof text !== "string") throw new ResultFormatError(`Child execution ${record.ExecutionArn} has no ${field}`);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new ResultFormatError(`Child execution ${record.ExecutionArn} ${field} is not JSON`, { cause: error });
  }
}
