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
}

/** Shell command that copies one repository file into the bundle directory (commandHooks run through a shell). */
function copyCommand(inputDir: string, outputDir: string, file: string): string {
  const from = posix.join(inputDir.replaceAll("\\", "/"), file);
  const to = posix.join(outputDir.replaceAll("\\", "/"), posix.basename(file));
  return `node -e "require('node:fs').copyFileSync(process.argv[1], process.argv[2])" "${from}" "${to}"`;
}

export function handlerBundling(extras: HandlerBundlingExtras = {}): BundlingOptions {
  const copyFiles = [...(extras.copyFiles ?? [])];
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
      afterBundling: (inputDir: string, outputDir: string) => copyFiles.map((file) => copyCommand(inputDir, outputDir, file)),
    },
  };
}

/**
 * The chunk function: tiktoken loads `tiktoken_bg.wasm` from its own directory, which after bundling is the bundle's;
 * pdf.js (under pdf-parse) sets up its "fake worker" by importing `./pdf.worker.mjs` relative to the bundle.
 */
export const chunkBundlingExtras: HandlerBundlingExtras = {
  copyFiles: ["node_modules/tiktoken/tiktoken_bg.wasm", "node_modules/pdfjs-dist/legacy/build/pdf.worker.mjs"],
};
