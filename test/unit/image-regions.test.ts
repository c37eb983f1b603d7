/**
 * Image regions of pages with a usable text layer (functions/chunk/image-regions.ts): the CTM tracked through the
 * operators that change it, the size, pixel and text-coverage filters, and extractPages finding them on PDFs built here.
 */
import { PDFDocument, StandardFonts, type PDFPage } from "pdf-lib";
import { describe, expect, it } from "vitest";
import {
  imagePlacements,
  imageRegions,
  MAX_HYBRID_PAGES,
  MAX_REGIONS_PER_PAGE,
  type ImagePlacement,
  type OperatorCodes,
} from "../../functions/chunk/image-regions.ts";
import { extractPages } from "../../functions/chunk/pdf-text.ts";
import { taggedWords } from "../helpers/chunk-fixtures.ts";
import { greyPng } from "../helpers/grey-png.ts";

const OPS: OperatorCodes = {
  save: 1,
  restore: 2,
  transform: 3,
  paintFormXObjectBegin: 4,
  paintFormXObjectEnd: 5,
  beginGroup: 6,
  endGroup: 7,
  paintImageXObject: 8,
  paintInlineImageXObject: 9,
  paintImageMaskXObject: 10,
  paintImageXObjectRepeat: 11,
  paintImageMaskXObjectRepeat: 12,
  paintImageMaskXObjectGroup: 13,
  paintInlineImageXObjectGroup: 14,
};

describe("imagePlacements", () => {
  it("tracks the CTM through save/restore, transform, form XObjects and groups", () => {
    const ops: Array<[number, unknown[]]> = [
      [OPS.save, []],
      [OPS.transform, [200, 0, 0, 100, 50, 600]],
      [OPS.paintImageXObject, ["img1", 400, 200]],
      [OPS.restore, []],
      // A form scaled by 0.5 and moved; inside it a group (its own save/restore) and a transformed image.
      [OPS.paintFormXObjectBegin, [[0.5, 0, 0, 0.5, 100, 100], [0, 0, 612, 792]]],
      [OPS.beginGroup, [{ matrix: [9, 0, 0, 9, 9, 9], bbox: [0, 0, 1, 1] }]],
      [OPS.transform, [300, 0, 0, 80, 20, 40]],
      [OPS.paintInlineImageXObject, [{ width: 30, height: 8 }]],
      [OPS.endGroup, []],
      [OPS.transform, [10, 0, 0, 10, 0, 0]],
      [OPS.paintImageMaskXObject, [{ width: 64, height: 64 }]],
      [OPS.paintFormXObjectEnd, []],
      // Back at the page's CTM (identity).
      [OPS.paintImageXObjectRepeat, ["img2", 20, 10, [0, 0, 100, 0]]],
      [OPS.paintImageMaskXObjectGroup, [[{ width: 5, height: 7, transform: [5, 0, 0, 7, 1, 2] }]]],
      [OPS.paintInlineImageXObjectGroup, [{}, [{ transform: [3, 0, 0, 4, 5, 6], w: 3, h: 4 }]]],
      [OPS.restore, []], // unbalanced: ignored
      [99, [1, 2, 3]], // an operator this module does not read
    ];
    const placements = imagePlacements(
      ops.map(([op]) => op),
      ops.map(([, args]) => args),
      OPS,
    );
    expect(placements).toEqual([
      { matrix: [200, 0, 0, 100, 50, 600], pixels: { width: 400, height: 200 } },
      // The group's matrix is the form's (pdf.js applies it once, with the form): not applied again.
      { matrix: [150, 0, 0, 40, 110, 120], pixels: { width: 30, height: 8 } },
      { matrix: [5, 0, 0, 5, 100, 100], pixels: { width: 64, height: 64 } },
      { matrix: [20, 0, 0, 10, 0, 0] },
      { matrix: [20, 0, 0, 10, 100, 0] },
      { matrix: [5, 0, 0, 7, 1, 2], pixels: { width: 5, height: 7 } },
      { matrix: [3, 0, 0, 4, 5, 6], pixels: { width: 3, height: 4 } },
    ]);
  });
});

