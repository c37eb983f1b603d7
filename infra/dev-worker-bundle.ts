import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { registerWorkerSourceBundler } from "../functions/chunk/isolated-extract.ts";
import { registerRenderWorkerBundler } from "../functions/shared/page-render/render-script.ts";
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

/**
 * The page render worker (functions/shared/page-render/render-worker.ts) from source: the project's modules bundled, every package
 * left to Node and imported by its absolute file URL, so that the bundle runs from a temporary file. pdf.js must load
 * from node_modules for its own `createRequire` to find @napi-rs/canvas, the one copy the worker may use.
 */
export async function bundleRenderWorkerSource(entryPath: string): Promise<string> {
  const esbuildModule = "esbuild";
  type Resolved = { path: string; errors: unknown[] };
  type PluginBuild = {
    onResolve(
      options: { filter: RegExp },
      callback: (args: { path: string; kind: string; resolveDir: string; pluginData?: unknown }) => Promise<object | undefined>,
    ): void;
    resolve(path: string, options: { kind: string; resolveDir: string; pluginData: unknown }): Promise<Resolved>;
  };
  let build: (options: object) => Promise<{ outputFiles?: Array<{ text: string }> }>;
  try {
    ({ build } = (await import(esbuildModule)) as { build: typeof build });
  } catch (error) {
    throw new Error(`Running ${entryPath} from source needs esbuild (a devDependency)`, { cause: error });
  }
  const resolving = Symbol("resolving");
  const packagesByFileUrl = {
    name: "llambda-packages-by-file-url",
    setup(plugin: PluginBuild): void {
      plugin.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === resolving || args.path.startsWith("node:") || isBuiltin(args.path)) return undefined;
        const resolved = await plugin.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: resolving });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
    },
  };
  const result = await build({
    ...handlerBuildOptions(entryPath, join(tmpdir(), "render-worker.mjs")),
    plugins: [packagesByFileUrl],
    logLevel: "error",
    write: false,
  });
  const code = result.outputFiles?.[0]?.text;
  if (code === undefined) throw new Error(`esbuild produced no bundle for ${entryPath}`);
  return code;
}

registerRenderWorkerBundler(bundleRenderWorkerSource);
