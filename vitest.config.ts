import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // FC_SEED=n repeats a property-test run; see the file
    setupFiles: ["test/support/fastCheckSeed.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // e2e tests spawn the built CLI and a browser; two cores do not like many at once
    maxWorkers: 2,
    minWorkers: 1
  }
})
