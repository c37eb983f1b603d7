import type { SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { admitUploads, maxRunningDocumentsFor } from "../../functions/start/admission.ts";
import { LocalQueue } from "../../infra/local/sqs-queue.ts";

describe("admission of queued uploads", () => {
  it("sizes the running documents to the inference concurrency and the open Map Run quota", () => {
    expect(maxRunningDocumentsFor({ maxConcurrency: 20 })).toBe(40); // 800 of the account's 1,000 ÷ 20
    expect(maxRunningDocumentsFor({ maxConcurrency: 20, inferReservedConcurrency: 100 })).toBe(5);
    expect(maxRunningDocumentsFor({ maxConcurrency: 8, inferReservedConcurrency: 5 })).toBe(1);
    expect(maxRunningDocumentsFor({ maxConcurrency: 1, inferReservedConcurrency: 5000 })).toBe(900);
  });

  it("starts uploads while there is room, leaves the rest waiting, and treats duplicates as done", async () => {
    const started: string[] = [];
    const outcome = await admitUploads(
      ["a", "b", "dup", "c", "d"].map((body, i) => ({ messageId: `m${i}`, body })),
      {
        maxRunningDocuments: 4,
        countRunning: async (atLeast) => {
          expect(atLeast).toBe(4);
          return 1;
        },
        start: async (body) => {
          if (body === "dup") return "duplicate";
          started.push(body);
          return "started";
        },
      },
    );
    expect(started).toEqual(["a", "b", "c"]);
    expect(outcome).toEqual({ started: ["m0", "m1", "m3"], duplicates: ["m2"], waiting: ["m4"] });
  });

  it("takes only its share of the free room, so concurrent start invocations overshoot by at most one each", async () => {
    const admit = (running: number) =>
      admitUploads([...Array(10).keys()].map((i) => ({ messageId: `m${i}`, body: i })), {
        maxRunningDocuments: 5,
        pollers: 2,
        countRunning: async () => running,
        start: async () => "started",
      });
    expect((await admit(0)).started).toHaveLength(3); // ceil(5 / 2): two pollers together start at most 6
    expect((await admit(4)).started).toHaveLength(1);
    expect((await admit(5)).started).toHaveLength(0);
  });

  it("keeps an upload queued when its start fails, and starts none when the workflow is full", async () => {
    const errors: string[] = [];
    const failing = await admitUploads([{ messageId: "m0", body: 1 }, { messageId: "m1", body: 2 }], {
      maxRunningDocuments: 10,
      countRunning: async () => 0,
      start: async (body) => {
        if (body === 1) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        return "started";
      },
      onStartError: (messageId) => errors.push(messageId),
    });
    expect(failing).toEqual({ started: ["m1"], duplicates: [], waiting: ["m0"] });
    expect(errors).toEqual(["m0"]);
    const full = await admitUploads([{ messageId: "m0", body: 1 }], {
      maxRunningDocuments: 2,
      countRunning: async () => 2,
      start: async () => {
        throw new Error("must not start");
      },
    });
    expect(full.waiting).toEqual(["m0"]);
  });
});

describe("the twin's SQS queue and event source mapping", () => {
  const until = async (condition: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it("delivers in batches, deletes what succeeded, redelivers failures after the visibility timeout", async () => {
    const batches: string[][] = [];
    let refuseB = 2;
    const queue = new LocalQueue({ name: "q", visibilityMs: 50, maxReceiveCount: 10, batchSize: 2, maxConcurrency: 1 }, async (event: SQSEvent) => {
      batches.push(event.Records.map((r) => r.body));
      const failing = event.Records.filter((r) => r.body === "b" && refuseB-- > 0);
      return { batchItemFailures: failing.map((r) => ({ itemIdentifier: r.messageId })) };
    });
    const sent = ["a", "b", "c"].map((body) => queue.send(body));
    const outcomes = await Promise.all(sent.map((message) => message.done));
    queue.stop();
    expect(outcomes).toEqual(["deleted", "deleted", "deleted"]);
    expect(batches[0]).toEqual(["a", "b"]);
    expect(batches.flat().filter((body) => body === "b")).toHaveLength(3);
    expect(queue.depth).toBe(0);
  });

  it("moves a message to the dead letters after maxReceiveCount receives, and counts a thrown batch as failed", async () => {
    const receives: string[] = [];
    const queue = new LocalQueue({ name: "q", visibilityMs: 5, maxReceiveCount: 3, batchSize: 10, maxConcurrency: 2 }, async (event) => {
      receives.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
      throw new Error("handler crashed");
    });
    const { done } = queue.send("poison");
    expect(await done).toBe("dead-lettered");
    await until(() => queue.deadLetters.length > 0);
    queue.stop();
    expect(receives).toEqual(["1", "2", "3"]);
    expect(queue.deadLetters).toEqual(["poison"]);
  });
});
