import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup-temp-dir.ts", "test/register-dev-resolvers.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end tests start servers and load llama.cpp; keep files from competing for the 2 cores.
    fileParallelism: false,
  },
});
