import { describe, expect, it } from "vitest";
import { deadlineFrom, planChunk } from "../../functions/infer/budget.ts";
import { fitParallelSequences, runtimeOverheadBytes } from "../../functions/infer/sequences.ts";
import type { ChunkItem } from "../../functions/shared/contracts.ts";
import { chunkItem } from "../helpers/chunk-items.ts";
import { maxSplitDepth, minSplitChars, splitChunkItem, splitPoint } from "../../functions/infer/split-chunk.ts";

const item = (text: string, extra: Partial<ChunkItem> = {}): ChunkItem =>
  chunkItem({ documentId: "d", index: 3, chunkId: "abc", pageStart: 2, pageEnd: 4, charStart: 1000, charEnd: 1000 + text.length, tokenCount: 200, text, ...extra });

describe("splitting a chunk in two", () => {
  const paragraph = (n: number) => `Paragraph ${n} says something. It has two sentences.`;

  it("cuts at the paragraph break nearest the middle; the halves are exact slices with their offsets", () => {
    const text = [1, 2, 3, 4].map(paragraph).join("\n\n");
    const halves = splitChunkItem(item(text), text);
    expect(halves).toHaveLength(2);
    const [a, b] = halves!;
    expect(a.text! + b.text!).toBe(text);
    expect(a.text!.trimEnd().endsWith("Paragraph 2 says something. It has two sentences.")).toBe(true);
    expect(b.text!.startsWith("Paragraph 3")).toBe(true);
    expect([a.charStart, a.charEnd, b.charStart, b.charEnd]).toEqual([1000, 1000 + a.text!.length, 1000 + a.text!.length, 1000 + text.length]);
    expect([a.part, b.part]).toEqual(["1", "2"]);
    // The chunk's identity and pages stay the original's; tokens are shared out by length.
    expect([a.index, a.chunkId, a.pageStart, a.pageEnd]).toEqual([3, "abc", 2, 4]);
    expect(a.tokenCount + b.tokenCount).toBeGreaterThanOrEqual(199);
  });

  it("falls back to a sentence, then a word, then the middle (never inside a surrogate pair)", () => {
    const sentences = "One short sentence here. Another short sentence there. A third one to close.";
    const cut = splitPoint(sentences)!;
    expect(sentences.slice(0, cut)).toMatch(/\. $/);
    const words = "word ".repeat(30).trim();
    expect(words[splitPoint(words)! - 1]).toBe(" ");
    const emoji = "😀".repeat(40);
    const emojiCut = splitPoint(emoji)!;
    expect(emoji.slice(0, emojiCut) + emoji.slice(emojiCut)).toBe(emoji);
    expect(emoji.slice(0, emojiCut)).not.toMatch(/[\ud800-\udbff]$/);
  });

  it("numbers nested parts, keeps S3-held text in S3 with a range, and stops at the depth and size limits", () => {
    const text = "x ".repeat(200);
    const [first] = splitChunkItem(item(text, { part: "2.1" }), text)!;
    expect(first.part).toBe("2.1.1");
    const located = item(text, { text: undefined, textLocation: { bucket: "b", key: "k" }, textRange: { start: 50, end: 450 } });
    const [, second] = splitChunkItem(located, text)!;
    expect(second.text).toBeUndefined();
    expect(second.textLocation).toEqual({ bucket: "b", key: "k" });
    expect(second.textRange!.end).toBe(450);
    expect(second.textRange!.start).toBeGreaterThan(50);
    const deep = Array.from({ length: maxSplitDepth }, () => "1").join(".");
    expect(splitChunkItem(item(text, { part: deep }), text)).toBeUndefined();
    expect(splitChunkItem(item("a".repeat(minSplitChars - 1)), "a".repeat(minSplitChars - 1))).toBeUndefined();
  });
});

describe("planning a chunk against the invocation's deadline", () => {
  const now = 1_000_000;
  const deadline = { at: now + 60_000, freshBudgetMs: 600_000 };

  it("keeps a safety margin from Lambda's remaining time", () => {
    expect(deadlineFrom(900_000, 10_000, now)).toEqual({ at: now + 890_000, freshBudgetMs: 890_000 });
    expect(deadlineFrom(5_000, 10_000, now)).toEqual({ at: now, freshBudgetMs: 0 });
  });

  it("runs when nothing is measured yet, with the configured answer cap", () => {
    expect(planChunk({ promptTokens: 5000, maxOutputTokens: 1024, speeds: {}, deadline, now })).toEqual({
      decision: "run",
      estimatedMs: undefined,
      maxTokens: 1024,
    });
  });

  it("lowers the answer budget to what the remaining time allows", () => {
    const plan = planChunk({
      promptTokens: 1000,
      maxOutputTokens: 4096,
      speeds: { promptTokensPerSecond: 100, generationTokensPerSecond: 10, outputTokens: 200 },
      deadline,
      now,
    });
    // 10 s of prompt, 50 s left at 10 tokens/s.
    expect(plan).toEqual({ decision: "run", estimatedMs: 30_000, maxTokens: 500 });
  });

  it("leaves a chunk for a fresh invocation when it does not fit the time left, and splits one that fits no invocation", () => {
    const speeds = { promptTokensPerSecond: 100, generationTokensPerSecond: 10, outputTokens: 200 };
    expect(planChunk({ promptTokens: 6000, maxOutputTokens: 1024, speeds, deadline, now }).decision).toBe("later");
    expect(planChunk({ promptTokens: 60_000, maxOutputTokens: 1024, speeds, deadline, now }).decision).toBe("split");
    expect(planChunk({ promptTokens: 10, maxOutputTokens: 1024, speeds, deadline: { ...deadline, at: now }, now }).decision).toBe("later");
  });
});

describe("parallel sequences sized to memory", () => {
  const gb = 2 ** 30;
  it("takes as many as fit beside the model and the runtime, at least one, asking no further than needed", async () => {
    const asked: number[] = [];
    const contextBytes = async (n: number) => {
      asked.push(n);
      return n * 0.5 * gb;
    };
    expect(await fitParallelSequences({ wanted: 8, memoryBytes: 10 * gb, modelBytes: 1 * gb, contextBytes })).toBe(8);
    expect(await fitParallelSequences({ wanted: 8, memoryBytes: 3 * gb + runtimeOverheadBytes, modelBytes: 1 * gb, contextBytes })).toBe(4);
    expect(asked).toEqual([8, 8, 7, 6, 5, 4]);
    expect(await fitParallelSequences({ wanted: 8, memoryBytes: 1 * gb, modelBytes: 1 * gb, contextBytes })).toBe(1);
  });
});
