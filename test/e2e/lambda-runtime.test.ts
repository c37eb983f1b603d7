import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { handlerModule, LocalLambdaRuntime } from "../../infra/local/lambda-runtime.ts";

/** The twin's Lambda runtime (infra/local/lambda-runtime.ts): timeouts as Lambda counts them, and its containers. */
describe("the twin's Lambda runtime", () => {
  it("times an invocation out as Lambda does (Sandbox.Timedout), counting from after the init, and queues beyond its containers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llambda-runtime-"));
    try {
      // A slow init (300 ms) must not count against the 1 s timeout; the handler sleeps as asked.
      writeFileSync(
        join(dir, "handler.mjs"),
        "await new Promise((r) => setTimeout(r, 300));\n" +
          "export async function handler(event, context) { const left = context.getRemainingTimeInMillis(); await new Promise((r) => setTimeout(r, event.sleepMs)); return { left }; }\n",
      );
      const runtime = new LocalLambdaRuntime([{ name: "fn", init: handlerModule(join(dir, "handler.mjs")), timeoutSeconds: 1, memoryMb: 128, containers: 1 }]);
      const first = (await runtime.invoke("fn", { sleepMs: 10 })) as { left: number };
      expect(first.left).toBeGreaterThan(900);
      await expect(runtime.invoke("fn", { sleepMs: 1500 })).rejects.toMatchObject({ name: "Sandbox.Timedout" });
      // One container: the second invocation starts when the first ends, with its own full second.
      const started = Date.now();
      const [a, b] = (await Promise.all([runtime.invoke("fn", { sleepMs: 600 }), runtime.invoke("fn", { sleepMs: 600 })])) as Array<{ left: number }>;
      expect(Date.now() - started).toBeGreaterThanOrEqual(1150);
      expect(Math.min(a!.left, b!.left)).toBeGreaterThan(900);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
