/**
 * Bundles a worker-thread entry point into one ESM file with the handler bundles' esbuild settings
 * (esbuild-options.ts), minified with a source map like NodejsFunction's output:
 *   npx tsx infra/bundle-worker.ts <entry.ts> <outfile.mjs>
 * The chunk function's afterBundling hook (bundling.ts) runs it to put extract-worker.mjs next to index.mjs.
 */
import { build } from "esbuild";
import { resolve } from "node:path";
import { handlerBuildOptions } from "./esbuild-options.ts";
import { pdfjsDecodeBoundPlugin } from "./pdfjs-decode-bound.ts";

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error("usage: tsx infra/bundle-worker.ts <entry.ts> <outfile.mjs>");
  process.exit(2);
}

await build({
  ...handlerBuildOptions(resolve(entry), resolve(outfile)),
  // The decoded-bytes bound on pdf.js (issue 14): the worker must never be built without it.
  plugins: [pdfjsDecodeBoundPlugin],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  logLevel: "warning",
});
