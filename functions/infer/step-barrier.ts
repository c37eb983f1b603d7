/**
 * Keeps the sequences generating on one context in step, so that llama.cpp decodes all their next tokens in one batch.
 *
 * node-llama-cpp batches the evaluations queued when it dispatches, and after a decode it dispatches again at once if
 * any evaluation is queued. Each sequence samples its token and asks for the next evaluation on its own schedule, so
 * the first to ask is decoded alone while the others are still sampling: the sequences fall out of step and stay out
 * of it (measured: one token per decode with 2 sequences). The barrier holds each generating sequence, once it has its
 * token, until every member has its token, and then lets all of them ask in the same turn of the event loop.
 */
export class StepBarrier {
  /** One barrier per context, for every generator on it (the engine's and the benchmark's). */
  private static readonly byContext = new WeakMap<object, StepBarrier>();

  /** The barrier of `context`, made on first use. */
  static of(context: object): StepBarrier {
    let barrier = StepBarrier.byContext.get(context);
    if (barrier === undefined) {
      barrier = new StepBarrier();
      StepBarrier.byContext.set(context, barrier);
    }
    return barrier;
  }

  private readonly members = new Set<object>();
  private readonly arrived = new Map<object, () => void>();
  private releaseScheduled = false;

  /** `member` generates from now on: the others wait for its tokens too. */
  join(member: object): void {
    this.members.add(member);
  }

  /** `member` stops generating (its answer ended, or it failed): nobody waits for it any more. */
  leave(member: object): void {
    this.members.delete(member);
    this.arrived.get(member)?.();
    this.arrived.delete(member);
    this.releaseIfAllArrived();
  }

  /** `member` has its token for this step: resolves when every member has one. */
  arrive(member: object): Promise<void> {
    if (!this.members.has(member)) return Promise.resolve();
    return new Promise((resolve) => {
      this.arrived.set(member, resolve);
      this.releaseIfAllArrived();
    });
  }

  /** Members now waiting for the others. */
  get waiting(): number {
    return this.arrived.size;
  }

  private releaseIfAllArrived(): void {
    if (this.releaseScheduled || this.arrived.size === 0 || this.arrived.size < this.members.size) return;
    this.releaseScheduled = true;
    // A turn later: node-llama-cpp's dispatch loop, which delivered these tokens, has then looked for queued work and
    // found none, so the next evaluations all start the next batch together.
    setImmediate(() => {
      this.releaseScheduled = false;
      const waiting = [...this.arrived.values()];
      this.arrived.clear();
      for (const resolve of waiting) resolve();
    });
  }
}
