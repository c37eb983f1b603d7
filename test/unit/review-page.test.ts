/**
 * The review page's pure parts (functions/review/review-page.ts, page-images.ts): which fields it lists and under which
 * paths, that document and model text cannot become markup or script, where boxes go on a page, and how the page
 * images are kept within their weight budget. The page in a real browser: test/browser/review-page.test.ts.
 */
import { describe, expect, it } from "vitest";
import { keepWithinBudget, MIN_REVIEW_DPI, MIN_REVIEW_JPEG_QUALITY, smallerSettings } from "../../functions/review/page-images.ts";
import {
  boxPercent,
  buildReviewPage,
  dataUrlLength,
  escapeHtml,
  REVIEW_PAGE_CSP,
  reviewFieldsOf,
  type ReviewPageImage,
  type ReviewPageInput,
} from "../../functions/review/review-page.ts";
import type { FieldGrounding } from "../../functions/shared/document-item.ts";

const HOSTILE = `</script><script>alert(1)</script><img src=x onerror="alert(2)">'&\u2028\u2029`;

function image(page: number, bytes = 30): ReviewPageImage {
  return { page, width: 595, height: 842, mime: "image/jpeg", data: new Uint8Array(bytes).fill(page) };
}

function input(overrides: Partial<ReviewPageInput> = {}): ReviewPageInput {
  return {
    documentId: "doc-1",
    sourceKey: "uploads/invoices/acme.pdf",
    status: "COMPLETED",
    schemaId: "invoice",
    needsReview: false,
    reviewReasons: [],
    fields: [],
    pages: [image(1)],
    ...overrides,
  };
}

const grounded = (page: number, x: number, y: number): FieldGrounding => ({
  match: "exact",
  page,
  charStart: 0,
  charEnd: 5,
  quote: "12.50",
  boxes: [{ page, x, y, width: 40, height: 10 }],
});

describe("reviewFieldsOf", () => {
  it("lists every scalar leaf in the result's order under the merge's paths, with its grounding and confidence", () => {
    const fields = reviewFieldsOf({
      result: {
        number: "INV-7",
        seller: { name: "Acme", address: { city: "Lisbon" } },
        lines: [
          { name: "Bolts", amount: 12.5 },
          { name: "Nuts", amount: null },
        ],
        tags: ["a", "b"],
        paid: false,
        empty: [],
      },
      grounding: { "lines[0].amount": grounded(2, 10, 20), number: { match: "exact", page: 1 } },
      confidence: { number: 0.9, "lines[0].amount": 0.75 },
    });
    expect(fields.map((field) => field.path)).toEqual([
      "number",
      "seller.name",
      "seller.address.city",
      "lines[0].name",
      "lines[0].amount",
      "lines[1].name",
      "lines[1].amount",
      "tags[0]",
      "tags[1]",
      "paid",
    ]);
    expect(fields[0]).toEqual({ path: "number", value: "INV-7", confidence: 0.9, grounding: { match: "exact", page: 1 } });
    expect(fields[4]).toEqual({ path: "lines[0].amount", value: 12.5, confidence: 0.75, grounding: grounded(2, 10, 20) });
    expect(fields[6]).toEqual({ path: "lines[1].amount", value: null });
    expect(fields[9]).toEqual({ path: "paid", value: false });
  });

  it("keeps a rejected value whose path the result no longer has, after the result's leaves", () => {
    const rejected: FieldGrounding = { match: "none", rejected: { value: "INV-9", reason: "ungrounded" } };
    const fields = reviewFieldsOf({
      result: { number: null, total: 3 },
      grounding: { "lines[3].sku": rejected, number: rejected, total: { match: "none" }, "gone[0]": { match: "none" } },
    });
    expect(fields.map((field) => [field.path, field.value])).toEqual([
      ["number", null],
      ["total", 3],
      ["lines[3].sku", null],
    ]);
    expect(fields[2]!.grounding).toEqual(rejected);
  });

  it("has nothing to list without a result", () => {
    expect(reviewFieldsOf({})).toEqual([]);
  });
});

