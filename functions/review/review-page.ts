/**
 * The review page: one self-contained HTML document per document, for a person checking an extraction. It shows the
 * item's header (document, status, whether it needs review and why), every extracted value with its confidence, match
 * and quote, and the pages as images with a box over each grounded value; clicking a field shows its boxes, clicking a
 * box shows its field.
 *
 * Pure: the caller renders the page images (page-images.ts) and stores the HTML. Everything the page needs is inline
 * (CSS, a constant script, images as data: URLs) and its Content-Security-Policy forbids any request, so it opens from
 * S3, a mail attachment or a disk and never calls out. Every value and quote is document or model text: it is escaped,
 * and none of it goes into the script (the script reads the markup's data attributes).
 */
import type { DocumentItem, DocumentStatus, FieldGrounding, GroundingMatch, PageBox, ReviewReason } from "../shared/document-item.ts";

/** A page as shown on the review page: its size in PDF points as shown (rotation applied) and its image. */
export interface ReviewPageImage {
  page: number;
  width: number;
  height: number;
  mime: "image/jpeg" | "image/png";
  data: Uint8Array;
}

/** One extracted value: its path (`lines[0].name`), value, confidence and grounding, as the item records them. */
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
  /** Only the pages to show, ascending. */
  pages: ReviewPageImage[];
}

/** The page's Content-Security-Policy: nothing may be fetched; only inline styles, inline script and data: images. */
export const REVIEW_PAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

/**
 * Every scalar leaf of the result (null included), in the result's own order, with its grounding and confidence.
 * Paths are the merge's: `a.b` for an object's field, `list[2]` for a list's item (`lines[0].name`). Grounding entries
 * of paths the result no longer has as leaves (a value rejected with its whole item) follow, in their own order.
 */
export function reviewFieldsOf(item: Pick<DocumentItem, "result" | "grounding" | "confidence">): ReviewField[] {
  const fields: ReviewField[] = [];
  const seen = new Set<string>();
  const add = (path: string, value: unknown): void => {
    seen.add(path);
    const grounding = item.grounding?.[path];
    const confidence = item.confidence?.[path];
    fields.push({ path, value, ...(confidence === undefined ? {} : { confidence }), ...(grounding === undefined ? {} : { grounding }) });
  };
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((element, index) => walk(element, `${path}[${index}]`));
    } else if (value !== null && typeof value === "object") {
      for (const [name, child] of Object.entries(value)) walk(child, path === "" ? name : `${path}.${name}`);
    } else if (path !== "") {
      add(path, value);
    }
  };
  walk(item.result ?? {}, "");
  for (const [path, grounding] of Object.entries(item.grounding ?? {})) {
    if (!seen.has(path) && grounding.rejected !== undefined) add(path, null);
  }
  return fields;
}

/** A box's place on its page, in percent of the page's width and height (so it scales with the image), clamped to the page. */
export function boxPercent(box: Pick<PageBox, "x" | "y" | "width" | "height">, page: { width: number; height: number }): {
  left: number;
  top: number;
  width: number;
  height: number;
} {
  const clamp = (value: number) => Math.min(100, Math.max(0, value));
  const left = clamp((box.x / page.width) * 100);
  const top = clamp((box.y / page.height) * 100);
  const right = clamp(((box.x + box.width) / page.width) * 100);
  const bottom = clamp(((box.y + box.height) / page.height) * 100);
  return { left, top, width: right - left, height: bottom - top };
}

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The characters an image adds to the page as a data: URL (base64), which is what it weighs in the HTML. */
export function dataUrlLength(image: Pick<ReviewPageImage, "mime" | "data">): number {
  return `data:${image.mime};base64,`.length + Math.ceil(image.data.byteLength / 3) * 4;
}

function dataUrl(image: ReviewPageImage): string {
  return `data:${image.mime};base64,${Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).toString("base64")}`;
}

