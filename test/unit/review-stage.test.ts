/**
 * The review stage (functions/review): which item gets a review page, where it goes, what it shows. The page's builder
 * and the page renderer are stood in for here (their own tests cover them); this holds the stage to its contract.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_REVIEW_MAX_PAGES, readReviewConfig, reviewMaxPagesRange } from "../../functions/review/config.ts";
import { createHandler, REVIEW_PAGE_CONTENT_TYPE } from "../../functions/review/create-handler.ts";
import { pagesToShow } from "../../functions/review/pages-to-show.ts";
import { layoutKey, reviewPageKey } from "../../functions/shared/bucket-layout.ts";
import type { DocumentLayout, ReviewTaskOutput } from "../../functions/shared/contracts.ts";
import type { DocumentItem, FieldGrounding } from "../../functions/shared/document-item.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { ConfigurationError } from "../../functions/shared/errors.ts";
import { logger } from "../../functions/shared/logger.ts";

// Stand-ins for the page builder and the renderer: they record what the stage hands them.
const rendered = vi.hoisted(() => ({ calls: [] as Array<{ key: string; pages: number[]; bytes: number }>, fail: undefined as Error | undefined }));
vi.mock("../../functions/review/page-images.ts", () => ({
  renderPageImages: async (args: { bytes: Uint8Array; key: string; pages: number[] }) => {
    rendered.calls.push({ key: args.key, pages: args.pages, bytes: args.bytes.byteLength });
    if (rendered.fail) throw rendered.fail;
    return args.pages.map((page) => ({ page, width: 612, height: 792, mime: "image/jpeg", data: new Uint8Array(10) }));
  },
}));
vi.mock("../../functions/review/review-page.ts", () => ({
  reviewFieldsOf: (item: Pick<DocumentItem, "result" | "grounding" | "confidence">) =>
    Object.entries(item.result ?? {}).map(([path, value]) => ({ path, value, grounding: item.grounding?.[path], confidence: item.confidence?.[path] })),
  buildReviewPage: (input: unknown) => `<!doctype html><script type="application/json">${JSON.stringify(input)}</script>`,
}));

const bucket = "docs-bucket";
const table = "docs-table";
const executionArn = "arn:aws:states:us-east-1:000000000000:execution:wf:acme-invoice-pdf-1a2b";
const documentId = "doc-1";
const pageKey = reviewPageKey(documentId, "acme-invoice-pdf-1a2b");
const pdfBytes = new TextEncoder().encode("%PDF-1.7\n...");

const grounded = (page: number): FieldGrounding => ({ match: "exact", page, charStart: 0, charEnd: 4, quote: "ACME", boxes: [{ page, x: 10, y: 20, width: 30, height: 8 }] });

function documentItem(overrides: Partial<DocumentItem> = {}): DocumentItem {
  return {
    documentId,
    kind: "document",
    contractVersion: 1,
    status: "COMPLETED",
    version: 3,
    source: { bucket, key: "uploads/acme-invoice.pdf", etag: "e", size: pdfBytes.byteLength, versionId: "v1", pages: 5 },
    sourceOrder: "0".repeat(40),
    executionArn,
    schemaId: "invoice",
    result: { issuer: "ACME Corp secret", number: "INV-7", total: 12.5 },
    grounding: { issuer: grounded(3), number: grounded(1), total: { match: "none" } },
    confidence: { issuer: 0.9, number: 0.95, total: 0.2 },
    needsReview: true,
    reviewReasons: [{ code: "ungrounded", path: "total" }],
    reviewPage: { bucket, key: pageKey },
    timings: { startedAt: "2026-01-01T00:00:00.000Z" },
    updatedAt: "2026-01-01T00:00:10.000Z",
    ...overrides,
  };
}

const layout = (pages: number): DocumentLayout => ({
  version: 1,
  text: "",
  pages: Array.from({ length: pages }, (_, index) => ({ page: index + 1, charStart: 0, charEnd: 0, width: 612, height: 792, source: "text-layer", runs: [] })),
  chunks: [],
});

/** S3 and DynamoDB in memory: objects by key (missing ones answer as S3 does), one item. */
function services(options: { item?: DocumentItem; objects?: Record<string, string | Uint8Array>; missingStatus?: 403 | 404 } = {}) {
  const objects = new Map<string, string | Uint8Array>(Object.entries(options.objects ?? {}));
  const puts: Array<{ Bucket?: string; Key?: string; Body?: unknown; ContentType?: string }> = [];
  const gets: string[] = [];
  const s3 = {
    send: async (command: unknown) => {
      if (command instanceof PutObjectCommand) {
        puts.push(command.input as (typeof puts)[number]);
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const { Key, VersionId } = command.input;
        gets.push(`${Key}${VersionId ? `?versionId=${VersionId}` : ""}`);
        const body = objects.get(Key!);
        if (body === undefined) {
          const status = options.missingStatus ?? 404;
          throw Object.assign(new Error(status === 404 ? "NoSuchKey" : "Access Denied"), {
            name: status === 404 ? "NoSuchKey" : "AccessDenied",
            $metadata: { httpStatusCode: status },
          });
        }
        const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
        return { Body: { transformToString: async () => new TextDecoder().decode(bytes), transformToByteArray: async () => bytes } };
      }
      throw new Error(`unexpected S3 command ${String(command)}`);
    },
  };
  const getItems: unknown[] = [];
  const documents = {
    send: async (command: unknown) => {
      if (!(command instanceof GetCommand)) throw new Error(`unexpected DynamoDB command ${String(command)}`);
      getItems.push(command.input);
      return { Item: options.item };
    },
  };
  const handler = createHandler({ table, bucket, maxPages: 20 }, { s3: () => s3 as never, documents: () => documents as never });
  return { handler, puts, gets, getItems };
}

