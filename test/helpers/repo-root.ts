import { resolve } from "node:path";

/** The repository's root, for tests that run its scripts or read its files (tests live two folders down, in test/<layer>/). */
export const repoRoot = resolve(import.meta.dirname, "../..");
