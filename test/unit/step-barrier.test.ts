import { describe, expect, it } from "vitest";
import { StepBarrier } from "../../functions/infer/step-barrier.ts";

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("StepBarrier", () => {
  it("holds each member's step until every member has arrived, then lets them all go", async () => {
    const barrier = new StepBarrier();
    const [a, b] = [{}, {}];
    barrier.join(a);
    barrier.join(b);
    let aDone = false;
    void barrier.arrive(a).then(() => (aDone = true));
    await turn();
    await turn();
    expect(aDone).toBe(false);
    expect(barrier.waiting).toBe(1);
    const bArrived = barrier.arrive(b);
    await bArrived;
    expect(aDone).toBe(true);
    expect(barrier.waiting).toBe(0);
  });

  it("a member that leaves is no longer waited for, and one that never joined is not held", async () => {
    const barrier = new StepBarrier();
    const [a, b] = [{}, {}];
    barrier.join(a);
    barrier.join(b);
    const held = barrier.arrive(a);
    barrier.leave(b);
    await held;
    await barrier.arrive({});
    barrier.leave(a);
    expect(barrier.waiting).toBe(0);
  });
});
