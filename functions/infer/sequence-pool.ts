/**
 * The parallel sequences of the engine's contexts, handed out one chunk at a time: a chunk waits for a free sequence,
 * and a released sequence goes to the longest-waiting chunk first.
 */
import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";

export class SequencePool {
  private readonly freeSequences: LlamaContextSequence[] = [];
  private readonly waiting: Array<(sequence: LlamaContextSequence) => void> = [];

  /** `create`: a new sequence of a context (default: a plain one). */
  constructor(contexts: readonly LlamaContext[], create: (context: LlamaContext) => LlamaContextSequence = (context) => context.getSequence()) {
    // Interleaved, and taken from the end: consecutive chunks land on different contexts.
    const perContext = contexts.map((context) => Array.from({ length: context.totalSequences }, () => create(context)));
    const longest = Math.max(...perContext.map((list) => list.length));
    for (let i = longest - 1; i >= 0; i--) {
      for (let c = perContext.length - 1; c >= 0; c--) {
        const sequence = perContext[c]![i];
        if (sequence) this.freeSequences.push(sequence);
      }
    }
  }

  /** Runs `work` on a free sequence (waiting for one), and frees it after. */
  async withSequence<T>(work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const sequence = await this.acquire();
    try {
      return await work(sequence);
    } finally {
      this.release(sequence);
    }
  }

  private acquire(): Promise<LlamaContextSequence> {
    const free = this.freeSequences.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(sequence: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next(sequence);
    else this.freeSequences.push(sequence);
  }
}