describe("imageRegions", () => {
  // The viewport of an unrotated 612 x 792 page: y flipped.
  const viewport = [1, 0, 0, -1, 0, 792];
  const page = { width: 612, height: 792 };
  const image = (x: number, y: number, width: number, height: number, pixels = { width: 400, height: 200 }): ImagePlacement => ({
    matrix: [width, 0, 0, height, x, y],
    pixels,
  });

  it("gives an image's box as shown, from the page's top-left corner, clipped to the page", () => {
    expect(imageRegions([image(50, 600, 200, 100)], viewport, page, [])).toEqual([[50, 92, 250, 192]]);
    expect(imageRegions([image(-20, 700, 200, 200)], viewport, page, [])).toEqual([[0, 0, 180, 92]]);
    // Rotated 90° by the viewport (a /Rotate 90 page of 612 x 792 shows as 792 x 612).
    expect(imageRegions([image(50, 600, 200, 100)], [0, 1, 1, 0, 0, 0], { width: 792, height: 612 }, [])).toEqual([[600, 50, 700, 250]]);
  });

  it("leaves out images too small to hold text, in points or in pixels", () => {
    expect(imageRegions([image(50, 600, 30, 100)], viewport, page, [])).toEqual([]);
    expect(imageRegions([image(50, 600, 300, 10)], viewport, page, [])).toEqual([]);
    expect(imageRegions([image(50, 600, 100, 100, { width: 12, height: 12 })], viewport, page, [])).toEqual([]);
    // An operator that does not say the pixels: the points decide.
    expect(imageRegions([{ matrix: [100, 0, 0, 40, 50, 600] }], viewport, page, [])).toEqual([[50, 152, 150, 192]]);
  });

  it("leaves out an image whose area is already under text-layer runs (a background), keeps one beside the text", () => {
    const lines = Array.from({ length: 30 }, (_, k) => ({ box: [50, 300 + k * 14, 560, 310 + k * 14] as [number, number, number, number] }));
    const background = image(0, 0, 612, 792);
    const logo = image(400, 650, 150, 80);
    expect(imageRegions([background, logo], viewport, page, lines)).toEqual([[400, 62, 550, 142]]);
    // A run reaching over a picture's edge (a caption set close) is not its text.
    const caption = [{ box: [400, 139, 550, 151] as [number, number, number, number] }];
    expect(imageRegions([logo], viewport, page, caption)).toEqual([[400, 62, 550, 142]]);
  });

  it("keeps the largest regions, drops those inside a larger one, and sorts them in reading order", () => {
    const many = Array.from({ length: MAX_REGIONS_PER_PAGE + 3 }, (_, k) => image(20 + (k % 3) * 200, 20 + Math.floor(k / 3) * 100, 100 + k, 50));
    const kept = imageRegions(many, viewport, page, []);
    expect(kept).toHaveLength(MAX_REGIONS_PER_PAGE);
    expect(Math.min(...kept.map(([x0, , x1]) => x1 - x0))).toBe(100 + 3);
    expect(kept.map(([, y0]) => y0)).toEqual([...kept.map(([, y0]) => y0)].sort((a, b) => a - b));
    const inside = imageRegions([image(50, 500, 300, 200), image(60, 510, 100, 50)], viewport, page, []);
    expect(inside).toEqual([[50, 92, 350, 292]]);
  });
});

