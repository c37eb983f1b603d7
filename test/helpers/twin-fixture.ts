import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import type { LocalTwin, TwinOptions } from "../../infra/local/twin.ts";
import { writeTinyModel } from "../../models/random-llama.ts";

/**
 * A twin for end-to-end tests: a temporary folder, the project's tiny random-weight model, one llama.cpp thread and
 * short retry intervals, with whatever else a test file needs. `stop()` removes everything.
 */
export interface TestTwin {
  twin: LocalTwin;
  dir: string;
  stop(): Promise<void>;
}

export async function startTestTwin(options: Partial<Omit<TwinOptions, "dataDir" | "modelPath">> = {}): Promise<TestTwin> {
  const dir = mkdtempSync(join(tmpdir(), "llambda-twin-"));
  try {
    const model = await writeTinyModel(join(dir, "tiny.gguf"));
    const { LocalTwin } = await import("../../infra/local/twin.ts");
    const twin = await LocalTwin.start({
      dataDir: join(dir, "data"),
      modelPath: model.path,
      chunkTokens: 60,
      threads: 1,
      maxOutputTokens: 768,
      retryIntervalMs: 10,
      ...options,
    });
    return {
      twin,
      dir,
      stop: async () => {
        await twin.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A PDF of `pages` pages, ten lines of invoice-like text each: several chunks at the fixture's 60 tokens. */
export async function multiPagePdf(pages: number): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (let p = 1; p <= pages; p++) {
    const page = pdf.addPage();
    for (let line = 0; line < 10; line++) {
      page.drawText(`Page ${p}, line ${line}: Globex Corporation paid invoice ${p}${line} of ${100 + line} EUR on 2024-03-${10 + p}.`, {
        x: 40, y: 760 - line * 22, size: 11, font,
      });
    }
  }
  return pdf.save();
}
