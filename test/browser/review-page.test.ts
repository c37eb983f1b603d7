/**
 * The review page in a real browser: a 3-page invoice PDF (made here, values known) rendered by renderPageImages, its
 * values grounded from pdf.js's own text positions, the page built by buildReviewPage and opened from a file in
 * headless Chromium (Debian's `chromium`, driven by playwright-core; no browser download). It checks that the page makes
 * no request, that every grounded value's box is visible, inside its page image, where pdf.js drew the value and over
 * ink, that clicking a field shows its box and clicking a box its field, and that the page weighs under 2 MB. A
 * full-page screenshot goes to test-results/review-page/ (gitignored).
 *
 * Skips with a message when Chromium is absent (LLAMBDA_CHROMIUM names another binary); `.ci/run` installs it.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PDFDocument, rgb, StandardFonts } from "pdf-lib";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPageImages } from "../../functions/review/page-images.ts";
import { buildReviewPage, type ReviewField, type ReviewPageImage } from "../../functions/review/review-page.ts";
import type { FieldGrounding, PageBox } from "../../functions/shared/document-item.ts";
import { pdfjsRenderingOptions } from "../../functions/shared/page-render/render-page.ts";
import { repoRoot } from "../helpers/repo-root.ts";

/** The few DOM names the functions run in the page use (the project compiles without the DOM library). */
interface DomRect {
  top: number;
  bottom: number;
  left: number;
  right: number;
}
interface DomElement {
  getAttribute(name: string): string | null;
  getBoundingClientRect(): DomRect;
}
interface DomImage extends DomElement {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}
interface DomCanvas {
  width: number;
  height: number;
  getContext(kind: "2d"): {
    drawImage(image: DomImage, x: number, y: number): void;
    getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray };
  } | null;
}
declare const document: {
  images: ArrayLike<DomImage>;
  elementFromPoint(x: number, y: number): DomElement | null;
  querySelector(query: string): DomElement | null;
  createElement(tag: "canvas"): DomCanvas;
};
declare const window: { innerHeight: number; innerWidth: number; scrollTo(x: number, y: number): void };

const CHROMIUM = process.env.LLAMBDA_CHROMIUM ?? "/usr/bin/chromium";
const chromiumPresent = existsSync(CHROMIUM);
const SCREENSHOT_DIR = join(repoRoot, "test-results", "review-page");

/** The invoice's pages: [width, height] in points (page 3 is landscape) and the values drawn on each, by field path. */
const PAGES: Array<{ size: [number, number]; values: Record<string, { text: string; x: number; y: number; size: number }> }> = [
  {
    size: [595, 842],
    values: {
      "seller.name": { text: "Northwind Traders GmbH", x: 50, y: 770, size: 18 },
      number: { text: "NW-2031-0042", x: 400, y: 700, size: 11 },
      date: { text: "17 May 2031", x: 400, y: 680, size: 11 },
      "buyer.name": { text: "Contoso Ltd", x: 50, y: 600, size: 11 },
    },
  },
  {
    size: [595, 842],
    values: {
      "lines[0].description": { text: "Conveyor belt CB-9", x: 50, y: 700, size: 10 },
      "lines[0].amount": { text: "4,200.00", x: 480, y: 700, size: 10 },
      "lines[1].description": { text: "Roller bearing RB-2", x: 50, y: 680, size: 10 },
      "lines[1].amount": { text: "336.00", x: 480, y: 680, size: 10 },
    },
  },
  {
    size: [842, 595],
    values: {
      subtotal: { text: "4,536.00", x: 700, y: 400, size: 11 },
      total: { text: "5,397.84", x: 700, y: 370, size: 14 },
      iban: { text: "DE89 3704 0044 0532 0130 00", x: 60, y: 120, size: 10 },
    },
  },
];

