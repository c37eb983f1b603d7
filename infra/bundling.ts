import { posix } from "node:path";
import { LogLevel, OutputFormat, type BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { esmDefine, esmRequireBanner, mainFields, neverBundle, nodeTarget } from "./esbuild-options.ts";

/**
 * How the zip functions (start, chunk, merge) are bundled: ONE place, so a change to the esbuild options is one edit.
 * NodejsFunction runs the local esbuild (a devDependency) at synth: no Docker, no network.
 */
export interface HandlerBundlingExtras {
  /**
   * Files (paths relative to the repository root, `/`-separated) copied next to the bundle's `index.mjs` after
   * bundling: assets that a bundled package reads from `__dirname` at run time.
   */
  copyFiles?: readonly string[];
  /**
   * Directories (repository-relative `from`, bundle-relative `to`) copied recursively into the bundle after bundling:
   * data a bundled package reads at run time from a path the handler gives it.
   */
  copyDirectories?: readonly { from: string; to: string }[];
  /** Modules left as bare imports. They must then come from `nodeModules` (or the runtime). */
  externalModules?: readonly string[];
  /**
   * Modules installed into the bundle's node_modules instead of bundled. NOTE: the CDK then runs `npm ci` in the
   * bundling directory, which needs the npm registry at synth and installs the HOST's native binaries: avoid for
   * packages with native code (the functions run on arm64).
   */
  nodeModules?: readonly string[];
  /** Files injected into every module (esbuild `inject`), e.g. global polyfills that must exist before imports run. */
  inject?: readonly string[];
  /**
   * Worker-thread entry points (repository-relative `.ts` paths) bundled after the handler, each into
   * `<name>.mjs` next to `index.mjs`, with the same esbuild settings (bundle-worker.ts). The handler starts them with
   * `new Worker(new URL("./<name>.mjs", import.meta.url))`.
   */
  workerEntries?: readonly string[];
}

/** Shell command that copies one repository file into the bundle directory (commandHooks run through a shell). */
function copyCommand(inputDir: string, outputDir: string, file: string): string {
  const from = posix.join(inputDir.replaceAll("\\", "/"), file);
  const to = posix.join(outputDir.replaceAll("\\", "/"), posix.basename(file));
  return `node -e "require('node:fs').copyFileSync(process.argv[1], process.argv[2])" "${from}" "${to}"`;
}

/** Shell command that copies one repository directory, recursively, to a path inside the bundle directory. */
function copyDirectoryCommand(inputDir: string, outputDir: string, from: string, to: string): string {
  const source = posix.join(inputDir.replaceAll("\\", "/"), from);
  const target = posix.join(outputDir.replaceAll("\\", "/"), to);
  const copy = "require('node:fs').cpSync(process.argv[1], process.argv[2], { recursive: true })";
  return `node -e "${copy}" "${source}" "${target}"`;
}

/** Shell command that bundles one worker entry point into the bundle directory (see bundle-worker.ts). */
function workerBundleCommand(inputDir: string, outputDir: string, entry: string): string {
  const root = inputDir.replaceAll("\\", "/");
  const script = posix.join(root, "infra/bundle-worker.ts");
  const to = posix.join(outputDir.replaceAll("\\", "/"), `${posix.basename(entry).replace(/\.ts$/, "")}.mjs`);
  return `npx tsx "${script}" "${posix.join(root, entry)}" "${to}"`;
}

/** The afterBundling commands for these extras: the copies, then the worker bundles. Exported for the bundle test. */
export function afterBundlingCommands(extras: HandlerBundlingExtras, inputDir: string, outputDir: string): string[] {
  return [
    ...(extras.copyFiles ?? []).map((file) => copyCommand(inputDir, outputDir, file)),
    ...(extras.copyDirectories ?? []).map(({ from, to }) => copyDirectoryCommand(inputDir, outputDir, from, to)),
    ...(extras.workerEntries ?? []).map((entry) => workerBundleCommand(inputDir, outputDir, entry)),
  ];
}

export function handlerBundling(extras: HandlerBundlingExtras = {}): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: nodeTarget,
    mainFields,
    banner: esmRequireBanner,
    define: esmDefine,
    minify: true,
    sourceMap: true,
    // Stack traces map to TypeScript lines without shipping the sources themselves.
    sourcesContent: false,
    // Pin the AWS SDK version we test with instead of the one the Lambda runtime happens to carry.
    bundleAwsSDK: true,
    externalModules: [...neverBundle, ...(extras.externalModules ?? [])],
    ...(extras.nodeModules?.length ? { nodeModules: [...extras.nodeModules] } : {}),
    ...(extras.inject?.length ? { inject: [...extras.inject] } : {}),
    logLevel: LogLevel.WARNING,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir: string, outputDir: string) => afterBundlingCommands(extras, inputDir, outputDir),
    },
  };
}

/**
 * The chunk function: tiktoken loads `tiktoken_bg.wasm` from its own directory, which after bundling is the bundle's;
 * pdf.js, when it runs in the handler's own thread, sets up its "fake worker" by importing `./pdf.worker.mjs` relative
 * to the bundle. Documents are extracted in a worker thread whose script is `extract-worker.mjs` beside `index.mjs`
 * (it carries pdf.js's worker code itself). pdf.js reads its CMaps and standard font metrics from `pdfjs/` beside
 * `index.mjs` (functions/chunk/pdf-text.ts `pdfjsDataDirs`).
 */
export const chunkBundlingExtras: HandlerBundlingExtras = {
  copyFiles: ["node_modules/tiktoken/tiktoken_bg.wasm", "node_modules/pdfjs-dist/legacy/build/pdf.worker.mjs"],
  copyDirectories: [
    { from: "node_modules/pdfjs-dist/cmaps", to: "pdfjs/cmaps" },
    { from: "node_modules/pdfjs-dist/standard_fonts", to: "pdfjs/standard_fonts" },
  ],
  workerEntries: ["functions/chunk/extract-worker.ts"],
};
