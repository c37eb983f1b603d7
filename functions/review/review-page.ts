import type { DocumentItem, DocumentStatus, FieldGrounding, ReviewReason } from "../shared/document-item.ts";

/**
 * Placeholder with the agreed exports, so that the review stage compiles on its own branch: the review page's builder
 * is written separately and replaces this file when the branches are merged.
 */

export interface ReviewPageImage {
  page: number;
  width: number;
  height: number;
  mime: "image/jpeg" | "image/png";
  data: Uint8Array;
}

export interface ReviewField {
  path: string;
  value: unknown;
  confidence?: number;
  grounding?: FieldGrounding;
}

export interface ReviewPageInput {
  documentId: string;
  sourceKey: string;
  status: DocumentStatus;
  schemaId: string;
  needsReview: boolean;
  reviewReasons: ReviewReason[];
  fields: ReviewField[];
  pages: ReviewPageImage[];
}

export function reviewFieldsOf(_item: Pick<DocumentItem, "result" | "grounding" | "confidence">): ReviewField[] {
  throw new Error("not merged yet");
}

export function buildReviewPage(_input: ReviewPageInput): string {
  throw new Error("not merged yet");
}
