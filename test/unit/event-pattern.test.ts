import { describe, expect, it } from "vitest";
import { matchesPattern, objectCreatedEvent } from "../../infra/local/eventbridge.ts";
import { compileEventPattern, matchesAnyFilter, matchesEventPattern } from "../../infra/local/event-pattern.ts";
import { uploadEventPattern } from "../../infra/specs.ts";

/** The twin's event-pattern matcher (EventBridge rules and Lambda filter criteria): each rule passes and fails. */
const event = {
  source: "aws.s3",
  "detail-type": "Object Created",
  resources: ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b"],
  detail: {
    bucket: { name: "llambda-local" },
    object: { key: "uploads/a.pdf", size: 300, etag: "" },
    flag: false,
    nothing: null,
    pages: [1, 5, 12],
    chunks: [
      { id: "c1", status: "FAILED" },
      { id: "c2", status: "DONE" },
    ],
    nested: { deeper: { value: "x" } },
    empty: [],
  },
};

const matches = (pattern: object) => matchesEventPattern(event, pattern);

describe("matchesEventPattern", () => {
  it("requires every field of a nested pattern", () => {
    expect(matches({ source: ["aws.s3"], detail: { bucket: { name: ["llambda-local"] } } })).toBe(true);
    expect(matches({ source: ["aws.s3"], detail: { bucket: { name: ["other"] } } })).toBe(false);
    expect(matches({ detail: { missing: { name: ["llambda-local"] } } })).toBe(false);
  });

  it("matches any of the allowed strings, exactly", () => {
    expect(matches({ "detail-type": ["Object Deleted", "Object Created"] })).toBe(true);
    expect(matches({ "detail-type": ["object created", "Object"] })).toBe(false);
  });

  it("compares numbers numerically and does not confuse them with strings", () => {
    expect(matches({ detail: { object: { size: [3.0e2] } } })).toBe(true);
    expect(matches({ detail: { object: { size: ["300"] } } })).toBe(false);
    expect(matches({ detail: { object: { size: [301] } } })).toBe(false);
  });

  it("matches booleans and null by value and type", () => {
    expect(matches({ detail: { flag: [false], nothing: [null] } })).toBe(true);
    expect(matches({ detail: { flag: [true] } })).toBe(false);
    expect(matches({ detail: { flag: ["false"] } })).toBe(false);
    expect(matches({ detail: { missing: [null] } })).toBe(false);
    expect(matches({ detail: { object: { etag: [null] } } })).toBe(false);
  });

  it("matches a string prefix, on strings only", () => {
    expect(matches({ detail: { object: { key: [{ prefix: "uploads/" }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ prefix: "chunks/" }] } } })).toBe(false);
    expect(matches({ detail: { object: { size: [{ prefix: "3" }] } } })).toBe(false);
  });

  it("anything-but: a single value, a list, or a prefix, and only when the field is present", () => {
    expect(matches({ source: [{ "anything-but": "aws.ec2" }] })).toBe(true);
    expect(matches({ source: [{ "anything-but": "aws.s3" }] })).toBe(false);
    expect(matches({ source: [{ "anything-but": ["aws.ec2", "aws.sqs"] }] })).toBe(true);
    expect(matches({ source: [{ "anything-but": ["aws.ec2", "aws.s3"] }] })).toBe(false);
    expect(matches({ detail: { object: { size: [{ "anything-but": [100, 200] }] } } })).toBe(true);
    expect(matches({ detail: { object: { size: [{ "anything-but": 300 }] } } })).toBe(false);
    expect(matches({ detail: { object: { key: [{ "anything-but": { prefix: "chunks/" } }] } } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ "anything-but": { prefix: "uploads/" } }] } } })).toBe(false);
    expect(matches({ detail: { missing: [{ "anything-but": "x" }] } })).toBe(false);
  });

  it("exists: true needs a leaf value, exists: false matches a missing field", () => {
    expect(matches({ detail: { object: { key: [{ exists: true }] }, nothing: [{ exists: true }] } })).toBe(true);
    expect(matches({ detail: { missing: [{ exists: true }] } })).toBe(false);
    expect(matches({ detail: { missing: [{ exists: false }] } })).toBe(true);
    expect(matches({ nowhere: { missing: [{ exists: false }] } })).toBe(true);
    expect(matches({ detail: { object: { key: [{ exists: false }] } } })).toBe(false);
    // AWS only sees leaves: an object or an empty array is not "present".
    expect(matches({ detail: { nested: [{ exists: true }] } })).toBe(false);
    expect(matches({ detail: { nested: [{ exists: false }] } })).toBe(true);
    expect(matches({ detail: { empty: [{ exists: false }] } })).toBe(true);
  });

  it("numeric ranges with one or two comparisons, on numbers only", () => {
    expect(matches({ detail: { object: { size: [{ numeric: [">", 0, "<=", 300] }] } } })).toBe(true);
    expect(matches({ detail: { object: { size: [{ numeric: [">", 0, "<", 300] }] } } })).toBe(false);
    expect(matches({ detail: { object: { size: [{ numeric: ["=", 3e2] }] } } })).toBe(true);
    expect(matches({ detail: { object: { size: [{ numeric: [">=", 301] }] } } })).toBe(false);
    expect(matches({ detail: { object: { key: [{ numeric: [">", 0] }] } } })).toBe(false);
  });

  it("matches an event array when any element matches", () => {
    expect(matches({ resources: ["arn:aws:s3:::bucket-b"] })).toBe(true);
    expect(matches({ resources: ["arn:aws:s3:::bucket-c"] })).toBe(false);
    expect(matches({ detail: { pages: [{ numeric: [">", 10] }] } })).toBe(true);
    expect(matches({ detail: { pages: [{ numeric: [">", 12] }] } })).toBe(false);
  });

  it("matches a nested pattern against one array element at a time", () => {
    expect(matches({ detail: { chunks: { id: ["c2"], status: ["DONE"] } } })).toBe(true);
    // c1 is FAILED and c2 is DONE, but no single chunk is c1 and DONE.
    expect(matches({ detail: { chunks: { id: ["c1"], status: ["DONE"] } } })).toBe(false);
  });

  it("treats a missing or non-object event as having no fields", () => {
    expect(matchesEventPattern(undefined, { source: ["aws.s3"] })).toBe(false);
    expect(matchesEventPattern("aws.s3", { source: ["aws.s3"] })).toBe(false);
    expect(matchesEventPattern(null, { source: [{ exists: false }] })).toBe(true);
  });

  it("throws on operators it does not support, naming them, even when another value would match", () => {
    expect(() => matches({ source: ["aws.s3", { suffix: ".s3" }] })).toThrow(/"suffix"/);
    expect(() => matches({ source: [{ "equals-ignore-case": "AWS.S3" }] })).toThrow(/"equals-ignore-case"/);
    expect(() => matches({ detail: { ip: [{ cidr: "10.0.0.0/8" }] } })).toThrow(/"cidr".*detail\.ip/);
    expect(() => matches({ $or: [{ source: ["aws.s3"] }, { source: ["aws.ec2"] }] })).toThrow(/"\$or"/);
    expect(() => matches({ source: [{ "anything-but": { suffix: ".png" } }] })).toThrow(/anything-but.*suffix/);
    expect(() => matches({ size: [{ numeric: ["!=", 1] }] })).toThrow(/"!="/);
    // Only checked up front: the event has no "missing" field, so the operator would never be reached otherwise.
    expect(() => matches({ missing: { deeper: [{ wildcard: "*" }] } })).toThrow(/"wildcard"/);
  });

  it("rejects malformed patterns that AWS would refuse", () => {
    expect(() => matches({ source: "aws.s3" })).toThrow(/must be an array/);
    expect(() => matches({ source: [] })).toThrow(/empty array/);
    expect(() => matches({ source: [{ prefix: "a", exists: true }] })).toThrow(/exactly one key/);
    expect(() => matches({ source: [{ prefix: 1 }] })).toThrow(/must be a string/);
    expect(() => matches({ source: [{ exists: "yes" }] })).toThrow(/true or false/);
    expect(() => matches({ source: [{ "anything-but": ["a", 1] }] })).toThrow(/all strings or all numbers/);
    expect(() => matches({ size: [{ numeric: [">", "1"] }] })).toThrow(/must be a number/);
    expect(() => matches({ size: [{ numeric: [">", 1, "<"] }] })).toThrow(/numeric takes/);
    expect(() => compileEventPattern([] as object)).toThrow(/JSON object/);
  });
});

