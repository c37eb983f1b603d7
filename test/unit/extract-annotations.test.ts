import { PDFDocument, StandardFonts } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { annotationText, extractPages } from "../../functions/chunk/pdf-text.ts";
import { DocumentInputCodes, DocumentInputError } from "../../functions/shared/errors.ts";

describe("text in annotations", () => {
  it("takes free-text boxes and filled form fields, not comments or empty fields", () => {
    expect(
      annotationText([
        { subtype: "FreeText", textContent: ["Approved", "by J. Doe"], contentsObj: { str: "ignored" } },
        { subtype: "FreeText", contentsObj: { str: "Callout" } },
        { subtype: "Widget", fieldType: "Tx", fieldValue: "ACME Ltd" },
        { subtype: "Widget", fieldType: "Ch", fieldValue: ["Red", "Blue"] },
        { subtype: "Widget", fieldType: "Tx", fieldValue: "  " },
        { subtype: "Widget", fieldType: "Btn", fieldValue: "Off" },
        { subtype: "Text", contentsObj: { str: "a reviewer's sticky note" } },
      ]),
    ).toEqual(["Approved\nby J. Doe", "Callout", "ACME Ltd", "Red, Blue"]);
  });

  it("extracts a filled form field after the page's own text", async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    const page = pdf.addPage([595, 842]);
    page.drawText("Customer name:", { x: 50, y: 700, size: 12, font });
    const field = pdf.getForm().createTextField("customer");
    field.setText("Jane Whitfield");
    field.addToPage(page, { x: 160, y: 690, width: 200, height: 24 });
    const { pages } = await extractPages(await pdf.save());
    expect(pages[0]).toBe("Customer name:\n\nJane Whitfield");
  });

  it("counts a form with only filled fields as text, and an empty form as no text layer", async () => {
    const make = async (value: string | undefined) => {
      const pdf = await PDFDocument.create();
      const page = pdf.addPage([595, 842]);
      const field = pdf.getForm().createTextField("only");
      if (value !== undefined) field.setText(value);
      field.addToPage(page, { x: 50, y: 700, width: 200, height: 24 });
      return pdf.save();
    };
    expect((await extractPages(await make("Filled in"))).pages).toEqual(["Filled in"]);
    await expect(extractPages(await make(undefined))).rejects.toSatisfy(
      (error) => error instanceof DocumentInputError && error.code === DocumentInputCodes.NoTextLayer,
    );
  });
});
