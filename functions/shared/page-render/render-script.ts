import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Where the render worker's code is. In a function that renders pages (OCR, review), `render-worker.mjs` sits next to
 * the handler's bundle (handler.mjs; infra/image/bundle-ocr.ts builds every `*worker*.ts` of this folder, which is why
 * this module's name has no "worker" in it), with node_modules beside it. Run from source (tests, the twin, benches), there is no such file:
 * render-worker.ts is bundled once per process, in memory, by the bundler development entry points register
 * (infra/dev-worker-bundle.ts), and each worker gets that code as a temporary file, deleted as soon as the worker has
 * loaded it (or failed to). The same scheme as the chunk stage's extraction worker (functions/chunk/isolated-extract.ts),
 * which a stage folder cannot import.
 */

export const RENDER_WORKER_NAME = "render-worker";

/** Bundles the worker's entry point (a path to render-worker.ts) into the code of one ESM module. */
export type RenderWorkerBundler = (entryPath: string) => Promise<string>;

let bundler: RenderWorkerBundler | undefined;
let sourceBuild: Promise<string> | undefined;

/** Development entry points (the twin, the CLIs, benches, tests) register infra/dev-worker-bundle.ts's bundler. */
export function registerRenderWorkerBundler(registered: RenderWorkerBundler): void {
  bundler = registered;
  sourceBuild = undefined;
}

/** A worker to start: a file URL and what to do once the worker has loaded it. */
export interface RenderWorkerFile {
  url: URL;
  /** Deletes a temporary file (idempotent); nothing for the bundled one. */
  release: () => void;
}

/** The render worker's script, bundled or built from source: call `start()` once per worker. */
export interface RenderWorkerScript {
  start(): RenderWorkerFile;
}

const pendingFiles = new Set<string>();
let exitHookInstalled = false;
let nextFile = 0;

/** The render worker's script: see the module comment. `base` is the URL of the module it sits next to. */
export async function renderWorkerScript(base: string = import.meta.url): Promise<RenderWorkerScript> {
  const bundled = new URL(`./${RENDER_WORKER_NAME}.mjs`, base);
  if (existsSync(bundled)) return { start: () => ({ url: bundled, release: () => undefined }) };
  const source = new URL(`./${RENDER_WORKER_NAME}.ts`, base);
  if (!existsSync(source)) {
    throw new Error(
      `The page render worker script is missing: ${fileURLToPath(bundled)} does not exist ` +
        `(a function that renders pages must ship ${RENDER_WORKER_NAME}.mjs next to its handler's bundle; see infra/image/bundle-ocr.ts)`,
    );
  }
  if (!bundler) {
    throw new Error(
      `Running ${fileURLToPath(source)} from source needs a worker bundler: import infra/dev-worker-bundle.ts first ` +
        `(the local twin, the CLIs, the benches and the tests do)`,
    );
  }
  const build = bundler;
  sourceBuild ??= build(fileURLToPath(source)).catch((error: unknown) => {
    sourceBuild = undefined;
    throw error;
  });
  const code = await sourceBuild;
  return { start: () => materialize(code) };
}

/** Writes the code to a fresh temporary file; removed on release, or when the process exits however it can. */
function materialize(code: string): RenderWorkerFile {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const file of pendingFiles) rmSync(file, { force: true });
    });
  }
  const file = join(tmpdir(), `llambda-${RENDER_WORKER_NAME}-${process.pid}-${nextFile++}.mjs`);
  writeFileSync(file, code);
  pendingFiles.add(file);
  return {
    url: pathToFileURL(file),
    release: () => {
      if (pendingFiles.delete(file)) rmSync(file, { force: true });
    },
  };
}
