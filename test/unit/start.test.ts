import { describe, expect, it } from "vitest";
import { sourceOrderOf } from "../../functions/shared/document-item.ts";
import { readStartConfig } from "../../functions/start/config.ts";
import { parseOcrRoutes } from "../../functions/start/ocr-routing.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { documentIdFor, executionArnFor, executionNameFor, workflowInputFromEvent, type ObjectCreatedEvent } from "../../functions/start/execution-name.ts";
import {
  parseSchemaRouting,
  SchemaRoutingError,
  validateSchemaRouting,
  type SchemaRouting,
} from "../../functions/start/schema-routing.ts";

function event(key: string, extra: Partial<ObjectCreatedEvent["detail"]["object"]> = {}): ObjectCreatedEvent {
  return {
    "detail-type": "Object Created",
    source: "aws.s3",
    detail: { bucket: { name: "bucket" }, object: { key, size: 10, etag: "abc123", ...extra } },
  };
}

describe("execution names", () => {
  it("give the execution ARN Step Functions assigns, which the other functions log", () => {
    expect(executionArnFor("arn:aws:states:eu-west-1:123456789012:stateMachine:llambda-document-workflow", "report-pdf-0123456789abcdef")).toBe(
      "arn:aws:states:eu-west-1:123456789012:execution:llambda-document-workflow:report-pdf-0123456789abcdef",
    );
  });

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

const routing: SchemaRouting = {
  routes: { "uploads/invoices/": "invoice", "uploads/invoices/reviews/": "review-sentiment", "uploads/reviews/": "review-sentiment" },
  defaultSchemaId: "generic",
};

describe("workflow input from an EventBridge S3 event", () => {
  it("carries the source object, its sequencer and order, and strips quotes from the ETag", () => {
    const input = workflowInputFromEvent(event("uploads/a b.pdf", { etag: '"q"', "version-id": "v9", sequencer: "0055AED6DCD90281E5" }), routing);
    expect(input.source).toEqual({ bucket: "bucket", key: "uploads/a b.pdf", etag: "q", size: 10, versionId: "v9", sequencer: "0055AED6DCD90281E5" });
    expect(input.documentId).toBe(documentIdFor("bucket", "uploads/a b.pdf"));
    expect(input.sourceOrder).toBe(sourceOrderOf("0055AED6DCD90281E5"));
  });

  it("routes the schema by the longest matching key prefix, else the default", () => {
    const schemaOf = (key: string) => workflowInputFromEvent(event(key, {}), routing).schemaId;
    expect(schemaOf("uploads/invoices/march.pdf")).toBe("invoice");
    expect(schemaOf("uploads/invoices/reviews/r.jsonl")).toBe("review-sentiment");
    expect(schemaOf("uploads/reviews/r.csv")).toBe("review-sentiment");
    expect(schemaOf("uploads/invoicesX.pdf")).toBe("generic");
    expect(schemaOf("uploads/other/a.pdf")).toBe("generic");
  });

  it("routes the OCR mode by the longest matching key prefix, else the default; auto without a routing", () => {
    const ocrRouting = { routes: { "uploads/scans/": "always", "uploads/scans/born-digital/": "never" }, defaultMode: "auto" } as const;
    const modeOf = (key: string) => workflowInputFromEvent(event(key, {}), routing, ocrRouting).ocrMode;
    expect(modeOf("uploads/scans/fax.pdf")).toBe("always");
    expect(modeOf("uploads/scans/born-digital/a.pdf")).toBe("never");
    expect(modeOf("uploads/a.pdf")).toBe("auto");
    expect(workflowInputFromEvent(event("uploads/scans/x.pdf", {}), routing).ocrMode).toBe("auto");
  });

  it("reads the OCR routing from LLAMBDA_OCR and LLAMBDA_OCR_ROUTES, refusing unknown modes by name", () => {
    const base = { [EnvNames.stateMachineArn]: "arn:aws:states:us-east-1:1:stateMachine:w" };
    expect(readStartConfig(base).ocrRouting).toEqual({ routes: {}, defaultMode: "auto" });
    expect(readStartConfig({ ...base, [EnvNames.ocr]: "never", [EnvNames.ocrRoutes]: '{"uploads/s/":"always"}' }).ocrRouting).toEqual({
      routes: { "uploads/s/": "always" },
      defaultMode: "never",
    });
    expect(readStartConfig({ ...base, [EnvNames.ocrRoutes]: '{"uploads/mail/":"scans"}' }).ocrRouting.routes).toEqual({ "uploads/mail/": "scans" });
    expect(readStartConfig({ ...base, [EnvNames.ocr]: "scans" }).ocrRouting.defaultMode).toBe("scans");
    expect(() => readStartConfig({ ...base, [EnvNames.ocr]: "sometimes" })).toThrow(/LLAMBDA_OCR must be one of auto, scans, always, never/);
    expect(() => readStartConfig({ ...base, [EnvNames.ocrRoutes]: '{"uploads/s/":"yes"}' })).toThrow(/LLAMBDA_OCR_ROUTES.*prefix "uploads\/s\/"/);
    expect(() => parseOcrRoutes({ "other/": "always" }, "uploads/")).toThrow(/outside "uploads\/"/);
  });

  it("rejects events that are not S3 object events", () => {
    expect(() => workflowInputFromEvent({ detail: {} } as unknown as ObjectCreatedEvent, routing)).toThrow(/Object Created/);
  });
});

describe("source order", () => {
  it("orders sequencers of one key as AWS says: right-pad with zeros, compare as strings", () => {
    // Sequencers of different lengths: the longer one is not automatically later.
    expect(sourceOrderOf("0055AED6DCD90281E5") < sourceOrderOf("0055AED6DCD90281E6")).toBe(true);
    expect(sourceOrderOf("0055AED6DCD90281E5") < sourceOrderOf("0055AED6DCD90281E500")).toBe(false);
    expect(sourceOrderOf("1A") > sourceOrderOf("19FFFF")).toBe(true);
    expect(sourceOrderOf(undefined) < sourceOrderOf("00000000000000000001")).toBe(true);
    expect(sourceOrderOf("ab")).toBe(sourceOrderOf("AB"));
    expect(() => sourceOrderOf("xyz")).toThrow(/hex/);
  });
});

describe("schema routing", () => {
  it("is checked against the shipped schemas and the uploads prefix, naming every problem", () => {
    expect(() => validateSchemaRouting(routing, ["generic", "invoice", "review-sentiment"], "uploads/")).not.toThrow();
    const bad: SchemaRouting = { routes: { "uploads/x/": "nope", "elsewhere/": "invoice" }, defaultSchemaId: "missing" };
    expect(() => validateSchemaRouting(bad, ["generic", "invoice"], "uploads/")).toThrow(
      /default schema "missing" is unknown.*"uploads\/x\/" routes to unknown schema "nope".*"elsewhere\/" is outside "uploads\/"/,
    );
  });

  it("parses from JSON and refuses malformed tables", () => {
    expect(parseSchemaRouting(JSON.stringify(routing))).toEqual(routing);
    expect(() => parseSchemaRouting("{")).toThrow(SchemaRoutingError);
    expect(() => parseSchemaRouting(JSON.stringify({ routes: { "uploads/a/": 3 }, defaultSchemaId: "generic" }))).toThrow(/need a prefix and a schema id/);
    expect(() => parseSchemaRouting(JSON.stringify({ routes: {} }))).toThrow(/defaultSchemaId/);
  });
});
