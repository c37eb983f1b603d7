import { PDFDocument, StandardFonts } from "pdf-lib";

/** A long text PDF for scale tests: `pages` pages of `linesPerPage` lines of varied prose, deterministic. */
export async function syntheticPdf(pages: number, linesPerPage = 45): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  pdf.setCreationDate(new Date("2024-01-01T00:00:00Z"));
  pdf.setModificationDate(new Date("2024-01-01T00:00:00Z"));
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const words = ["quarterly", "revenue", "contract", "shipment", "invoice", "customer", "warehouse", "Lisbon", "Berlin",
    "payment", "schedule", "delivery", "clause", "liability", "forecast", "audit", "margin", "supplier", "order", "net"];
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  for (let page = 1; page <= pages; page++) {
    const p = pdf.addPage([595, 842]);
    p.drawText(`Annual report 2024 — page ${page}`, { x: 40, y: 810, size: 9, font });
    for (let line = 0; line < linesPerPage; line++) {
      const text = Array.from({ length: 14 }, () => words[next() % words.length]).join(" ") + ` ${next() % 10000}.`;
      p.drawText(text, { x: 40, y: 780 - line * 16, size: 9, font });
    }
  }
  return pdf.save({ useObjectStreams: true });
}