describe("boxPercent", () => {
  it("places a box in percent of the page's size, from its top-left corner", () => {
    const at = boxPercent({ x: 59.5, y: 84.2, width: 119, height: 42.1 }, { width: 595, height: 842 });
    expect(at.left).toBeCloseTo(10, 9);
    expect(at.top).toBeCloseTo(10, 9);
    expect(at.width).toBeCloseTo(20, 9);
    expect(at.height).toBeCloseTo(5, 9);
  });

  it("clamps a box that reaches past the page's edges to the page", () => {
    const at = boxPercent({ x: -10, y: 800, width: 700, height: 100 }, { width: 600, height: 900 });
    expect(at.left).toBe(0);
    expect(at.width).toBe(100);
    expect(at.top).toBeCloseTo(88.889, 3);
    expect(at.top + at.height).toBe(100);
  });
});

describe("buildReviewPage", () => {
  it("escapes text for element content and quoted attributes", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });

  it("makes no markup or script of hostile document and model text", () => {
    const html = buildReviewPage(
      input({
        documentId: HOSTILE,
        sourceKey: HOSTILE,
        schemaId: HOSTILE,
        needsReview: true,
        reviewReasons: [{ code: "ungrounded", path: HOSTILE }],
        fields: [
          { path: HOSTILE, value: HOSTILE, confidence: 0.5, grounding: { ...grounded(1, 10, 10), quote: HOSTILE } },
          { path: "x", value: null, grounding: { match: "none", rejected: { value: { nested: HOSTILE }, reason: "ungrounded" } } },
          // A corrupted item: a match kind and a page that are not what the contract says.
          { path: "y", value: 1, grounding: { match: HOSTILE as "exact", page: HOSTILE as unknown as number } },
        ],
      }),
    );
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html.match(/<\/script/g)).toHaveLength(1);
    // Outside quoted attribute values (where a quote cannot appear unescaped), no tag has an event handler.
    expect(html.replace(/="[^"]*"/g, '=""')).not.toMatch(/<[^>]*onerror/);
    expect(html).not.toContain('onerror="');
    expect(html).not.toContain("<img src=x");
    expect(html.match(/<img /g)).toHaveLength(1);
    // The script is a constant: no document text reaches it, so it needs no escaping of its own.
    const script = html.slice(html.indexOf("<script>"), html.indexOf("</script>"));
    expect(script).not.toContain("alert");
    expect(html).toContain("&#60;/script&#62;&#60;script&#62;alert(1)");
  });

  it("allows no request: a CSP of inline code and data: images only, and no URL of any scheme", () => {
    const html = buildReviewPage(input({ fields: [{ path: "total", value: "https://example.com/x.png", grounding: grounded(1, 0, 0) }] }));
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${REVIEW_PAGE_CSP}">`);
    expect(REVIEW_PAGE_CSP).toBe("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
    const withoutValue = html.replaceAll("https://example.com/x.png", "");
    expect(withoutValue).not.toMatch(/(src|href)="(?!data:|#)/);
    expect(withoutValue).not.toMatch(/https?:|url\(|@import/);
  });

  it("draws a box over each grounded value on a page it shows, coloured by match, and none for values not found", () => {
    const html = buildReviewPage(
      input({
        pages: [image(1), image(3)],
        fields: [
          { path: "a", value: "x", grounding: grounded(1, 59.5, 84.2) },
          { path: "b", value: "y", grounding: { ...grounded(2, 0, 0), match: "normalised" } },
          { path: "c", value: "z", grounding: { ...grounded(3, 0, 0), match: "fuzzy", similarity: 0.86 } },
          { path: "d", value: "w", grounding: { match: "none" } },
          { path: "e", value: "v", grounding: { match: "ungroundable" } },
        ],
      }),
    );
    const boxes = [...html.matchAll(/<div class="box m-(\w+)" data-field="(\d+)" style="([^"]+)"/g)].map((match) => match.slice(1));
    expect(boxes).toEqual([
      ["exact", "0", "left:10%;top:10%;width:6.7227%;height:1.1876%"],
      ["fuzzy", "2", "left:0%;top:0%;width:6.7227%;height:1.1876%"],
    ]);
    // Page 2 is not shown: its field says so.
    expect(html).toMatch(/id="field-1"[^]*?p\. 2 <span class="note">\(not shown\)<\/span>/);
    expect(html).toContain("fuzzy 86 %");
    expect(html).toContain("not groundable");
    expect(html.match(/<figure class="page"/g)).toHaveLength(2);
  });

  it("embeds each page image as a data: URL and weighs what dataUrlLength says they add", () => {
    const bare = buildReviewPage(input({ pages: [] }));
    const pages = [image(1, 1000), image(2, 2001)];
    const html = buildReviewPage(input({ pages }));
    expect(html).toContain(`src="data:image/jpeg;base64,${Buffer.from(pages[0]!.data).toString("base64")}"`);
    const imagesWeight = pages.reduce((sum, page) => sum + dataUrlLength(page), 0);
    expect(dataUrlLength(pages[1]!)).toBe("data:image/jpeg;base64,".length + 2668);
    // The rest of the page (figures, captions) is small next to the images.
    expect(html.length - bare.length - imagesWeight).toBeGreaterThan(0);
    expect(html.length - bare.length - imagesWeight).toBeLessThan(500);
  });

  it("says whether the document needs review and why, linking field reasons to their field", () => {
    const html = buildReviewPage(
      input({
        needsReview: true,
        reviewReasons: [
          { code: "low-confidence", path: "total", confidence: 0.42, threshold: 0.6 },
          { code: "failed-chunks", chunks: [3, 4] },
          { code: "low-confidence-ocr", pages: [2] },
        ],
        fields: [{ path: "total", value: 9 }],
      }),
    );
    expect(html).toContain("Needs review");
    expect(html).toContain('Low confidence: <a href="#field-0" data-field-link="0"><code>total</code></a>: 42 % (below 60 %)');
    expect(html).toContain("Chunks failed: chunks 3, 4");
    expect(html).toContain("Pages read by OCR with low confidence: page 2");
    expect(buildReviewPage(input())).toContain("No review needed");
  });
});

describe("the page images' weight budget", () => {
  it("lowers the dpi with the square root of the excess, aiming a tenth under, and the quality a step", () => {
    expect(smallerSettings({ dpi: 110, quality: 70 }, 4_000_000, 1_000_000)).toEqual({ dpi: Math.floor(110 * Math.sqrt(0.225)), quality: 60 });
    // Barely over: the dpi drops a little, never rises.
    expect(smallerSettings({ dpi: 110, quality: 70 }, 1_000_001, 1_000_000)).toEqual({ dpi: 104, quality: 60 });
  });

  it("stops at its floor of dpi and quality", () => {
    expect(smallerSettings({ dpi: 50, quality: 45 }, 100_000_000, 1_000_000)).toEqual({ dpi: MIN_REVIEW_DPI, quality: MIN_REVIEW_JPEG_QUALITY });
    expect(smallerSettings({ dpi: MIN_REVIEW_DPI, quality: MIN_REVIEW_JPEG_QUALITY }, 100_000_000, 1_000_000)).toBeUndefined();
  });

  it("at the floor keeps the first pages that fit and reports the others", () => {
    const images = [image(1, 300), image(2, 3000), image(4, 300)];
    const weights = images.map(dataUrlLength);
    const skipped: number[] = [];
    const kept = keepWithinBudget(images, weights[0]! + weights[2]! + 10, (page) => skipped.push(page));
    expect(kept.map((kept) => kept.page)).toEqual([1, 4]);
    expect(skipped).toEqual([2]);
    expect(keepWithinBudget(images, 1, (page) => skipped.push(page))).toEqual([]);
  });
});
