/**
 * The parallel sequences of the engine's contexts, handed out one chunk at a time: a chunk waits for a free sequence,
 * and a released sequence goes to the longest-waiting chunk first.
 */
import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";

export class SequencePool {
  /** Free sequences by rank, lowest last (taken first). */
  private readonly freeSequences: LlamaContextSequence[] = [];
  private readonly rank = new Map<LlamaContextSequence, number>();
  private readonly waiting: Array<(sequence: LlamaContextSequence) => void> = [];

  /** `create`: a new sequence of a context (default: a plain one). */
  constructor(contexts: readonly LlamaContext[], create: (context: LlamaContext) => LlamaContextSequence = (context) => context.getSequence()) {
    // Ranked round-robin over the contexts, so consecutive chunks land on different contexts; within a context the
    // lowest sequence ids go first. The patched addon decodes in one graph computation only sequences whose ids follow
    // each other (layers/llama-addon/README.md), so the sequences at work should be the lowest ids, without gaps.
    const perContext = contexts.map((context) => Array.from({ length: context.totalSequences }, () => create(context)));
    const longest = Math.max(...perContext.map((list) => list.length));
    for (let i = 0; i < longest; i++) {
      for (const list of perContext) {
        const sequence = list[i];
        if (sequence) this.rank.set(sequence, this.rank.size);
      }
    }
    this.freeSequences.push(...[...this.rank.keys()].reverse());
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
    if (next) {
      next(sequence);
      return;
    }
    // Back in rank order: the lowest-ranked free sequence is taken next.
    const rank = this.rank.get(sequence)!;
    const at = this.freeSequences.findIndex((free) => this.rank.get(free)! < rank);
    this.freeSequences.splice(at === -1 ? this.freeSequences.length : at, 0, sequence);
  }
}