/** Labels and decoration: text that is not a value, so a box in the wrong place would not land on a value by luck. */
async function invoicePdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  pdf.setCreationDate(new Date("2031-05-17T09:00:00Z"));
  pdf.setModificationDate(new Date("2031-05-17T09:00:00Z"));
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const labels: Array<Array<[string, number, number]>> = [
    [
      ["Invoice number", 280, 700],
      ["Invoice date", 280, 680],
      ["Bill to", 50, 620],
      ["Hauptstrasse 5, 10115 Berlin", 50, 750],
    ],
    [
      ["Description", 50, 730],
      ["Amount EUR", 480, 730],
    ],
    [
      ["Subtotal", 560, 400],
      ["Total due", 560, 370],
      ["Pay to IBAN", 60, 140],
    ],
  ];
  PAGES.forEach((spec, index) => {
    const page = pdf.addPage(spec.size);
    page.drawRectangle({ x: 0, y: spec.size[1] - 24, width: spec.size[0], height: 24, color: rgb(0.12, 0.35, 0.65) });
    for (const [text, x, y] of labels[index]!) page.drawText(text, { x, y, size: 10, font, color: rgb(0.35, 0.35, 0.35) });
    for (const value of Object.values(spec.values)) page.drawText(value.text, { x: value.x, y: value.y, size: value.size, font });
  });
  return pdf.save({ useObjectStreams: false });
}

/** Where pdf.js says each value is drawn: its text item's rectangle, in points from the top-left corner as shown. */
async function valueBoxes(bytes: Uint8Array): Promise<Map<string, PageBox>> {
  const doc = await getDocument({ data: bytes.slice(), ...pdfjsRenderingOptions() }).promise;
  const boxes = new Map<string, PageBox>();
  try {
    for (const [index, spec] of PAGES.entries()) {
      const page = await doc.getPage(index + 1);
      const viewport = page.getViewport({ scale: 1 });
      const items = (await page.getTextContent()).items.filter((item) => "str" in item);
      for (const [path, value] of Object.entries(spec.values)) {
        const item = items.find((candidate) => candidate.str === value.text);
        if (item === undefined) throw new Error(`pdf.js has no text item "${value.text}" on page ${index + 1}`);
        const [, , , , x, y] = item.transform as number[];
        // From a little under the baseline (descenders) to the font's size above it.
        const [x0, y0, x1, y1] = viewport.convertToViewportRectangle([x!, y! - item.height * 0.25, x! + item.width, y! + item.height]);
        boxes.set(path, { page: index + 1, x: Math.min(x0!, x1!), y: Math.min(y0!, y1!), width: Math.abs(x1! - x0!), height: Math.abs(y1! - y0!) });
      }
      page.cleanup();
    }
  } finally {
    await doc.destroy();
  }
  return boxes;
}

function fieldsOf(boxes: Map<string, PageBox>): ReviewField[] {
  const grounded = PAGES.flatMap((spec) =>
    Object.entries(spec.values).map(([path, value]): ReviewField => {
      const box = boxes.get(path)!;
      const grounding: FieldGrounding = { match: path === "date" ? "normalised" : "exact", page: box.page, quote: value.text, boxes: [box] };
      return { path, value: path === "date" ? "2031-05-17" : value.text, confidence: path === "date" ? 0.8 : 0.95, grounding };
    }),
  );
  return [
    ...grounded,
    { path: "currency", value: "EUR", confidence: 0.6, grounding: { match: "ungroundable" } },
    { path: "order_number", value: null, confidence: 0, grounding: { match: "none", rejected: { value: "PO-0000", reason: "ungrounded" } } },
  ];
}