const invoke = (handler: ReturnType<typeof services>["handler"], execution = executionArn) => handler({ documentId, execution: { id: execution } });
/** The page input the stand-in builder embedded in the HTML it returned. */
const pageInput = (body: unknown) => JSON.parse(/<script type="application\/json">(.*)<\/script>/s.exec(String(body))![1]!) as Record<string, unknown>;

beforeEach(() => {
  rendered.calls.length = 0;
  rendered.fail = undefined;
});

describe("the review stage", () => {
  it("writes the page where the item points, as HTML, with the pages that hold grounded boxes drawn from the upload's version", async () => {
    const { handler, puts, gets, getItems } = services({
      item: documentItem(),
      objects: { "uploads/acme-invoice.pdf": pdfBytes, [layoutKey(documentId)]: JSON.stringify(layout(5)) },
    });
    const output = await invoke(handler);
    expect(getItems).toEqual([{ TableName: table, Key: { documentId }, ConsistentRead: true }]);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Bucket: bucket, Key: pageKey, ContentType: REVIEW_PAGE_CONTENT_TYPE });
    expect(REVIEW_PAGE_CONTENT_TYPE).toBe("text/html; charset=utf-8");
    expect(output).toEqual({ written: true, bucket, key: pageKey, bytes: Buffer.byteLength(String(puts[0]!.Body)), pages: [1, 3] });
    // The upload is read at the version the item names; pages 1 and 3 hold boxes.
    expect(gets).toContain("uploads/acme-invoice.pdf?versionId=v1");
    expect(rendered.calls).toEqual([{ key: "uploads/acme-invoice.pdf", pages: [1, 3], bytes: pdfBytes.byteLength }]);
    const input = pageInput(puts[0]!.Body);
    expect(input).toMatchObject({ documentId, sourceKey: "uploads/acme-invoice.pdf", status: "COMPLETED", schemaId: "invoice", needsReview: true });
    expect(input.reviewReasons).toEqual([{ code: "ungrounded", path: "total" }]);
    expect((input.fields as Array<{ path: string }>).map((field) => field.path)).toEqual(["issuer", "number", "total"]);
    expect((input.pages as Array<{ page: number }>).map((page) => page.page)).toEqual([1, 3]);
  });

  it("writes nothing for an item that is gone, owned by another execution, not finished, or without a review page", async () => {
    const cases: Array<[DocumentItem | undefined, string, ReviewTaskOutput]> = [
      [undefined, executionArn, { written: false, reason: "no-item" }],
      [documentItem(), `${executionArn}-newer`, { written: false, reason: "not-owner" }],
      [documentItem({ status: "FAILED" }), executionArn, { written: false, reason: "not-finished" }],
      [documentItem({ status: "PROCESSING" }), executionArn, { written: false, reason: "not-finished" }],
      [documentItem({ kind: "batch" }), executionArn, { written: false, reason: "not-finished" }],
      [documentItem({ reviewPage: undefined }), executionArn, { written: false, reason: "no-review-page" }],
    ];
    for (const [item, execution, expected] of cases) {
      const { handler, puts } = services({ ...(item ? { item } : {}), objects: { "uploads/acme-invoice.pdf": pdfBytes } });
      expect(await invoke(handler, execution), expected.written ? "" : expected.reason).toEqual(expected);
      expect(puts).toEqual([]);
    }
    expect(rendered.calls).toEqual([]);
  });

  it("a PARTIAL document gets its page too", async () => {
    const { handler, puts } = services({ item: documentItem({ status: "PARTIAL" }), objects: { "uploads/acme-invoice.pdf": pdfBytes } });
    expect(await invoke(handler)).toMatchObject({ written: true, key: pageKey });
    expect(pageInput(puts[0]!.Body).status).toBe("PARTIAL");
  });

  it("reads the result, grounding and confidence from S3 when the result was too large for the item", async () => {
    const offloaded = { result: { number: "INV-9" }, grounding: { number: grounded(2) }, confidence: { number: 0.7 }, provenance: {} };
    const { result: _result, grounding: _grounding, confidence: _confidence, ...rest } = documentItem();
    const item: DocumentItem = { ...rest, resultLocation: { bucket, key: "results/doc-1/x.json", bytes: 100 } };
    const { handler, puts } = services({ item, objects: { "uploads/acme-invoice.pdf": pdfBytes, "results/doc-1/x.json": JSON.stringify(offloaded) } });
    expect(await invoke(handler)).toMatchObject({ written: true, pages: [2] });
    expect(pageInput(puts[0]!.Body).fields).toEqual([{ path: "number", value: "INV-9", grounding: grounded(2), confidence: 0.7 }]);
  });

  it("without a layout (S3 says 404, or 403 without ListBucket) takes the page count from the item; nothing grounded: the first pages", async () => {
    for (const missingStatus of [404, 403] as const) {
      rendered.calls.length = 0;
      const item = documentItem({ grounding: { issuer: { match: "none" } }, source: { ...documentItem().source, pages: 2 } });
      const { handler } = services({ item, objects: { "uploads/acme-invoice.pdf": pdfBytes }, missingStatus });
      expect(await invoke(handler)).toMatchObject({ written: true, pages: [1, 2] });
      expect(rendered.calls.map((call) => call.pages)).toEqual([[1, 2]]);
    }
  });

  it("a text upload has no pages to draw: the page lists the fields alone", async () => {
    const item = documentItem({ source: { ...documentItem().source, key: "uploads/notes.txt", pages: 1 }, grounding: {} });
    const { handler, puts } = services({ item, objects: { "uploads/notes.txt": "plain words" } });
    expect(await invoke(handler)).toMatchObject({ written: true, pages: [] });
    expect(rendered.calls).toEqual([]);
    expect(pageInput(puts[0]!.Body).pages).toEqual([]);
  });

  it("pages that cannot be drawn still give a page with the fields, and the output says why", async () => {
    rendered.fail = Object.assign(new Error("No password given"), { name: "PasswordException" });
    const { handler, puts } = services({ item: documentItem(), objects: { "uploads/acme-invoice.pdf": pdfBytes } });
    expect(await invoke(handler)).toMatchObject({ written: true, pages: [], renderError: "PasswordException: No password given" });
    expect(puts).toHaveLength(1);
  });

  it("refuses an item that points its page elsewhere (a wiring fault), and a malformed input", async () => {
    const elsewhere = services({ item: documentItem({ reviewPage: { bucket, key: "reviews/other.html" } }) });
    await expect(invoke(elsewhere.handler)).rejects.toThrow(/points its review page to s3:\/\/docs-bucket\/reviews\/other\.html/);
    expect(elsewhere.puts).toEqual([]);
    await expect(elsewhere.handler({} as never)).rejects.toThrow(TypeError);
  });

  it("logs sizes and pages at INFO, never the document's values", async () => {
    const info = vi.spyOn(logger, "info");
    try {
      const { handler } = services({ item: documentItem(), objects: { "uploads/acme-invoice.pdf": pdfBytes } });
      await invoke(handler);
      const logged = JSON.stringify(info.mock.calls);
      expect(logged).toContain("Review page written");
      expect(logged).not.toContain("ACME Corp secret");
      expect(logged).not.toContain("INV-7");
    } finally {
      info.mockRestore();
    }
  });
});

