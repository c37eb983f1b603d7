/**
 * Builds the review function's entry inside the OCR image's build (infra/image/Dockerfile, stage `ocr-build`, after
 * bundle-ocr.ts):
 *   npx tsx infra/image/bundle-review.ts <out dir>
 * writes <out dir>/review-handler.mjs (functions/review/handler.ts) and one <name>.mjs per worker-thread entry
 * `functions/review/*worker*.ts`, beside the OCR handler. It shares that image's node_modules (pdf.js, @napi-rs/canvas)
 * and the page renderer's worker, which bundle-ocr.ts puts there: the review function is the OCR image started with
 * another command (REVIEW_IMAGE_HANDLER). Bundled as the OCR image's other entries are (bundle-ocr.ts `bundleOcrImageEntry`).
 */
import { join } from "node:path";
import { bundleOcrImageEntry, workerEntries } from "./bundle-ocr.ts";

/** Where the review function's handler (and any worker-thread entry of its own) is. */
export const REVIEW_FUNCTION_DIR = "functions/review";

/** The review handler's module in /var/task, without its extension. */
export const REVIEW_HANDLER_MODULE = "review-handler";

/** The image command of the review function: Lambda's handler string for the module above. */
export const REVIEW_IMAGE_HANDLER = `${REVIEW_HANDLER_MODULE}.handler`;

async function main(): Promise<void> {
  const [outDir] = process.argv.slice(2);
  if (!outDir) {
    console.error("usage: tsx infra/image/bundle-review.ts <out dir>");
    process.exit(2);
  }
  const repoRoot = process.cwd();
  await bundleOcrImageEntry(`${REVIEW_FUNCTION_DIR}/handler.ts`, join(outDir, `${REVIEW_HANDLER_MODULE}.mjs`));
  console.log(`bundled ${REVIEW_FUNCTION_DIR}/handler.ts -> ${outDir}/${REVIEW_HANDLER_MODULE}.mjs`);
  for (const entry of workerEntries(repoRoot, REVIEW_FUNCTION_DIR)) {
    const name = entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, "");
    await bundleOcrImageEntry(entry, join(outDir, `${name}.mjs`));
    console.log(`bundled ${entry} -> ${outDir}/${name}.mjs`);
  }
}

if (process.argv[1]?.endsWith("bundle-review.ts")) await main();
