/**
 * Writes samples/acme-invoice.pdf, a small two-page invoice used in the README's examples:
 * `npx tsx samples/make-sample.ts`. The committed PDF is this script's output.
 */
import { writeFileSync } from "node:fs";
import { PDFDocument, StandardFonts } from "pdf-lib";

const pages = [
  [
    "ACME Industrial Supplies Ltd.",
    "12 Harbour Road, Bristol BS1 4RW, United Kingdom",
    "",
    "INVOICE No. INV-2024-0117",
    "Invoice date: 2024-03-14        Due date: 2024-04-13",
    "",
    "Bill to: Globex Corporation, 500 Market Street, San Francisco, CA 94105, USA",
    "Purchase order: PO-88213",
    "",
    "Item                                   Qty     Unit price      Amount",
    "Hydraulic pump HP-200                    2       1,250.00 GBP    2,500.00 GBP",
    "Seal kit SK-14                          10          18.50 GBP      185.00 GBP",
    "On-site installation (hours)             6          95.00 GBP      570.00 GBP",
  ],
  [
    "INVOICE No. INV-2024-0117 (continued)",
    "",
    "Subtotal                                                         3,255.00 GBP",
    "VAT 20%                                                            651.00 GBP",
    "Total due                                                        3,906.00 GBP",
    "",
    "Payment terms: 30 days net. Please pay by bank transfer to",
    "ACME Industrial Supplies Ltd., IBAN GB29 NWBK 6016 1331 9268 19, quoting INV-2024-0117.",
    "",
    "Questions about this invoice: Jane Whitfield, accounts@acme-industrial.example, +44 117 496 0123.",
  ],
];

const pdf = await PDFDocument.create();
pdf.setTitle("Invoice INV-2024-0117");
// Fixed dates keep the output byte-identical between runs.
pdf.setCreationDate(new Date("2024-03-14T09:00:00Z"));
pdf.setModificationDate(new Date("2024-03-14T09:00:00Z"));
const font = await pdf.embedFont(StandardFonts.Helvetica);
for (const lines of pages) {
  const page = pdf.addPage([595, 842]);
  lines.forEach((line, i) => page.drawText(line, { x: 50, y: 780 - i * 20, size: 10, font }));
}
writeFileSync(new URL("./acme-invoice.pdf", import.meta.url), await pdf.save({ useObjectStreams: false }));
