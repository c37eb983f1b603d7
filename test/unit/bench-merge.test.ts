import { describe, expect, it } from "vitest";
import { syntheticMerge } from "../../bench/merge.ts";
import { assessFieldTrust } from "../../functions/merge/field-trust.ts";
import { groundValue } from "../../functions/merge/grounding.ts";
import { mergeChunkResults } from "../../functions/merge/merge.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";

describe("the merge bench's synthetic document", () => {
  it("has chunks that are its pages, and answers whose values are found as written, in other forms, or not at all", () => {
    const { layout, results } = syntheticMerge(6);
    expect(layout.chunks).toHaveLength(6);
    for (const chunk of layout.chunks) {
      const page = layout.pages[chunk.index]!;
      expect([chunk.charStart, chunk.charEnd]).toEqual([page.charStart, page.charEnd]);
    }
    expect(layout.pages.map((page) => layout.text.slice(page.charStart, page.charEnd)).join("\n\n")).toBe(layout.text);
    const schema = getExtractionSchema("invoice");
    const merged = mergeChunkResults(results, schema);
    const trust = assessFieldTrust({
      result: merged.value,
      provenance: merged.provenance,
      conflicts: merged.conflicts,
      schema,
      chunkResults: results,
      ground: (value, chunks) => groundValue(value, layout, chunks),
    });
    const matches = Object.values(trust.grounding!).map((g) => g.match);
    // Grounding is measured on all its paths: as written, other written forms, values it looks for in vain.
    expect(matches).toContain("exact");
    expect(matches).toContain("normalised");
    expect(matches).toContain("none");
    expect(trust.grounding!.date).toMatchObject({ match: "normalised", quote: "5 March 2024" });
  });
});
