/**
 * Builds the OCR function's /var/task inside its image build (infra/image/Dockerfile, target `ocr`):
 *   npx tsx infra/image/bundle-ocr.ts <out dir> [language, default eng]
 * writes <out dir>/handler.mjs (functions/ocr/handler.ts), one <name>.mjs per worker-thread entry
 * (`functions/ocr/*worker*.ts` and the shared page renderer's `functions/shared/page-render/*worker*.ts`) beside it (the
 * handler starts them from its own directory, as the chunk function does),
 * and copies the packages they keep external, with their run-time closures, to <out dir>/node_modules. Same esbuild
 * settings as every other handler (../esbuild-options.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { handlerBuildOptions, neverBundle } from "../esbuild-options.ts";
import { patchPdfjsWorker, pdfjsDecodeBoundPlugin } from "../pdfjs-decode-bound.ts";
import { copyRuntimeClosure } from "./runtime-deps.ts";

/** Where the OCR function's handler and its worker-thread entries are. */
export const OCR_FUNCTION_DIR = "functions/ocr";
/** The page renderer both the OCR and the review functions use; its worker-thread entry ships beside each handler. */
export const PAGE_RENDER_DIR = "functions/shared/page-render";

/**
 * Packages the OCR bundles leave external: each finds files relative to its own installed location, which bundling
 * would break.
 * - tesseract.js starts its recogniser as a worker thread from its own `src/worker-script/node/index.js`, which
 *   requires tesseract.js-core's WebAssembly build by package path;
 * - @napi-rs/canvas loads its platform's native addon (@napi-rs/canvas-linux-arm64-gnu) by package name;
 * - pdfjs-dist runs its "fake worker" by importing `./pdf.worker.mjs` beside its own `pdf.mjs`, and the renderer gives
 *   it the package's `cmaps/`, `standard_fonts/` and `wasm/` directories (functions/shared/page-render/render-page.ts);
 * - utif2 decodes TIFF uploads; kept with the other decoders for one rule: the image's decoders are npm's files.
 * The language model package (@tesseract.js-data/<language>) is data the recogniser resolves at run time.
 */
export const OCR_EXTERNAL_PACKAGES = ["tesseract.js", "@napi-rs/canvas", "pdfjs-dist", "utif2"] as const;

/** What a bundle of the page renderer (functions/shared/page-render) keeps external: the decoders above, not the recogniser. */
export const PAGE_RENDER_EXTERNAL_PACKAGES = ["@napi-rs/canvas", "pdfjs-dist", "utif2"] as const satisfies ReadonlyArray<(typeof OCR_EXTERNAL_PACKAGES)[number]>;

/** The language model package of a Tesseract language code. */
export const ocrLanguagePackage = (language: string): string => `@tesseract.js-data/${language}`;

/** The worker-thread entries of a folder: its `*worker*.ts`, tests excluded. */
export function workerEntries(repoRoot: string, dir: string): string[] {
  return readdirSync(join(repoRoot, dir))
    .filter((name) => /worker.*\.ts$/.test(name) && !name.endsWith(".test.ts"))
    .sort()
    .map((name) => `${dir}/${name}`);
}

/** The worker-thread entries of the OCR function: its own and the page renderer's. */
export function ocrWorkerEntries(repoRoot: string): string[] {
  return [...workerEntries(repoRoot, OCR_FUNCTION_DIR), ...workerEntries(repoRoot, PAGE_RENDER_DIR)];
}

/** pdf.js's worker module(s) in a copied pdfjs-dist: the decoded-bytes bound's hook is patched into each. */
const PDFJS_WORKER_MODULES = ["legacy/build/pdf.worker.mjs", "build/pdf.worker.mjs"];

/**
 * Bundles one entry of the OCR image (the OCR handler, the review handler, a worker) with the image's esbuild settings;
 * returns the output's bytes (code and map).
 */
export async function bundleOcrImageEntry(entry: string, outfile: string): Promise<number> {
  const result = await build({
    ...handlerBuildOptions(resolve(entry), resolve(outfile)),
    external: [...neverBundle, ...OCR_EXTERNAL_PACKAGES],
    // Applies where a bundle would include pdf.js's worker module; pdfjs-dist is external here, so the copy below is
    // patched instead. Kept so that a worker that bundles pdf.js can never be built without the bound.
    plugins: [pdfjsDecodeBoundPlugin],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
    logLevel: "warning",
  });
  return Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
}

async function main(): Promise<void> {
  const [outDir, language = "eng"] = process.argv.slice(2);
  if (!outDir) {
    console.error("usage: tsx infra/image/bundle-ocr.ts <out dir> [language]");
    process.exit(2);
  }
  const repoRoot = process.cwd();
  const entries = [`${OCR_FUNCTION_DIR}/handler.ts`, ...ocrWorkerEntries(repoRoot)];
  for (const entry of entries) {
    const name = entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, "");
    const bytes = await bundleOcrImageEntry(entry, join(outDir, `${name}.mjs`));
    console.log(`bundled ${entry} -> ${outDir}/${name}.mjs (${(bytes / 1024).toFixed(0)} KiB with map)`);
  }
  const nodeModules = join(outDir, "node_modules");
  const packages = [...OCR_EXTERNAL_PACKAGES, ocrLanguagePackage(language)];
  const locations = copyRuntimeClosure(repoRoot, packages, nodeModules);
  console.log(`copied ${locations.length} packages (${packages.join(", ")} and their run-time dependencies) to ${nodeModules}`);
  // The same decoded-bytes bound the chunk function's pdf.js has (infra/pdfjs-decode-bound.ts): inert until a worker
  // sets the hook, and a pdf.js upgrade that moves the patched line fails this build.
  for (const module of PDFJS_WORKER_MODULES) {
    const file = join(nodeModules, "pdfjs-dist", module);
    writeFileSync(file, patchPdfjsWorker(readFileSync(file, "utf8"), file));
  }
  console.log(`patched the decoded-bytes bound into pdfjs-dist/{${PDFJS_WORKER_MODULES.join(",")}}`);
}

if (process.argv[1]?.endsWith("bundle-ocr.ts")) await main();
