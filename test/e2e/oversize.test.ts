import { HeadObjectCommand } from "@aws-sdk/client-s3";
import Ajv2020 from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeReadyDocument, readyDocument } from "../../functions/consumer/ready-documents.ts";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import { validateItem } from "../helpers/item-schema.ts";
import { startTestTwin, type TestTwin } from "../helpers/twin-fixture.ts";

/**
 * A result too large for its DynamoDB item goes to S3 and the item holds a pointer: forced here by a bound of 2,500
 * bytes (LLAMBDA_MAX_ITEM_BYTES) instead of DynamoDB's 400 KB. A twin of its own: the merge reads the bound at load.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

/** Small enough that this document's result and provenance do not fit beside its other attributes (cost included). */
const maxItemBytes = 2_500;

describe("results too large for an item", () => {
  let fixture: TestTwin;
  beforeAll(async () => {
    fixture = await startTestTwin({ maxItemBytes });
  }, 180_000);
  afterAll(async () => {
    await fixture?.stop();
  }, 60_000);

  it("land in S3 with a pointer in the item, never a failed write", async () => {
    const { twin } = fixture;
    const text = Array.from({ length: 24 }, (_, i) => `Section ${i}. Globex paid Initech ${100 + i} EUR on 2024-03-1${i} for staplers.`).join("\n\n");
    const { documentId } = await twin.uploadBytes(new TextEncoder().encode(text), "uploads/e2e/big-result.txt");
    const item = (await twin.waitForDocument(documentId))!;
    expect(item.status, JSON.stringify(item)).toBe("COMPLETED");
    expect(item.result).toBeUndefined();
    expect(item.provenance).toBeUndefined();
    expect(item.resultLocation).toMatchObject({ bucket: "llambda-local", key: expect.stringMatching(new RegExp(`^results/${documentId}/.+\\.json$`)) });
    expect(validateItem(JSON.parse(JSON.stringify(item))), JSON.stringify(validateItem.errors)).toBe(true);
    expect(JSON.stringify(item).length).toBeLessThanOrEqual(maxItemBytes);

    const head = await twin.s3.send(new HeadObjectCommand({ Bucket: item.resultLocation!.bucket, Key: item.resultLocation!.key }));
    expect(head.ContentLength).toBe(item.resultLocation!.bytes);
    const stored = await twin.readResult(item);
    const validate = new Ajv2020.default({ strict: false }).compile(getExtractionSchema("generic"));
    expect(validate(stored.result), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(stored.provenance ?? {}).length).toBeGreaterThan(0);
    // Grounding and confidences travel with the result; the review flag and its reasons stay in the item.
    expect(item.grounding).toBeUndefined();
    expect(item.confidence).toBeUndefined();
    expect(Object.keys(stored.confidence ?? {}).length).toBeGreaterThan(0);
    expect(Object.keys(stored.grounding ?? {}).sort()).toEqual(Object.keys(stored.confidence ?? {}).sort());
    // needsReview stays; its reasons too, unless (as with this tiny bound, or not) the item is still too large with them.
    expect(typeof item.needsReview).toBe("boolean");
    const reasons = item.reviewReasons ?? stored.reviewReasons ?? [];
    expect(item.reviewReasons === undefined || stored.reviewReasons === undefined).toBe(true);
    expect(item.needsReview).toBe(reasons.length > 0);

    // The example consumer follows the pointer.
    const ready = await readyDocument(item, async (bucket, key) => {
      expect([bucket, key]).toEqual([item.resultLocation!.bucket, item.resultLocation!.key]);
      return JSON.stringify(stored);
    });
    expect(ready.result).toEqual(stored.result);
    expect(describeReadyDocument(ready)).toMatchObject({ resultInS3: true, status: "COMPLETED" });
  }, 300_000);
});