describe("pages a review page shows", () => {
  it("every page with a grounded box, in order, at most maxPages, only pages the document has", () => {
    const grounding = { a: grounded(4), b: grounded(2), c: grounded(4), d: grounded(9), e: { match: "none" as const } };
    expect(pagesToShow({ grounding, pageCount: 5, maxPages: 20 })).toEqual([2, 4]);
    expect(pagesToShow({ grounding, pageCount: 10, maxPages: 2 })).toEqual([2, 4]);
    expect(pagesToShow({ grounding, pageCount: 10, maxPages: 20 })).toEqual([2, 4, 9]);
  });

  it("the first pages when nothing has a box (nothing grounded, a text upload), up to maxPages", () => {
    expect(pagesToShow({ grounding: undefined, pageCount: 3, maxPages: 20 })).toEqual([1, 2, 3]);
    expect(pagesToShow({ grounding: { a: { match: "exact", boxes: [] } }, pageCount: 50, maxPages: 4 })).toEqual([1, 2, 3, 4]);
    expect(pagesToShow({ grounding: {}, pageCount: 0, maxPages: 4 })).toEqual([]);
  });
});

describe("the review function's settings", () => {
  const env = { [EnvNames.table]: table, [EnvNames.bucket]: bucket };
  it("shows 20 pages by default, LLAMBDA_REVIEW_MAX_PAGES within its bounds otherwise", () => {
    expect(readReviewConfig(env)).toEqual({ table, bucket, maxPages: DEFAULT_REVIEW_MAX_PAGES });
    expect(DEFAULT_REVIEW_MAX_PAGES).toBe(20);
    expect(readReviewConfig({ ...env, [EnvNames.reviewMaxPages]: "3" }).maxPages).toBe(3);
    for (const bad of ["0", String(reviewMaxPagesRange.max + 1), "ten"]) {
      expect(() => readReviewConfig({ ...env, [EnvNames.reviewMaxPages]: bad })).toThrow(ConfigurationError);
    }
    expect(() => readReviewConfig({ [EnvNames.bucket]: bucket })).toThrow(/LLAMBDA_TABLE/);
  });
});
