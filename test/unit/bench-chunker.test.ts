import { describe, expect, it } from "vitest";
import { describeCorpus, describeTargets, judgeTargets, summarizeCorpus, type FileResult } from "../../bench/chunker.ts";
import { corpusMissingMessage } from "../../bench/corpus.ts";

/**
 * What `npm run bench -- chunker` says when the shared corpus is absent (or nothing in it could be compared): what is
 * missing and where to get it, never `NaN pages/s` or a goal reported as missed when it was never measured.
 */
const synthetic = (pages: number, peakRssMb: number) => ({ pages, ours: { peakRssMb } });

function result(file: string, overrides: { ok?: boolean; pdftotextOk?: boolean; pages?: number; tokens?: number } = {}): FileResult {
  const ok = overrides.ok ?? true;
  return {
    file,
    bytes: 1_000_000,
    ours: { file, bytes: 1_000_000, status: ok ? "ok" : "error", ...(ok ? {} : { code: "NO_TEXT_LAYER" }), pages: overrides.pages ?? 2, chunks: 1, tokens: overrides.tokens ?? 900, ms: 100 },
    pdftotext: { ok: overrides.pdftotextOk ?? true, ms: 50, chars: 4000, tokens: 1000, tokenizeMs: 2 },
  };
}

describe("npm run bench -- chunker without the corpus", () => {
  it("reports no corpus part instead of NaN rates, and says the corpus goals were not judged", () => {
    const corpus = summarizeCorpus([], [300]);
    expect(corpus).toBeNull();
    const text = [...describeCorpus(corpus), describeTargets(judgeTargets(corpus, synthetic(100, 300)))].join("\n");
    expect(text).not.toMatch(/NaN|Infinity|false/);
    expect(text).toMatch(/not measured \(no corpus/);
    expect(text).toMatch(/text yield[^\n]*not judged \(no corpus\)/);
    expect(text).toMatch(/1,000 pages under 1 GB[^\n]*not judged \(needs --pages 1000/);
    expect(JSON.stringify(judgeTargets(corpus, synthetic(1000, 400)))).toBe(
      JSON.stringify({ textYieldAtLeast98Percent: null, tokensWithin15Percent: null, throughputAtLeastOneThirdOfPdftotext: null, thousandPagesUnder1GB: true }),
    );
  });

  it("names what is missing, where developers have it and how anyone else points it at their own documents", () => {
    const message = corpusMissingMessage("/somewhere/corpus", "the corpus comparison is skipped");
    expect(message).toContain("No corpus at /somewhere/corpus");
    expect(message).toContain("../shared/corpus");
    expect(message).toContain("--corpus <dir>");
    for (const folder of ["pdfjs/", "docs/", "invoices/"]) expect(message).toContain(folder);
  });

  it("reports null rates, not NaN, when corpus files were read but none could be compared", () => {
    const corpus = summarizeCorpus([result("a.pdf", { ok: false }), result("b.pdf", { pdftotextOk: false })], [300]);
    expect(corpus).not.toBeNull();
    expect(corpus!.comparedFiles).toBe(0);
    expect(corpus!.ours.pagesPerSecond).toBeNull();
    expect(corpus!.throughputRatio).toBeNull();
    expect(JSON.stringify(corpus)).not.toMatch(/NaN|Infinity/);
    expect(describeCorpus(corpus).join("\n")).not.toMatch(/NaN|Infinity/);
    const targets = judgeTargets(corpus, synthetic(10, 300));
    expect(targets.throughputAtLeastOneThirdOfPdftotext).toBeNull();
    expect(describeTargets(targets, true)).toMatch(/throughput[^\n]*not judged \(no file of the corpus to compare it on\)/);
  });

  it("judges the goals on a corpus that was compared", () => {
    const corpus = summarizeCorpus([result("a.pdf"), result("b.pdf", { tokens: 500 })], [300]);
    expect(corpus).toMatchObject({ comparedFiles: 2, pages: 4, ours: { pagesPerSecond: 20 }, pdftotext: { pagesPerSecond: 40 }, throughputRatio: 0.5 });
    const targets = judgeTargets(corpus, synthetic(1000, 2000));
    expect(targets).toEqual({ textYieldAtLeast98Percent: true, tokensWithin15Percent: false, throughputAtLeastOneThirdOfPdftotext: true, thousandPagesUnder1GB: false });
    expect(describeTargets(targets)).toMatch(/tokens within 15 %[^\n]*: MISSED/);
  });
});
