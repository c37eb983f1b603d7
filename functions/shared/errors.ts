/**
 * Errors that leave a handler. Each has a stable `name`: Step Functions matches Retry and Catch on the
 * `errorType` Lambda reports, which is the error's `name`. Never rename one without updating the workflow.
 */
export abstract class LlambdaError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A required setting is missing or malformed. Raised at module load, so the function fails its init. */
export class ConfigurationError extends LlambdaError {
  override readonly name = "ConfigurationError";
}

/**
 * Why an uploaded object cannot be turned into text. The code is the prefix of the DocumentInputError's message
 * (`"<CODE>: ..."`) and its `code` property; the workflow records it on the failed document. docs/input-errors.md
 * explains each code to users (what it means, what they can do); none is ever retried.
 */
export const DocumentInputCodes = {
  /** The object has 0 bytes. */
  EmptyFile: "EMPTY_FILE",
  /** No `%PDF-` header in the first 1024 bytes (and the key is not a plain-text file). */
  NotAPdf: "NOT_A_PDF",
  /** The PDF needs a password to open, or is encrypted in a way pdf.js cannot decrypt (a certificate, a DRM plug-in). */
  Encrypted: "ENCRYPTED",
  /** The PDF has a header but its structure cannot be read (truncated, garbled). */
  Corrupt: "CORRUPT",
  /** The PDF opens but no page has text (a scan), or the upload is an image, and OCR is off for it (LLAMBDA_OCR=never). */
  NoTextLayer: "NO_TEXT_LAYER",
  /** Every page is blank: no text layer and no words found by OCR (an empty scan, a photo without text). */
  NoTextFound: "NO_TEXT_FOUND",
  /** An image upload (.png, .jpg, .tif) whose bytes are not an image of that kind. */
  NotAnImage: "NOT_AN_IMAGE",
  /** A `.txt`/`.md` object that is not valid UTF-8. */
  NotUtf8: "NOT_UTF8",
  /** Over a configured limit: bytes (LLAMBDA_MAX_BYTES), pages (LLAMBDA_MAX_PAGES) or chunks (LLAMBDA_MAX_CHUNKS). */
  TooLarge: "TOO_LARGE",
  /** Text extraction did not finish within its time bound (LLAMBDA_EXTRACTION_TIMEOUT_MS) and was stopped. */
  ExtractionTimeout: "EXTRACTION_TIMEOUT",
  /**
   * A record batch (`.jsonl`/`.csv`) has a record that cannot be used: a line that is not a JSON object, a CSV syntax
   * error or a row with the wrong number of fields, a missing, non-string or empty text field, a missing or duplicate
   * id. The whole batch fails; the message names the line(s). A record whose id cannot be a key fails alone, as a
   * FAILED record item with this code (functions/chunk/records.ts).
   */
  BadRecord: "BAD_RECORD",
} as const;
export type DocumentInputCode = (typeof DocumentInputCodes)[keyof typeof DocumentInputCodes];

/** The uploaded object cannot be turned into text (not a PDF, empty, no text layer, ...). Never retried. */
export class DocumentInputError extends LlambdaError {
  override readonly name = "DocumentInputError";
  constructor(
    readonly code: DocumentInputCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/** The model could not be loaded (missing file, incompatible binary). Fails the container's init. */
export class ModelLoadError extends LlambdaError {
  override readonly name = "ModelLoadError";
}

/** The model's answer hit the output-token cap before the JSON was complete. */
export class OutputTruncatedError extends LlambdaError {
  override readonly name = "OutputTruncated";
}

/**
 * The model's answer is not usable JSON for the schema (unparseable, or a value outside what storage can hold). The
 * message becomes the chunk's failure cause, which the item, the execution's Fail cause and WARN logs show, and the
 * answer quotes the document: it says what was wrong in fixed words and counts, never what the answer said. What it
 * said (a parser's message quoting it) goes in `cause`, which only DEBUG logs show.
 */
export class ModelOutputError extends LlambdaError {
  override readonly name = "ModelOutputError";
}

/** A chunk does not fit the model's context window together with the instructions and the answer budget. */
export class ChunkTooLargeError extends LlambdaError {
  override readonly name = "ChunkTooLarge";
}

/**
 * A chunk could not finish inside the invocation's time budget (Lambda's remaining time minus a safety margin). The
 * inference handler splits such a chunk in two and the workflow extracts the halves in a fresh invocation.
 */
export class DeadlineExceededError extends LlambdaError {
  override readonly name = "DeadlineExceeded";
  constructor(
    message: string,
    /**
     * cut: started and stopped at the deadline; too-slow: not started, because at the measured speeds it would not
     * finish even in a fresh invocation; no-time-left: not started, a fresh invocation can do it whole.
     */
    readonly reason: "cut" | "too-slow" | "no-time-left",
  ) {
    super(message);
  }
}

/** The Distributed Map's result files are missing or not in the format AWS writes. */
export class ResultFormatError extends LlambdaError {
  override readonly name = "ResultFormatError";
}

/**
 * A newer version of the document's S3 object has started its own execution, which now owns the document's item:
 * this execution's result is out of date and is not written. Not an error for the document; the workflow ends quietly.
 */
export class SupersededError extends LlambdaError {
  override readonly name = "Superseded";
}

/** The merged result does not validate against the extraction schema (a merge strategy produced something it forbids). */
export class ResultInvalidError extends LlambdaError {
  override readonly name = "ResultInvalid";
}

/** Why one page could not be OCR'd: it did not render or recognise (OCR_FAILED) or not within its deadline (OCR_TIMEOUT). */
export const OcrPageCodes = { Failed: "OCR_FAILED", Timeout: "OCR_TIMEOUT" } as const;
export type OcrPageCode = (typeof OcrPageCodes)[keyof typeof OcrPageCodes];

/** One page's OCR failed; the page is named in the item's failed pages and counts against the document's tolerance. */
export class OcrPageError extends LlambdaError {
  override readonly name = "OcrPageError";
  constructor(
    readonly code: OcrPageCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/**
 * More of a document's OCR'd pages failed (OCR_FAILED, OCR_TIMEOUT) than the workflow tolerates: the document fails
 * with this error, its cause naming the pages. Within the tolerance the document goes on and ends PARTIAL.
 */
export class TooManyFailedPagesError extends LlambdaError {
  override readonly name = "TooManyFailedPages";
}

/** The names Step Functions sees; the workflow definition imports these instead of spelling strings. */
export const ErrorNames = {
  Configuration: "ConfigurationError",
  DocumentInput: "DocumentInputError",
  ModelLoad: "ModelLoadError",
  OutputTruncated: "OutputTruncated",
  ModelOutput: "ModelOutputError",
  ChunkTooLarge: "ChunkTooLarge",
  DeadlineExceeded: "DeadlineExceeded",
  /**
   * More of a document's chunks failed than the workflow tolerates (or all of them): the merge writes the item FAILED
   * with this error and its failed chunks, and the execution fails with it. Not thrown: a status, not an exception.
   */
  TooManyFailedChunks: "TooManyFailedChunks",
  TooManyFailedPages: "TooManyFailedPages",
  ResultFormat: "ResultFormatError",
  Superseded: "Superseded",
  ResultInvalid: "ResultInvalid",
} as const;