describe("extractPages with findImageRegions", () => {
  /** Forty lines of text from the middle of the page down: a usable text layer. */
  async function textPage(doc: PDFDocument, page: PDFPage): Promise<void> {
    const font = await doc.embedFont(StandardFonts.Helvetica);
    const words = taggedWords(1, 400);
    for (let line = 0; line < 40; line++) {
      page.drawText(words.slice(line * 10, line * 10 + 10).join(" "), { x: 40, y: 560 - line * 13, size: 10, font });
    }
  }

  it("finds a logo beside the text, not the background behind it nor an icon or a rule", async () => {
    const doc = await PDFDocument.create();
    const page = doc.addPage([595, 842]);
    const picture = await doc.embedPng(greyPng(300, 120, (x, y) => ((x >> 3) + (y >> 3)) % 2 === 0 ? 0 : 255));
    const icon = await doc.embedPng(greyPng(8, 8));
    page.drawImage(picture, { x: 0, y: 0, width: 595, height: 842 }); // background
    page.drawImage(picture, { x: 300, y: 700, width: 220, height: 88 }); // logo, top right
    page.drawImage(icon, { x: 40, y: 700, width: 40, height: 40 }); // icon: 8 pixels
    page.drawImage(picture, { x: 40, y: 600, width: 400, height: 3 }); // rule: 3 points
    await textPage(doc, page);
    const bytes = await doc.save();

    const found = await extractPages(bytes, { findImageRegions: true });
    expect(found.textLayer).toEqual(["usable"]);
    expect(found.imageRegions).toEqual([[[300, 54, 520, 142]]]);
    // Not asked: not looked for.
    expect((await extractPages(bytes)).imageRegions).toBeUndefined();
  });

  it("places an image drawn inside a form XObject by the form's matrix", async () => {
    const source = await PDFDocument.create();
    const sourcePage = source.addPage([595, 842]);
    sourcePage.drawImage(await source.embedPng(greyPng(200, 100)), { x: 50, y: 50, width: 300, height: 100 });
    const doc = await PDFDocument.create();
    const page = doc.addPage([595, 842]);
    const [form] = await doc.embedPdf(await source.save());
    page.drawPage(form!, { x: 100, y: 600, xScale: 0.5, yScale: 0.5 });
    await textPage(doc, page);
    const found = await extractPages(await doc.save(), { findImageRegions: true });
    // The image at (50, 50) 300 x 100 in the form, scaled by 0.5 and moved by (100, 600): (125, 625) 150 x 50.
    expect(found.imageRegions).toEqual([[[125, 167, 275, 217]]]);
  });

  it("reads a picture repeated at the same place on the first page only, and looks on MAX_HYBRID_PAGES pages at most", async () => {
    const letterhead = await PDFDocument.create();
    const logo = await letterhead.embedPng(greyPng(200, 80));
    for (let k = 0; k < 3; k++) {
      const page = letterhead.addPage([595, 842]);
      page.drawImage(logo, { x: 300, y: 700, width: 200, height: 80 });
      await textPage(letterhead, page);
    }
    expect((await extractPages(await letterhead.save(), { findImageRegions: true })).imageRegions).toEqual([[[300, 62, 500, 142]], [], []]);

    const doc = await PDFDocument.create();
    const picture = await doc.embedPng(greyPng(200, 80));
    for (let k = 0; k < MAX_HYBRID_PAGES + 2; k++) {
      const page = doc.addPage([595, 842]);
      page.drawImage(picture, { x: 300, y: 700 - k, width: 200, height: 80 });
      await textPage(doc, page);
    }
    const found = await extractPages(await doc.save(), { findImageRegions: true });
    expect(found.imageRegions!.map((boxes) => boxes.length)).toEqual([...Array<number>(MAX_HYBRID_PAGES).fill(1), 0, 0]);
  });

  it("looks only on pages whose text layer is usable: a scan's page is OCR'd whole", async () => {
    const doc = await PDFDocument.create();
    doc.addPage([595, 842]).drawImage(await doc.embedPng(greyPng(200, 100)), { x: 50, y: 50, width: 495, height: 742 });
    const found = await extractPages(await doc.save(), { findImageRegions: true, keepTextlessPages: true });
    expect(found.textLayer).toEqual(["empty"]);
    expect(found.imageRegions).toEqual([[]]);
  });
});
