import { DocumentInputCodes, DocumentInputError } from "../shared/errors.ts";

/**
 * The decompression-bomb guard of the PDF reader: bounds on the bytes pdf.js may decode for one document, enforced
 * through a hook that the bundle-time patch of pdf.js (infra/pdfjs-decode-bound.ts) calls before each decode buffer
 * grows. Used by pdf-text.ts `extractPages`.
 */

/** Bounds on what pdf.js may decode for one document, bytes. */
export interface DecodeBound {
  /** Largest decode buffer of one stream. */
  maxStreamBytes: number;
  /** Largest sum of the decode buffers of all streams of the document (each buffer counted at its final size). */
  maxDocumentBytes: number;
  /** The settings that set them, quoted in the TOO_LARGE message. */
  source: string;
}

/** Thrown inside pdf.js by the decode hook; pdf.js may swallow it (ignoreErrors), so the caller also asks. */
class DecodeBoundExceeded extends Error {
  override readonly name = "DecodeBoundExceeded";
}

type DecodeHook = (size: number, previous: number) => void;
const HOOK = "__llambdaDecodeBound"; // infra/pdfjs-decode-bound.ts DECODE_BOUND_HOOK (not imported: no infra in the bundle)

/** What the decode bound has refused so far. */
interface DecodeBoundState {
  /** The first refusal, as the TOO_LARGE error to report. */
  error: DocumentInputError | undefined;
  /** The document's total was passed: every further allocation is refused, reading stops. */
  documentExceeded: boolean;
  /** Allocations refused so far. */
  refusals: number;
  /** Bytes decoded so far (the sum the document's bound applies to); 0 without a bound. */
  decodedBytes: number;
}

/**
 * Runs `body` with the decode hook installed for `bound`. A stream over the per-stream bound is refused alone: pdf.js
 * treats that like a broken stream and reads on (a real document, pdf.js's issue3928.pdf, asks for over 1 GiB for one
 * stream it does not need for its text, and its pages read fine without it). Past the document's total, every
 * allocation is refused. The caller asks `state()`, since pdf.js may have caught the thrown error.
 */
export async function withDecodeBound<T>(bound: DecodeBound | undefined, body: (state: () => DecodeBoundState) => Promise<T>): Promise<T> {
  const state: DecodeBoundState = { error: undefined, documentExceeded: false, refusals: 0, decodedBytes: 0 };
  if (bound === undefined) return body(() => state);
  const global = globalThis as Record<string, unknown>;
  const previousHook = global[HOOK];
  let total = 0;
  const refuse = (error: DocumentInputError): never => {
    state.error ??= error;
    state.refusals++;
    throw new DecodeBoundExceeded(error.message);
  };
  const hook: DecodeHook = (size, previous) => {
    if (state.documentExceeded) refuse(state.error!);
    if (size > bound.maxStreamBytes) {
      refuse(
        new DocumentInputError(
          DocumentInputCodes.TooLarge,
          `a stream of the PDF decodes to more than ${formatMiB(bound.maxStreamBytes)} (${bound.source}); ` +
            "a decompression bomb or a page too large to read",
        ),
      );
    }
    total += size - previous;
    state.decodedBytes = total;
    if (total > bound.maxDocumentBytes) {
      state.documentExceeded = true;
      // This error wins over an earlier stream's: it is why reading stopped.
      state.error = undefined;
      refuse(
        new DocumentInputError(
          DocumentInputCodes.TooLarge,
          `the PDF's streams decode to more than ${formatMiB(bound.maxDocumentBytes)} in total (${bound.source})`,
        ),
      );
    }
  };
  global[HOOK] = hook;
  try {
    return await body(() => state);
  } finally {
    global[HOOK] = previousHook;
  }
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}
