/**
 * The twin enforces a function's memory size as Lambda does its own: an invocation during which the process grows
 * by more than the function's memory fails with Runtime.OutOfMemory; the workflow does not retry it and the item is
 * recorded FAILED with that error.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultInjector, parseFaults } from "../../infra/local/faults.ts";
import { handlerModule, LocalLambdaRuntime } from "../../infra/local/lambda-runtime.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

describe("the twin's Lambda runtime enforces memory size", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "llambda-runtime-memory-"));
    // Touches `mb` MiB in 8 MiB steps (Buffer.alloc writes the pages, so they count in RSS), yielding between steps.
    writeFileSync(
      join(dir, "allocate.mjs"),
      `export async function handler(event) {
  const held = [];
  if (event.delayMs) await new Promise((resolve) => setTimeout(resolve, event.delayMs));
  for (let i = 0; i < event.mb / 8; i++) {
    held.push(Buffer.alloc(8 * 1024 * 1024, 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { allocatedMb: held.length * 8 };
}
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fails an invocation that grows past the function's memory with Runtime.OutOfMemory, and lets one within it finish", async () => {
    const runtime = new LocalLambdaRuntime([{ name: "allocate", init: handlerModule(join(dir, "allocate.mjs")), timeoutSeconds: 60, memoryMb: 128 }]);
    await expect(runtime.invoke("allocate", { mb: 16 })).resolves.toEqual({ allocatedMb: 16 });
    const failure = runtime.invoke("allocate", { mb: 512 });
    await expect(failure).rejects.toMatchObject({ name: "Runtime.OutOfMemory" });
    await expect(failure).rejects.toThrow(/Runtime exited with error: signal: killed.*the function has 128 MB/);
  });

  it("does not charge one invocation for another's growth while both run", async () => {
    const runtime = new LocalLambdaRuntime([
      { name: "small", init: handlerModule(join(dir, "allocate.mjs")), timeoutSeconds: 60, memoryMb: 128 },
      { name: "large", init: handlerModule(join(dir, "allocate.mjs")), timeoutSeconds: 60, memoryMb: 4096 },
    ]);
    // "small" allocates 8 MiB slowly enough to overlap the whole of "large"'s 512 MiB.
    const [small, large] = await Promise.all([runtime.invoke("small", { mb: 8, delayMs: 1500 }), runtime.invoke("large", { mb: 512 })]);
    expect(small).toEqual({ allocatedMb: 8 });
    expect(large).toEqual({ allocatedMb: 512 });
  });
});

describe("the workflow meets Runtime.OutOfMemory from the chunk function", () => {
  let fixture: TestTwin;
  const faults = new FaultInjector(parseFaults("chunk:oom=1"));

  beforeAll(async () => {
    fixture = await startTestTwin({ faults });
  }, 180_000);
  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("is not retried, and the item is FAILED with the error and Lambda's cause", async () => {
    const { documentId } = await fixture.twin.uploadBytes(new TextEncoder().encode("A short note about memory."), "uploads/e2e/oom.txt");
    const item = await fixture.twin.waitForDocument(documentId);
    expect(item?.status).toBe("FAILED");
    expect(item?.error).toBe("Runtime.OutOfMemory");
    expect(item?.cause).toContain("signal: killed");
    // One invocation: a retry would draw the fault again and count it.
    expect(faults.injected).toEqual({ "chunk:oom": 1 });
  }, 180_000);
});
