import { describe, expect, it } from "vitest";
import { documentIdFor, executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "../functions/start/execution-name.ts";

function event(key: string, extra: Partial<ObjectCreatedEvent["detail"]["object"]> = {}): ObjectCreatedEvent {
  return {
    "detail-type": "Object Created",
    source: "aws.s3",
    detail: { bucket: { name: "bucket" }, object: { key, size: 10, etag: "abc123", ...extra } },
  };
}

describe("execution names", () => {
  it("are deterministic for one object version", () => {
    const source = { bucket: "b", key: "uploads/report.pdf", etag: "e1" };
    expect(executionNameFor(source)).toBe(executionNameFor({ ...source }));
  });

  it("differ between versions and ETags of the same key", () => {
    const base = { bucket: "b", key: "uploads/report.pdf", etag: "e1" };
    const names = new Set([
      executionNameFor(base),
      executionNameFor({ ...base, etag: "e2" }),
      executionNameFor({ ...base, versionId: "v1" }),
      executionNameFor({ ...base, versionId: "v2" }),
    ]);
    expect(names.size).toBe(4);
  });

  it("fit Step Functions' rules: at most 80 characters of [A-Za-z0-9_-], readable", () => {
    const keys = ["uploads/Q3 report (final).pdf", `uploads/${"x".repeat(300)}.pdf`, "uploads/Übersicht+Plan €.pdf", "uploads/日本語.pdf", "uploads/"];
    for (const key of keys) {
      const name = executionNameFor({ bucket: "b", key, etag: "e" });
      expect(name.length).toBeLessThanOrEqual(80);
      expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(executionNameFor({ bucket: "b", key: "uploads/Q3 report.pdf", etag: "e" })).toMatch(/^Q3-report-pdf-[0-9a-f]{16}$/);
  });
});

describe("document ids", () => {
  it("are the same for every version of a key and differ between keys and buckets", () => {
    expect(documentIdFor("b", "k")).toBe(documentIdFor("b", "k"));
    expect(documentIdFor("b", "k")).not.toBe(documentIdFor("b", "k2"));
    expect(documentIdFor("b", "k")).not.toBe(documentIdFor("b2", "k"));
    expect(documentIdFor("b", "k")).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("workflow input from an EventBridge S3 event", () => {
  it("carries the source object and strips quotes from the ETag", () => {
    const input = workflowInputFromEvent(event("uploads/a b.pdf", { etag: '"q"', "version-id": "v9" }));
    expect(input.source).toEqual({ bucket: "bucket", key: "uploads/a b.pdf", etag: "q", size: 10, versionId: "v9" });
    expect(input.documentId).toBe(documentIdFor("bucket", "uploads/a b.pdf"));
  });

  it("rejects events that are not S3 object events", () => {
    expect(() => workflowInputFromEvent({ detail: {} } as unknown as ObjectCreatedEvent)).toThrow(/Object Created/);
  });
});
