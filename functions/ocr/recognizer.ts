import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createWorker, OEM, PSM, type Worker } from "tesseract.js";
import { OcrPageCodes, OcrPageError } from "../shared/errors.ts";
import type { OcrWord } from "../shared/contracts.ts";
import type { GreyImage } from "../shared/page-render/render-page.ts";

export type { OcrWord };

export interface OcrPage {
  text: string;
  words: OcrWord[];
  /** Mean word confidence, 0–100 (0 when there are no words). */
  meanConfidence: number;
}

export interface RecognizerOptions {
  /** Tesseract's language code, as its `@tesseract.js-data/<lang>` package names it. Default "eng". */
  language?: string;
}

/**
 * One tesseract.js worker (a worker thread running Tesseract's LSTM engine in WebAssembly). Language data comes from
 * the installed `@tesseract.js-data/<lang>` packages (the LSTM-only "best_int" models), never from the network, and
 * nothing is cached to disk (Lambda's file system is read-only outside /tmp).
 */
export class Recognizer {
  private constructor(private readonly worker: Worker) {}

  static async create(options: RecognizerOptions = {}): Promise<Recognizer> {
    const language = options.language ?? "eng";
    const worker = await createWorker(language, OEM.LSTM_ONLY, {
      langPath: languageDataDir(language),
      cacheMethod: "none",
      gzip: true,
      // Without a handler, a failed job also throws from the worker's message listener and ends the process; its
      // promise rejects anyway, and recognize() turns that into an OcrPageError.
      errorHandler: () => undefined,
    });
    // tesseract.js defaults to one uniform block (PSM 6), which drops rows of ruled tables; the CLI's automatic
    // segmentation (PSM 3) reads pages as they are laid out.
    await worker.setParameters({ tessedit_pageseg_mode: PSM.AUTO });
    return new Recognizer(worker);
  }

  /**
   * Recognises a grey image. Tesseract reads it as a binary PGM (P5): a 15-byte header on the pixels, where PNG
   * would cost seconds of encoding per page.
   */
  async recognize(image: GreyImage): Promise<OcrPage> {
    await this.worker.setParameters({ user_defined_dpi: String(image.dpi) });
    const header = new TextEncoder().encode(`P5\n${image.width} ${image.height}\n255\n`);
    const pgm = new Uint8Array(header.length + image.pixels.length);
    pgm.set(header);
    pgm.set(image.pixels, header.length);
    let data;
    try {
      ({ data } = await this.worker.recognize(Buffer.from(pgm.buffer), {}, { text: true, blocks: true }));
    } catch (error) {
      throw new OcrPageError(OcrPageCodes.Failed, `Tesseract could not read the page: ${String(error)}`, { cause: error });
    }
    const words: OcrWord[] = (data.blocks ?? []).flatMap((block) =>
      block.paragraphs.flatMap((paragraph) =>
        paragraph.lines.flatMap((line) =>
          line.words
            .filter((word) => word.text.trim() !== "")
            .map((word) => ({ text: word.text, confidence: word.confidence, box: { ...word.bbox } })),
        ),
      ),
    );
    // Over the words found: Tesseract's own page confidence also counts empty "words" and is high on junk pages.
    const meanConfidence = words.length === 0 ? 0 : words.reduce((sum, word) => sum + word.confidence, 0) / words.length;
    return { text: words.length === 0 ? "" : data.text.trim(), words, meanConfidence };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Where the language's LSTM-only model (`<lang>.traineddata.gz`, tesseract.js appends the name) is in its
 * `@tesseract.js-data/<lang>` package. One language per recogniser: tesseract.js reads every language of a worker from
 * one directory, and each language package has its own.
 */
function languageDataDir(language: string): string {
  if (!/^[a-z_]{3,12}$/.test(language)) throw new RangeError(`Not a Tesseract language code: ${JSON.stringify(language)}`);
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`@tesseract.js-data/${language}/package.json`)), "4.0.0_best_int");
}
