/**
 * The one patch llambda applies to pdf.js (pdfjs-dist 5.4.296), at bundle time, to the extraction worker's copy of
 * `pdf.worker.mjs` (issue 14): pdf.js inflates a stream into a Uint8Array that `DecodeStream.ensureBuffer` doubles as
 * the output grows, outside the V8 heap (so the worker's heap bound does not see it) and with no option to cap it. A
 * 2 MB upload could make it allocate 2 GiB, a 14 KB one 8 GiB. The patch inserts one call before that allocation:
 * `globalThis.__llambdaDecodeBound?.(size, previous)`, which the worker sets (functions/chunk/pdf-decode-bound.ts
 * `withDecodeBound`) and which throws once a stream, or the document in total, would exceed its bound, before the
 * bytes exist. Every decoder (Flate, LZW, ASCII85/Hex, RunLength, Predictor, stream sequences) grows its output
 * there. The text must be found exactly once, so a pdf.js upgrade that moves it fails the bundle build instead of
 * shipping an unbounded worker.
 *
 * Why a patch and not a memory watcher: measured here, the nested-Flate bomb asks for its next buffer in one
 * allocation and fills it at memcpy speed; the parent's sampled RSS cannot stop the worker (terminate() waits for
 * the copy) before it is past the function's memory. The patch refuses the allocation itself.
 */

/** The global the patched pdf.js calls; see functions/chunk/pdf-decode-bound.ts `withDecodeBound`. */
export const DECODE_BOUND_HOOK = "__llambdaDecodeBound";

const ALLOCATION = "    const buffer2 = new Uint8Array(size);\n";
const PATCHED = `    globalThis.${DECODE_BOUND_HOOK}?.(size, buffer.byteLength);\n${ALLOCATION}`;

/** `pdf.worker.mjs`'s source with the hook inserted; throws when the allocation is not found exactly once. */
export function patchPdfjsWorker(source: string, file = "pdf.worker.mjs"): string {
  const count = source.split(ALLOCATION).length - 1;
  if (count !== 1) {
    throw new Error(
      `${file}: expected DecodeStream.ensureBuffer's allocation exactly once, found it ${count} times; ` +
        "the decoded-bytes bound (infra/pdfjs-decode-bound.ts) must be updated for this pdf.js version",
    );
  }
  return source.replace(ALLOCATION, PATCHED);
}

/** Minimal structural type of an esbuild plugin, so that this module needs no esbuild import at run time. */
interface PluginBuild {
  onLoad(
    options: { filter: RegExp },
    callback: (args: { path: string }) => Promise<{ contents: string; loader: "js" }>,
  ): void;
}

/** esbuild plugin that applies `patchPdfjsWorker` to pdfjs-dist's worker module wherever a bundle includes it. */
export const pdfjsDecodeBoundPlugin = {
  name: "llambda-pdfjs-decode-bound",
  setup(build: PluginBuild): void {
    build.onLoad({ filter: /[\\/]pdfjs-dist[\\/].*pdf\.worker\.mjs$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      return { contents: patchPdfjsWorker(await readFile(args.path, "utf8"), args.path), loader: "js" };
    });
  },
};
