import { describe, expect, it } from "vitest";
import type { LlamaContext } from "node-llama-cpp";
import { timeNativeCalls, type CallSpan } from "../../bench/native-calls.ts";

/** Stands in for node-llama-cpp's addon context: methods on the prototype, read-only as N-API defines them. */
function fakeContext() {
  const prototype = {};
  for (const name of ["decodeBatch", "sampleToken", "addToBatch"]) {
    Object.defineProperty(prototype, name, {
      writable: false,
      value: function (this: { log: string[] }, ...args: unknown[]) {
        this.log.push(`${name}(${args.join(",")})`);
        return name === "addToBatch" ? 7 : Promise.resolve(`${name} done`);
      },
    });
  }
  const native = Object.assign(Object.create(prototype) as Record<string, (...args: unknown[]) => unknown>, { log: [] as string[] });
  return { context: { _ctx: native } as unknown as LlamaContext, native, prototype };
}

describe("timeNativeCalls", () => {
  it("times decode and sample calls, passing arguments and results through, and leaves other methods alone", async () => {
    const { context, native } = fakeContext();
    const calls: CallSpan[] = [];
    const stop = timeNativeCalls(context, calls);
    expect(await native.decodeBatch!()).toBe("decodeBatch done");
    expect(await native.sampleToken!(3, "sampler")).toBe("sampleToken done");
    expect(native.addToBatch!(1, 2)).toBe(7);
    stop();
    expect(calls.map((call) => call.kind)).toEqual(["decode", "sample"]);
    for (const call of calls) expect(call.end).toBeGreaterThanOrEqual(call.start);
    expect(native.log).toEqual(["decodeBatch()", "sampleToken(3,sampler)", "addToBatch(1,2)"]);
  });

  it("puts the prototype's methods back when stopped: later calls are not recorded", async () => {
    const { context, native, prototype } = fakeContext();
    const calls: CallSpan[] = [];
    timeNativeCalls(context, calls)();
    expect(Object.hasOwn(native, "decodeBatch")).toBe(false);
    expect(native.decodeBatch).toBe((prototype as Record<string, unknown>).decodeBatch);
    await native.decodeBatch!();
    expect(calls).toEqual([]);
  });
});
