import { readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";

// A test file outside the layers' folders would never run: refuse to start instead.
const unlayered = readdirSync(new URL("test/", import.meta.url)).filter((name) => name.endsWith(".test.ts"));
if (unlayered.length > 0) {
  throw new Error(`Test files outside test/unit, test/stack, test/e2e and test/browser (they would not run): ${unlayered.map((name) => `test/${name}`).join(", ")}`);
}

/**
 * Four layers (docs/testing.md): `unit` is pure and in-process (`npm run test:unit`, under a minute), `stack`
 * synthesizes the CDK stack, `e2e` starts the twin's services, llama.cpp or the CLI, `browser` opens pages the
 * project writes (the review page) in headless Chromium. `npm test` runs all four, one layer after the other
 * (groupOrder), so the fast layer reports first and the slow ones do not compete with it.
 */
export default defineConfig({
  test: {
    // Each test file gets its own TMPDIR (see the helper); code run from source bundles the extraction worker itself.
    setupFiles: ["test/helpers/setup-temp-dir.ts", "test/helpers/register-dev-resolvers.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        // Pure files share nothing outside their process; two at a time uses both cores.
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], fileParallelism: true, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // Synthesizing the stack is CPU-bound and memory-hungry: one file at a time.
        test: { name: "stack", include: ["test/stack/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        // End-to-end tests start servers and load llama.cpp; keep files from competing for the 2 cores.
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 2 } },
      },
      {
        extends: true,
        // A browser process per file: one at a time, like e2e.
        test: { name: "browser", include: ["test/browser/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 3 } },
      },
    ],
  },
});