describe("matchesAnyFilter (Lambda FilterCriteria)", () => {
  const record = { eventName: "MODIFY", dynamodb: { NewImage: { status: { S: "COMPLETED" } } } };

  it("passes a record when any filter matches", () => {
    const filters = [{ eventName: ["INSERT"] }, { dynamodb: { NewImage: { status: { S: ["COMPLETED", "FAILED"] } } } }];
    expect(matchesAnyFilter(record, filters)).toBe(true);
    expect(matchesAnyFilter(record, [{ eventName: ["INSERT"] }, { eventName: ["REMOVE"] }])).toBe(false);
  });

  it("passes everything without filters", () => {
    expect(matchesAnyFilter(record, [])).toBe(true);
  });

  it("checks every filter, so an unsupported one throws even when another matches", () => {
    expect(() => matchesAnyFilter(record, [{ eventName: ["MODIFY"] }, { eventName: [{ suffix: "FY" }] }])).toThrow(/"suffix"/);
  });
});

describe("the EventBridge rule in the twin", () => {
  const notification = (key: string) =>
    objectCreatedEvent({
      eventName: "ObjectCreated:Put",
      eventTime: "2026-01-01T00:00:00.000Z",
      s3: { bucket: { name: "llambda-local" }, object: { key, size: 1, eTag: "e" } },
    });

  it("starts the workflow for uploads only, through the shared matcher", () => {
    expect(matchesPattern(notification("uploads/a.pdf"), uploadEventPattern("llambda-local"))).toBe(true);
    expect(matchesPattern(notification("chunks/a.jsonl"), uploadEventPattern("llambda-local"))).toBe(false);
    expect(matchesPattern(notification("uploads/a.pdf"), uploadEventPattern("another-bucket"))).toBe(false);
  });
});