/** One self-contained HTML document: see the module comment. */
export function buildReviewPage(input: ReviewPageInput): string {
  const shownPages = new Map(input.pages.map((image) => [image.page, image]));
  const fieldIndexByPath = new Map(input.fields.map((field, index) => [field.path, index]));
  const boxesByPage = new Map<number, string[]>();
  input.fields.forEach((field, index) => {
    const grounding = field.grounding;
    if (grounding === undefined || !isFound(grounding.match)) return;
    for (const box of grounding.boxes ?? []) {
      const image = shownPages.get(box.page);
      if (image === undefined) continue;
      const at = boxPercent(box, image);
      const style = `left:${percent(at.left)};top:${percent(at.top)};width:${percent(at.width)};height:${percent(at.height)}`;
      const markup =
        `<div class="box m-${grounding.match}" data-field="${index}" style="${style}" title="${escapeHtml(field.path)}" ` +
        `role="button" tabindex="0" aria-label="${escapeHtml(`${field.path}: ${displayValue(field.value)}`)}"></div>`;
      boxesByPage.set(box.page, [...(boxesByPage.get(box.page) ?? []), markup]);
    }
  });

  const title = `Review: ${input.sourceKey}`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${REVIEW_PAGE_CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    header(input, fieldIndexByPath),
    '<main class="layout">',
    `<section class="fields" aria-label="Fields"><h2>Fields <span class="count">${input.fields.length}</span></h2>${legend()}`,
    input.fields.length === 0 ? '<p class="empty">No extracted values.</p>' : input.fields.map((field, index) => fieldRow(field, index, shownPages)).join(""),
    "</section>",
    '<section class="pages" aria-label="Pages">',
    input.pages.length === 0 ? '<p class="empty">No page images.</p>' : "",
    ...input.pages.map((image) => pageFigure(image, boxesByPage.get(image.page) ?? [])),
    "</section>",
    "</main>",
    `<script>${SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function isFound(match: GroundingMatch): match is "exact" | "normalised" | "fuzzy" {
  return match === "exact" || match === "normalised" || match === "fuzzy";
}

/** Enough digits for a box to land within a tenth of a pixel on a page thousands of pixels tall. */
function percent(value: number): string {
  return `${Number(value.toFixed(4))}%`;
}

function displayValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

const MATCH_LABELS: Record<GroundingMatch, string> = {
  exact: "exact",
  normalised: "normalised",
  fuzzy: "fuzzy",
  none: "not found",
  ungroundable: "not groundable",
};

function legend(): string {
  const kinds: GroundingMatch[] = ["exact", "normalised", "fuzzy", "none", "ungroundable"];
  return `<p class="legend">${kinds.map((kind) => `<span class="badge m-${kind}">${MATCH_LABELS[kind]}</span>`).join(" ")}</p>`;
}

function header(input: ReviewPageInput, fieldIndexByPath: Map<string, number>): string {
  const verdict = input.needsReview
    ? '<p class="verdict needs">Needs review</p>'
    : '<p class="verdict ok">No review needed</p>';
  const reasons =
    input.reviewReasons.length === 0
      ? ""
      : `<ul class="reasons">${input.reviewReasons.map((reason) => `<li>${reasonText(reason, fieldIndexByPath)}</li>`).join("")}</ul>`;
  return [
    "<header>",
    `<h1>${escapeHtml(input.sourceKey)}</h1>`,
    '<dl class="facts">',
    `<div><dt>Status</dt><dd class="status s-${escapeHtml(input.status)}">${escapeHtml(input.status)}</dd></div>`,
    `<div><dt>Schema</dt><dd>${escapeHtml(input.schemaId)}</dd></div>`,
    `<div><dt>Document</dt><dd><code>${escapeHtml(input.documentId)}</code></dd></div>`,
    "</dl>",
    verdict,
    reasons,
    "</header>",
  ].join("");
}

const REASON_LABELS: Record<ReviewReason["code"], string> = {
  ungrounded: "Not found in the document",
  rejected: "Rejected (not found in the document)",
  "low-confidence": "Low confidence",
  conflict: "Chunks disagreed",
  "failed-chunks": "Chunks failed",
  "failed-pages": "Pages failed",
  "low-confidence-ocr": "Pages read by OCR with low confidence",
};

function reasonText(reason: ReviewReason, fieldIndexByPath: Map<string, number>): string {
  const parts = [escapeHtml(REASON_LABELS[reason.code] ?? reason.code)];
  if (reason.path !== undefined) {
    const index = fieldIndexByPath.get(reason.path);
    const path = `<code>${escapeHtml(reason.path)}</code>`;
    parts.push(index === undefined ? path : `<a href="#field-${index}" data-field-link="${index}">${path}</a>`);
  }
  if (reason.confidence !== undefined) {
    parts.push(escapeHtml(`${Math.round(reason.confidence * 100)} %` + (reason.threshold === undefined ? "" : ` (below ${Math.round(reason.threshold * 100)} %)`)));
  }
  if (reason.pages !== undefined && reason.pages.length > 0) parts.push(escapeHtml(`page${reason.pages.length > 1 ? "s" : ""} ${reason.pages.join(", ")}`));
  if (reason.chunks !== undefined && reason.chunks.length > 0) parts.push(escapeHtml(`chunk${reason.chunks.length > 1 ? "s" : ""} ${reason.chunks.join(", ")}`));
  return parts.join(": ");
}

function fieldRow(field: ReviewField, index: number, shownPages: Map<number, ReviewPageImage>): string {
  const grounding = field.grounding;
  // The item is ours, but it is read back from a store: only known kinds and whole pages reach the markup unescaped.
  const match = grounding === undefined ? undefined : Object.hasOwn(MATCH_LABELS, grounding.match) ? grounding.match : "none";
  const rejected = grounding?.rejected;
  const boxed = grounding !== undefined && isFound(grounding.match) && (grounding.boxes ?? []).some((box) => shownPages.has(box.page));
  const classes = ["field", rejected ? "rejected" : "", boxed ? "boxed" : ""].filter(Boolean).join(" ");
  const value = rejected
    ? `<span class="value rejected-value"><del>${escapeHtml(displayValue(rejected.value))}</del> <span class="note">rejected: not found in the document</span></span>`
    : `<span class="value${field.value === null || field.value === undefined ? " empty" : ""}">${escapeHtml(displayValue(field.value))}</span>`;
  const confidence =
    field.confidence === undefined
      ? '<span class="confidence unknown" title="no confidence recorded">—</span>'
      : `<span class="confidence" title="confidence"><span class="bar"><span style="width:${percent(Math.min(1, Math.max(0, field.confidence)) * 100)}"></span></span>${Math.round(field.confidence * 100)} %</span>`;
  const badge = match === undefined ? "" : `<span class="badge m-${match}">${MATCH_LABELS[match]}${grounding?.similarity === undefined ? "" : ` ${Math.round(grounding.similarity * 100)} %`}</span>`;
  const page = Number.isInteger(grounding?.page) ? grounding!.page : undefined;
  const pageText =
    page === undefined ? "" : `<span class="page-ref">p. ${page}${shownPages.has(page) ? "" : ' <span class="note">(not shown)</span>'}</span>`;
  const quote = grounding?.quote === undefined || grounding.quote === "" ? "" : `<q class="quote">${escapeHtml(grounding.quote)}</q>`;
  return (
    `<div class="${classes}" id="field-${index}" data-field="${index}" data-field-row${page === undefined ? "" : ` data-page="${page}"`} tabindex="0">` +
    `<div class="line"><code class="path">${escapeHtml(field.path)}</code>${value}</div>` +
    `<div class="meta">${confidence}${badge}${pageText}</div>${quote}</div>`
  );
}

function pageFigure(image: ReviewPageImage, boxes: string[]): string {
  return (
    `<figure class="page" id="page-${image.page}" data-page="${image.page}">` +
    `<div class="sheet" style="aspect-ratio:${Number(image.width.toFixed(3))} / ${Number(image.height.toFixed(3))}">` +
    `<img src="${dataUrl(image)}" alt="Page ${image.page}">${boxes.join("")}</div>` +
    `<figcaption>Page ${image.page}</figcaption></figure>`
  );
}

const STYLE = `
:root{--exact:#1a7f37;--normalised:#0969da;--fuzzy:#bc6c00;--none:#cf222e;--ungroundable:#6e7781;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--hi:#ffd33d}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f6f8fa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:18px;margin:0 0 6px;word-break:break-all}
h2{font-size:15px;margin:0 0 8px}
.facts{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0}
.facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0}
.verdict{display:inline-block;margin:8px 0 0;padding:2px 10px;border-radius:12px;font-weight:600}
.verdict.needs{background:#ffebe9;color:var(--none)}.verdict.ok{background:#dafbe1;color:var(--exact)}
.reasons{margin:6px 0 0;padding-left:20px}
.layout{display:grid;grid-template-columns:minmax(320px,420px) 1fr;gap:16px;padding:16px 20px;align-items:start}
.fields{position:sticky;top:0;max-height:100vh;overflow:auto;background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px}
.count{color:var(--muted);font-weight:400}
.legend{margin:0 0 8px;display:flex;flex-wrap:wrap;gap:4px}
.field{padding:6px 8px;border-left:4px solid transparent;border-bottom:1px solid var(--line);cursor:default}
.field.boxed{cursor:pointer}
.field:focus{outline:2px solid var(--normalised);outline-offset:-2px}
.field.active{background:#fff8c5;border-left-color:var(--hi)}
.line{display:flex;flex-wrap:wrap;gap:2px 8px;align-items:baseline}
.path{color:var(--muted);font-size:12px}
.value{font-weight:600;word-break:break-word}.value.empty{color:var(--muted);font-weight:400}
.rejected-value del{color:var(--none)}
.note{color:var(--muted);font-size:12px;font-weight:400}
.meta{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:2px;font-size:12px;color:var(--muted)}
.confidence{display:inline-flex;align-items:center;gap:4px}
.bar{display:inline-block;width:60px;height:6px;background:#eaeef2;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--normalised)}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:11px;color:#fff}
.badge.m-exact{background:var(--exact)}.badge.m-normalised{background:var(--normalised)}.badge.m-fuzzy{background:var(--fuzzy)}
.badge.m-none{background:var(--none)}.badge.m-ungroundable{background:var(--ungroundable)}
.quote{display:block;margin-top:2px;font-size:12px;color:var(--muted);word-break:break-word}
.pages{display:flex;flex-direction:column;gap:16px;min-width:0}
.page{margin:0;max-width:1000px}
.sheet{position:relative;width:100%;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.25)}
.sheet img{position:absolute;inset:0;width:100%;height:100%;display:block}
.box{position:absolute;min-width:2px;min-height:2px;border-radius:2px;cursor:pointer;--c:var(--exact);box-shadow:0 0 0 2px var(--c);background:rgba(255,255,255,0)}
.box.m-exact{--c:var(--exact);background:rgba(26,127,55,.12)}
.box.m-normalised{--c:var(--normalised);background:rgba(9,105,218,.12)}
.box.m-fuzzy{--c:var(--fuzzy);background:rgba(188,108,0,.15)}
.box.active,.box:focus{outline:none;box-shadow:0 0 0 2px var(--c),0 0 0 5px var(--hi);background:rgba(255,211,61,.35);z-index:1}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
.empty{color:var(--muted)}
@media (max-width:900px){.layout{grid-template-columns:1fr}.fields{position:static;max-height:none}}
@media print{body{background:#fff}.layout{display:block;padding:0}.fields{position:static;max-height:none;overflow:visible;border:0}
.page{break-inside:avoid;page-break-inside:avoid;margin-top:12px}.sheet{box-shadow:none;border:1px solid var(--line)}
.field{break-inside:avoid}.box,.badge,.bar span{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
`
  .trim()
  .replace(/\n/g, "");

/**
 * The page's only script, a constant: document text never enters it. Selecting a field marks its row and boxes and
 * brings its first box (else its page) into view; selecting a box marks it and its field and brings the field into view.
 */
const SCRIPT = `
(function () {
  "use strict";
  function select(id, from) {
    var marked = document.querySelectorAll(".active");
    for (var i = 0; i < marked.length; i++) marked[i].classList.remove("active");
    var row = document.getElementById("field-" + id);
    var boxes = document.querySelectorAll('.box[data-field="' + id + '"]');
    if (row) row.classList.add("active");
    for (var j = 0; j < boxes.length; j++) boxes[j].classList.add("active");
    if (from === "box") {
      if (row) row.scrollIntoView({ block: "nearest" });
      return;
    }
    if (from === "link" && row) row.scrollIntoView({ block: "nearest" });
    if (boxes.length > 0) boxes[0].scrollIntoView({ block: "center", inline: "nearest" });
    else if (row && row.getAttribute("data-page")) {
      var page = document.getElementById("page-" + row.getAttribute("data-page"));
      if (page) page.scrollIntoView({ block: "start" });
    }
  }
  function target(event) {
    var element = event.target;
    if (!(element instanceof Element)) return null;
    var box = element.closest(".box");
    if (box) return { id: box.getAttribute("data-field"), from: "box" };
    var link = element.closest("[data-field-link]");
    if (link) return { id: link.getAttribute("data-field-link"), from: "link" };
    var row = element.closest("[data-field-row]");
    if (row) return { id: row.getAttribute("data-field"), from: "row" };
    return null;
  }
  document.addEventListener("click", function (event) {
    var found = target(event);
    if (found === null) return;
    if (found.from === "link") event.preventDefault();
    select(found.id, found.from);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var found = target(event);
    if (found === null) return;
    event.preventDefault();
    select(found.id, found.from);
  });
})();
`.trim();
