/**
 * How many chunks one container extracts at once: parallel sequences of one llama.cpp context, decoded in the same
 * batches. Each sequence holds its own KV cache of `contextSize` tokens, so the count is bounded by memory.
 */

/** Room left for Node, the runtime and llama.cpp's compute buffers beside the model and the KV cache. */
export const runtimeOverheadBytes = 512 * 1024 * 1024;

export async function fitParallelSequences(args: {
  wanted: number;
  memoryBytes: number;
  modelBytes: number;
  /** Bytes a context with `n` sequences needs (KV cache and buffers), e.g. from node-llama-cpp's GGUF insights. */
  contextBytes: (sequences: number) => number | Promise<number>;
}): Promise<number> {
  const available = args.memoryBytes - args.modelBytes - runtimeOverheadBytes;
  // From the wanted count down, asking only until one fits (each estimate costs a little at cold start).
  for (let n = Math.max(1, Math.floor(args.wanted)); n > 1; n--) {
    if ((await args.contextBytes(n)) <= available) return n;
  }
  return 1;
}
