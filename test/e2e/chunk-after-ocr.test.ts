/**
 * The chunk function's two runs for a scan, against S3 (s3rver): the first plans OCR (text layer and page groups in
 * S3, no manifest); the second, given the OCR Map Run, assembles the pages from the stored OCR results, names a page
 * whose result is missing after its child failed, and fails the document by name beyond the tolerated share.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PDFDocument } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readChunkConfig } from "../../functions/chunk/config.ts";
import { layoutKey, ocrPageGroupsKey, ocrPageKey, ocrTextLayerKey } from "../../functions/shared/bucket-layout.ts";
import type { ChunkTaskInput, ChunkTaskOutput, OcrBatchInput, OcrPageRecord, OcrPlanOutput, OcrTextLayer, DocumentLayout } from "../../functions/shared/contracts.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { startS3Fixture, type S3Fixture } from "../helpers/s3-fixture.ts";

const uploads = "ocr-uploads";
const work = "ocr-work";
type Handler = (event: ChunkTaskInput) => Promise<ChunkTaskOutput | OcrPlanOutput>;
let fixture: S3Fixture;
let s3: S3Client;
let handler: Handler;

beforeAll(async () => {
  fixture = await startS3Fixture([uploads, work], { POWERTOOLS_LOG_LEVEL: "SILENT" });
  ({ s3 } = fixture);
  const { createHandler } = await import("../../functions/chunk/create-handler.ts");
  handler = createHandler(readChunkConfig({ [EnvNames.bucket]: work, [EnvNames.chunkTokens]: "200" }));
});
afterAll(async () => {
  await fixture?.stop();
});

const text = async (bucket: string, key: string) =>
  (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString("utf-8"));
const put = (bucket: string, key: string, body: unknown) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === "string" ? body : JSON.stringify(body) }));

describe("the chunk function around OCR", () => {
  const documentId = "scan-doc";
  const source = { bucket: uploads, key: "uploads/scan.pdf", etag: "e", size: 1 };

  it("plans a three-page scan: text layer and one page group stored, no manifest", async () => {
    const pdf = await PDFDocument.create();
    for (let i = 0; i < 3; i++) pdf.addPage().drawRectangle({ x: 40, y: 40, width: 300, height: 500 });
    const bytes = await pdf.save();
    await s3.send(new PutObjectCommand({ Bucket: uploads, Key: source.key, Body: bytes }));
    const output = (await handler({ documentId, source: { ...source, size: bytes.byteLength }, ocrMode: "auto" })) as OcrPlanOutput;
    expect(output.ocrPlan).toEqual({
      pageGroups: { bucket: work, key: ocrPageGroupsKey(documentId) },
      textLayer: { bucket: work, key: ocrTextLayerKey(documentId) },
      format: "pdf",
      pageCount: 3,
      ocrPageCount: 3,
    });
    expect("manifest" in output).toBe(false);
    // Each page as drawn (no text items on a scan), for the layout the second run writes.
    const blank = { width: 595.3, height: 841.9, source: "text-layer" as const, runs: [] };
    expect(JSON.parse(await text(work, ocrTextLayerKey(documentId)))).toEqual({
      pages: ["", "", ""],
      ocrPages: [1, 2, 3],
      drawings: [blank, blank, blank],
    } satisfies OcrTextLayer);
    expect((await text(work, ocrPageGroupsKey(documentId))).trim().split("\n").map((line) => JSON.parse(line))).toEqual([{ pages: [1, 2, 3] }]);
  });

  it("chunks the OCR'd pages, naming a page whose child failed; beyond the tolerance it fails with TooManyFailedPages", async () => {
    const page = (number: number, words: string): OcrPageRecord => ({
      page: number, text: words, words: [{ text: words, confidence: 88, box: { x0: 1, y0: 1, x1: 9, y1: 9 } }],
      meanConfidence: 88, width: 10, height: 10, dpi: 300, ms: 5,
    });
    await put(work, ocrPageKey(documentId, 1), page(1, "Delivery note DN-77 for Initech"));
    await put(work, ocrPageKey(documentId, 3), { page: 3, error: "OCR_TIMEOUT", message: "page 3 was not read within 120 s" });
    const failedChild = {
      ExecutionArn: "arn:child-1",
      Status: "FAILED",
      Error: "Sandbox.Timedout",
      Input: JSON.stringify({ Items: [{ pages: [2] }], BatchInput: { documentId, source } } satisfies OcrBatchInput),
    };
    await put(work, "map-results/run/FAILED_0.json", [failedChild]);
    await put(work, "map-results/run/manifest.json", { DestinationBucket: work, MapRunArn: "arn:run", ResultFiles: { FAILED: [{ Key: "map-results/run/FAILED_0.json", Size: 1 }] } });
    const plan = {
      pageGroups: { bucket: work, key: ocrPageGroupsKey(documentId) },
      textLayer: { bucket: work, key: ocrTextLayerKey(documentId) },
      format: "pdf" as const,
      pageCount: 3,
      ocrPageCount: 3,
    };
    const ocr = { plan, mapRun: { MapRunArn: "arn:run", ResultWriterDetails: { bucket: work, key: "", Bucket: work, Key: "map-results/run/manifest.json" } } };
    const output = (await handler({ documentId, source, ocr, toleratedFailurePercentage: 70 })) as ChunkTaskOutput;
    expect(output.pageCount).toBe(3);
    expect(output.ocr).toMatchObject({
      pages: [1],
      lowConfidencePages: [],
      failedPages: [
        { page: 2, error: "OCR_FAILED", message: "no OCR result: its invocation failed (Sandbox.Timedout)" },
        { page: 3, error: "OCR_TIMEOUT", message: "page 3 was not read within 120 s" },
      ],
    });
    const manifest = (await text(work, output.manifest.key)).trim().split("\n").map((line) => JSON.parse(line) as { text: string; pageStart: number });
    expect(manifest.map((item) => [item.pageStart, item.text])).toEqual([[1, "Delivery note DN-77 for Initech"]]);
    // The layout: the OCR'd page's words in points (pixels at 300 dpi), the failed pages as their text layer drew them.
    const layout = JSON.parse(await text(work, layoutKey(documentId))) as DocumentLayout;
    expect(layout.text).toBe("Delivery note DN-77 for Initech\n\n\n\n");
    expect(layout.pages.map((page) => [page.source, page.width, page.height, page.runs])).toEqual([
      ["ocr", 2.4, 2.4, [{ text: "Delivery note DN-77 for Initech", box: [0.2, 0.2, 2.2, 2.2], confidence: 88 }]],
      ["text-layer", 595.3, 841.9, []],
      ["text-layer", 595.3, 841.9, []],
    ]);
    await expect(handler({ documentId, source, ocr, toleratedFailurePercentage: 10 })).rejects.toMatchObject({
      name: "TooManyFailedPages",
      message: expect.stringContaining("2 of 3 OCR'd page(s) failed"),
    });
  });
});
