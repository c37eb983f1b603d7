/**
 * Bench-only instrumentation of node-llama-cpp's native context calls. node-llama-cpp has no counters for its decodes
 * and sample calls, so while a benchmark runs this puts timed wrappers over `decodeBatch` and `sampleToken` of the
 * context's addon object (`_ctx`, internal to node-llama-cpp 3.21.1) and takes them off again afterwards.
 */
import type { LlamaContext } from "node-llama-cpp";

/** One timed native call (performance.now() ms). */
export interface CallSpan {
  kind: "decode" | "sample";
  start: number;
  end: number;
}

const methods = { decodeBatch: "decode", sampleToken: "sample" } as const;

/** Times the context's native decode and sample calls into `calls` until the returned function is called. */
export function timeNativeCalls(context: LlamaContext, calls: CallSpan[]): () => void {
  const native = (context as unknown as { _ctx: Record<string, unknown> })._ctx;
  const own = new Map<string, PropertyDescriptor | undefined>();
  for (const [method, kind] of Object.entries(methods)) {
    own.set(method, Object.getOwnPropertyDescriptor(native, method));
    const original = native[method] as (...args: unknown[]) => Promise<unknown>;
    // An own property over the prototype's method (defined: N-API's methods are read-only, so assigning throws);
    // node-llama-cpp's other calls on the object go untouched.
    Object.defineProperty(native, method, {
      configurable: true,
      writable: true,
      value: async (...args: unknown[]) => {
        const start = performance.now();
        try {
          return await original.apply(native, args);
        } finally {
          calls.push({ kind, start, end: performance.now() });
        }
      },
    });
  }
  return () => {
    for (const [method, descriptor] of own) {
      if (descriptor) Object.defineProperty(native, method, descriptor);
      else delete native[method];
    }
  };
}
