import { get_encoding, type Tiktoken } from "tiktoken";

/** What the chunker needs from a tokenizer: a token count for any string. Pure and deterministic. */
export interface TokenCounter {
  count(text: string): number;
}

/** A token counter that holds native (WASM) memory; call `dispose` when done with it. */
export interface Tokenizer extends TokenCounter {
  readonly encoding: string;
  dispose(): void;
}

/**
 * tiktoken's cl100k_base encoding. Build one per process (at module load) and reuse it: creating the encoder parses
 * the ~100k-entry rank table into WASM memory, which is the expensive part.
 *
 * Special-token strings such as `<|endoftext|>` in document text are counted as ordinary text
 * (`encode_ordinary`), so a document containing one is counted, not rejected.
 *
 * Packaging note: tiktoken's node entry reads `tiktoken_bg.wasm` from its own directory (`__dirname`) at import time.
 */
export function createCl100kTokenizer(): Tokenizer {
  let encoder: Tiktoken | undefined = get_encoding("cl100k_base");
  return {
    encoding: "cl100k_base",
    count(text: string): number {
      if (encoder === undefined) throw new Error("Tokenizer used after dispose()");
      if (text.length === 0) return 0;
      return encoder.encode_ordinary(text).length;
    },
    dispose(): void {
      encoder?.free();
      encoder = undefined;
    },
  };
}
