/**
 * esbuild settings shared by every handler bundle: the zip functions (bundled by the CDK's NodejsFunction, see
 * bundling.ts) and the inference image (bundled inside the Docker build, see image/bundle-infer.ts). Plain data, no
 * CDK import, so the Docker build can use it with nothing but esbuild.
 */

/** Lambda's nodejs22.x runtime, and the Node major of the inference image. */
export const nodeTarget = "node22";

/** Prefer a package's ESM entry; fall back to CommonJS. */
export const mainFields = ["module", "main"];

/**
 * Prepended to every ESM bundle. CommonJS code inside the bundle calls `require` for Node built-ins and for packages
 * loaded at run time (esbuild's `__require` shim throws "Dynamic require is not supported" without a real one).
 * The import is aliased so it cannot collide with a bundled module's own `createRequire` import.
 */
export const esmRequireBanner =
  "import { createRequire as __llambdaCreateRequire } from 'node:module';" +
  "const require = __llambdaCreateRequire(import.meta.url);";

/**
 * `__dirname` and `__filename` do not exist in ES modules, but bundled CommonJS code uses them: tiktoken reads
 * `tiktoken_bg.wasm` from `__dirname`. esbuild's `define` replaces only free (undeclared) uses, so a module that
 * declares its own `__dirname` is untouched. `import.meta.dirname` needs Node 20.11+ (Lambda has 22).
 */
export const esmDefine: Record<string, string> = {
  __dirname: "import.meta.dirname",
  __filename: "import.meta.filename",
};

/** Packages that must never be bundled: native addons that locate their binaries relative to their own files. */
export const neverBundle = ["node-llama-cpp"];

/**
 * esbuild options for one handler bundled into one ESM file, for callers that run esbuild themselves (the inference
 * image build, and tests that prove a bundle works). NodejsFunction gets the same settings through bundling.ts.
 */
export function handlerBuildOptions(entryPoint: string, outfile: string) {
  return {
    entryPoints: [entryPoint],
    outfile,
    bundle: true,
    platform: "node" as const,
    format: "esm" as const,
    target: nodeTarget,
    mainFields,
    banner: { js: esmRequireBanner },
    define: esmDefine,
    external: neverBundle,
  };
}
