/**
 * Bundles the inference handler for the container image (run inside the Docker build, see infra/image/Dockerfile, stage infer-build):
 *   npx tsx infra/image/bundle-infer.ts <out dir>
 * writes <out dir>/handler.mjs (+ .map). Same esbuild settings as the zip functions (../esbuild-options.ts), except that
 * node-llama-cpp stays external: it finds its prebuilt binaries relative to its own files and tests them in a child
 * process, which bundling would break.
 */
import { build } from "esbuild";
import { resolve } from "node:path";
import { handlerBuildOptions } from "../esbuild-options.ts";

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: tsx infra/image/bundle-infer.ts <out dir>");
  process.exit(2);
}

const result = await build({
  ...handlerBuildOptions(resolve("functions/infer/handler.ts"), resolve(outDir, "handler.mjs")),
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  metafile: true,
  logLevel: "warning",
});

const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`bundled functions/infer/handler.ts -> ${outDir}/handler.mjs (${(bytes / 1024).toFixed(0)} KiB with map)`);
