/**
 * The image test's fixed names, versions and time limits, and its command-line options (parsed when first imported:
 * --help and bad flags end the process before anything starts).
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const USAGE =
  "Usage: npm run test:image [-- --platform linux/amd64] [--cache-dir <dir>] [--base auto|pull|standin] [--dockerfile <path>] [--target infer|ocr]";
export const REPO = resolve(import.meta.dirname, "../..");
export const REAL_BASE = "node:22-bookworm-slim";
export const STANDIN_BASE = "llambda-standin/node:22-bookworm-slim";
/** Pinned versions of the stand-in's Node and npm (npm pack verifies each tarball's integrity). */
export const STANDIN_NODE = "22.23.5";
export const STANDIN_NPM = "10.9.9";
/** The image's tag: one per Dockerfile target. */
export const imageTag = (target: ImageTarget): string => `llambda-${target}:image-test`;
export const MODEL_ID = "tiny";
/** The uid:gid Lambda runs functions as (sbx_user1051). */
export const LAMBDA_USER = "993:990";

export const MINUTE = 60_000;
export const TIMEOUTS = {
  dockerdReady: 1 * MINUTE,
  pull: 2 * MINUTE,
  debootstrap: 20 * MINUTE,
  npmPack: 5 * MINUTE,
  import: 5 * MINUTE,
  build: 40 * MINUTE,
  init: 2 * MINUTE,
  // Lambda's limit, which the stack gives the function (the handler stops work before the deadline it is sent).
  invocation: 15 * MINUTE,
};

/**
 * Which image: `infer` is built and invoked; `ocr` is built (its Dockerfile stage runs its own smoke test: the canvas
 * addon, a Tesseract worker and pdf.js's data) and measured, not invoked.
 */
export type ImageTarget = "infer" | "ocr";

export interface ImageTestOptions {
  platform: string;
  cacheDir: string;
  base: "auto" | "pull" | "standin";
  dockerfile: string;
  target: ImageTarget;
}

export const options: ImageTestOptions = parseOptions();

function parseOptions(): ImageTestOptions {
  try {
    const { values } = parseArgs({
      options: {
        platform: { type: "string", default: "linux/amd64" },
        "cache-dir": { type: "string" },
        base: { type: "string", default: "auto" },
        dockerfile: { type: "string", default: "infra/image/Dockerfile" },
        target: { type: "string", default: "infer" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (!["auto", "pull", "standin"].includes(values.base)) throw new Error(`--base must be auto, pull or standin`);
    if (!/^linux\/(amd64|arm64)$/.test(values.platform)) throw new Error(`--platform must be linux/amd64 or linux/arm64`);
    if (!["infer", "ocr"].includes(values.target)) throw new Error(`--target must be infer or ocr`);
    return {
      platform: values.platform,
      cacheDir: resolve(values["cache-dir"] ?? process.env.LLAMBDA_IMAGE_TEST_CACHE ?? join(homedir(), ".cache", "llambda", "image-test")),
      base: values.base as "auto" | "pull" | "standin",
      dockerfile: resolve(values.dockerfile),
      target: values.target as ImageTarget,
    };
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
