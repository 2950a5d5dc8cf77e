import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/harness/global-setup.ts"],
    // Integration tests start child processes against one shared API server;
    // give them room on a 2-core machine without timing out spuriously.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: process.env.CI ? 2 : 3,
  },
});
