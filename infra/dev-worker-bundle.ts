import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerWorkerSourceBundler } from "../functions/chunk/isolated-extract.ts";
import { handlerBuildOptions } from "./esbuild-options.ts";
import { pdfjsDecodeBoundPlugin } from "./pdfjs-decode-bound.ts";

/**
 * Development only: running the chunk stage from source (the local twin, `npm run chunk`, the benches, the tests),
 * there is no extract-worker.mjs beside the handler, so the worker is bundled in memory with esbuild, with the Lambda
 * bundle's settings (the same as bundle-worker.ts, which builds the deployed one). Importing this module registers the
 * bundler with functions/chunk/isolated-extract.ts; production code never imports infra/.
 */

export async function bundleWorkerSource(entryPath: string): Promise<string> {
  // A computed specifier, imported on first use: esbuild is a devDependency, needed only when a PDF is extracted.
  const esbuildModule = "esbuild";
  let build: (options: object) => Promise<{ outputFiles?: Array<{ text: string }> }>;
  try {
    ({ build } = (await import(esbuildModule)) as { build: typeof build });
  } catch (error) {
    throw new Error(`Running ${entryPath} from source needs esbuild (a devDependency)`, { cause: error });
  }
  const outfile = join(tmpdir(), "extract-worker.mjs"); // names the output only: nothing is written (write: false)
  const result = await build({
    ...handlerBuildOptions(entryPath, outfile),
    // The decoded-bytes bound on pdf.js (issue 14): the worker must never be built without it.
    plugins: [pdfjsDecodeBoundPlugin],
    minify: true,
    logLevel: "error",
    write: false,
  });
  const code = result.outputFiles?.[0]?.text;
  if (code === undefined) throw new Error(`esbuild produced no bundle for ${entryPath}`);
  return code;
}

registerWorkerSourceBundler(bundleWorkerSource);