describe.skipIf(!chromiumPresent)(
  `the review page in headless Chromium${chromiumPresent ? "" : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set LLAMBDA_CHROMIUM)`}`,
  () => {
    let browser: Browser;
    let page: Page;
    let fields: ReviewField[];
    let images: ReviewPageImage[];
    let html: string;
    const requests: string[] = [];
    const problems: string[] = [];

    beforeAll(async () => {
      const bytes = await invoicePdf();
      fields = fieldsOf(await valueBoxes(bytes));
      const started = performance.now();
      images = await renderPageImages({ bytes, key: "uploads/invoices/northwind.pdf", pages: [1, 2, 3] });
      const renderMs = performance.now() - started;
      html = buildReviewPage({
        documentId: "doc-northwind",
        sourceKey: "uploads/invoices/northwind.pdf",
        status: "COMPLETED",
        schemaId: "invoice",
        needsReview: true,
        reviewReasons: [
          { code: "rejected", path: "order_number" },
          { code: "low-confidence", path: "currency", confidence: 0.6, threshold: 0.7 },
        ],
        fields,
        pages: images,
      });
      // For the record, not a pass/fail bound.
      console.log(
        `review page: ${html.length} bytes; images ${images.map((image) => `p${image.page} ${image.data.byteLength} B`).join(", ")}; ` +
          `rendered in ${Math.round(renderMs)} ms (${Math.round(renderMs / images.length)} ms a page, worker start-up included)`,
      );
      const file = join(tmpdir(), "review-page.html");
      writeFileSync(file, html);
      const fileUrl = pathToFileURL(file).href;

      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, deviceScaleFactor: 1 });
      // Anything but the file itself is a request the page must not make; it is recorded and refused.
      await context.route("**/*", async (route) => {
        const url = route.request().url();
        if (url === fileUrl) return route.continue();
        requests.push(url);
        return route.abort();
      });
      context.on("request", (request) => {
        const url = request.url();
        if (url !== fileUrl && !url.startsWith("data:")) requests.push(url);
      });
      context.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
      page = await context.newPage();
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()}: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      await page.goto(fileUrl, { waitUntil: "load" });
      await page.waitForFunction(() => Array.from(document.images).every((image) => image.complete && image.naturalWidth > 0));
    });

    afterAll(async () => {
      await browser?.close();
    });

    it("weighs under 2 MB and makes no request of any kind", async () => {
      expect(Buffer.byteLength(html, "utf8")).toBeLessThan(2 * 1024 * 1024);
      expect(images.map((image) => image.page)).toEqual([1, 2, 3]);
      expect(await page.locator("figure.page img").count()).toBe(3);
      expect(requests).toEqual([]);
      expect(problems).toEqual([]);
    });

    it("shows every grounded value's box, inside its page image, where pdf.js drew the value, over ink", async () => {
      const grounded = fields.flatMap((field, index) => (field.grounding?.boxes ?? []).map((box) => ({ index, box, field })));
      expect(grounded).toHaveLength(11);
      expect(await page.locator(".box").count()).toBe(grounded.length);
      for (const { index, box, field } of grounded) {
        const element = page.locator(`.box[data-field="${index}"]`);
        await element.scrollIntoViewIfNeeded();
        expect(await element.isVisible(), field.path).toBe(true);
        const rect = (await element.boundingBox())!;
        const imageRect = (await page.locator(`#page-${box.page} img`).boundingBox())!;
        const shown = images.find((image) => image.page === box.page)!;
        // Inside the page image.
        expect(rect.x, field.path).toBeGreaterThanOrEqual(imageRect.x - 0.5);
        expect(rect.y, field.path).toBeGreaterThanOrEqual(imageRect.y - 0.5);
        expect(rect.x + rect.width, field.path).toBeLessThanOrEqual(imageRect.x + imageRect.width + 0.5);
        expect(rect.y + rect.height, field.path).toBeLessThanOrEqual(imageRect.y + imageRect.height + 0.5);
        // Where pdf.js's text item is, scaled to the image as shown, within 2 px.
        const scaleX = imageRect.width / shown.width;
        const scaleY = imageRect.height / shown.height;
        expect(Math.abs(rect.x - (imageRect.x + box.x * scaleX)), field.path).toBeLessThanOrEqual(2);
        expect(Math.abs(rect.y - (imageRect.y + box.y * scaleY)), field.path).toBeLessThanOrEqual(2);
        expect(Math.abs(rect.width - box.width * scaleX), field.path).toBeLessThanOrEqual(2);
        expect(Math.abs(rect.height - box.height * scaleY), field.path).toBeLessThanOrEqual(2);
        // Nothing covers it: the topmost element at its centre is the box.
        const topmost = await page.evaluate(
          ({ x, y }) => document.elementFromPoint(x, y)?.getAttribute("data-field") ?? null,
          { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 },
        );
        expect(topmost, field.path).toBe(String(index));
        // The image under the box has the value's ink (dark pixels), so the render and the boxes agree.
        const dark = await page.evaluate(
          ({ pageNumber, fraction }) => {
            const image = document.querySelector(`#page-${pageNumber} img`) as DomImage;
            const canvas = document.createElement("canvas");
            canvas.width = image.naturalWidth;
            canvas.height = image.naturalHeight;
            const context = canvas.getContext("2d")!;
            context.drawImage(image, 0, 0);
            const x = Math.floor(fraction.x * canvas.width);
            const y = Math.floor(fraction.y * canvas.height);
            const width = Math.max(1, Math.ceil(fraction.width * canvas.width));
            const height = Math.max(1, Math.ceil(fraction.height * canvas.height));
            const pixels = context.getImageData(x, y, width, height).data;
            let count = 0;
            for (let at = 0; at < pixels.length; at += 4) if (pixels[at]! + pixels[at + 1]! + pixels[at + 2]! < 3 * 110) count++;
            return { count, area: width * height };
          },
          { pageNumber: box.page, fraction: { x: box.x / shown.width, y: box.y / shown.height, width: box.width / shown.width, height: box.height / shown.height } },
        );
        expect(dark.count, field.path).toBeGreaterThan(dark.area * 0.05);
      }
    });

    it("lists values not found as rejected with the model's value, and ungroundable ones as such", async () => {
      const rejected = page.locator(`#field-${fields.findIndex((field) => field.path === "order_number")}`);
      expect(await rejected.locator("del").textContent()).toBe("PO-0000");
      expect(await rejected.textContent()).toContain("rejected");
      const currency = page.locator(`#field-${fields.findIndex((field) => field.path === "currency")}`);
      expect(await currency.textContent()).toContain("not groundable");
    });

    it("clicking a field highlights its box and brings it into view; clicking a box highlights its field", async () => {
      await page.evaluate(() => window.scrollTo(0, 0));
      const total = fields.findIndex((field) => field.path === "total");
      const totalBox = page.locator(`.box[data-field="${total}"]`);
      const inView = async (selector: string) =>
        page.evaluate((query) => {
          const rect = document.querySelector(query)!.getBoundingClientRect();
          return rect.top >= 0 && rect.bottom <= window.innerHeight && rect.left >= 0 && rect.right <= window.innerWidth;
        }, selector);
      // Page 3 is far below the first screen.
      expect(await inView(`.box[data-field="${total}"]`)).toBe(false);
      await page.locator(`#field-${total}`).click();
      await expect.poll(() => inView(`.box[data-field="${total}"]`)).toBe(true);
      expect(await totalBox.getAttribute("class")).toContain("active");
      expect(await page.locator(`#field-${total}`).getAttribute("class")).toContain("active");
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, "field-selected.png") });

      const number = fields.findIndex((field) => field.path === "number");
      const numberBox = page.locator(`.box[data-field="${number}"]`);
      await numberBox.scrollIntoViewIfNeeded();
      await numberBox.click();
      expect(await page.locator(`#field-${number}`).getAttribute("class")).toContain("active");
      expect(await numberBox.getAttribute("class")).toContain("active");
      expect(await totalBox.getAttribute("class")).not.toContain("active");
      expect(await page.locator(`#field-${total}`).getAttribute("class")).not.toContain("active");

      await page.screenshot({ path: join(SCREENSHOT_DIR, "review-page.png"), fullPage: true });
      expect(existsSync(join(SCREENSHOT_DIR, "review-page.png"))).toBe(true);
    });
  },
);
