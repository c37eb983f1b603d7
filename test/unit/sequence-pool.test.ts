import type { LlamaContext, LlamaContextSequence } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { SequencePool } from "../../functions/infer/sequence-pool.ts";

interface FakeSequence {
  context: string;
  id: number;
}

/** A pool over fake contexts whose sequences say which context and id they are. */
function pool(sizes: Record<string, number>): SequencePool {
  const contexts = Object.entries(sizes).map(([name, totalSequences]) => ({ name, totalSequences, next: 0 }));
  return new SequencePool(contexts as unknown as LlamaContext[], (context) => {
    const fake = context as unknown as { name: string; next: number };
    return { context: fake.name, id: fake.next++ } as unknown as LlamaContextSequence;
  });
}

const name = (sequence: LlamaContextSequence) => {
  const { context, id } = sequence as unknown as FakeSequence;
  return `${context}${id}`;
};

/** Holds `count` sequences until the returned release is called; resolves with their names once all are held. */
async function hold(sequences: SequencePool, count: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const names: string[] = [];
  let allHeld!: () => void;
  const held = new Promise<void>((resolve) => (allHeld = resolve));
  const done = Array.from({ length: count }, () =>
    sequences.withSequence(async (sequence) => {
      names.push(name(sequence));
      if (names.length === count) allHeld();
      await released;
    }),
  );
  await held;
  return { names, release: async () => (release(), await Promise.all(done)) };
}

describe("SequencePool", () => {
  it("hands out the lowest sequence ids first, alternating contexts", async () => {
    const sequences = pool({ a: 3, b: 2 });
    const { names, release } = await hold(sequences, 5);
    expect(names).toEqual(["a0", "b0", "a1", "b1", "a2"]);
    await release();
  });

  it("takes the lowest free sequence after releases in any order, so the sequences at work have no gaps", async () => {
    const sequences = pool({ a: 4 });
    // Sequences 0-3 busy, then freed in the order 1, 3, 0, 2.
    const releases: Array<() => void> = [];
    const done = [0, 1, 2, 3].map(() => sequences.withSequence(() => new Promise<void>((resolve) => releases.push(resolve))));
    await new Promise((resolve) => setImmediate(resolve));
    for (const i of [1, 3, 0, 2]) releases[i]!();
    await Promise.all(done);
    const { names, release } = await hold(sequences, 3);
    expect(names).toEqual(["a0", "a1", "a2"]);
    await release();
  });

  it("gives a released sequence to the longest-waiting chunk", async () => {
    const sequences = pool({ a: 1 });
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = sequences.withSequence(() => new Promise<void>((resolve) => (releaseFirst = resolve)));
    const second = sequences.withSequence(async (sequence) => void order.push(`second:${name(sequence)}`));
    const third = sequences.withSequence(async (sequence) => void order.push(`third:${name(sequence)}`));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    releaseFirst();
    await Promise.all([first, second, third]);
    expect(order).toEqual(["second:a0", "third:a0"]);
  });
});
