import { defineConfig } from "vitest/config"

/**
 * The tests StrykerJS runs against each mutant (`npm run mutation`): only the
 * fast unit tests of the mutated modules, no e2e tests or sockets, with the
 * property tests' seed fixed so every mutant meets the same inputs.
 */
export default defineConfig({
  test: {
    include: [
      "test/http/**/*.test.ts",
      "test/files/urlPath.test.ts",
      "test/server/Range.test.ts",
      "test/server/conditional.test.ts",
      "test/client/Target.test.ts"
    ],
    setupFiles: ["test/support/fastCheckSeed.ts"],
    env: { FC_SEED: process.env.FC_SEED ?? "20261205" },
    testTimeout: 30_000,
    // The tests share no state, and StrykerJS switches mutants at run time: one
    // module load per worker instead of one per test file and mutant.
    isolate: false
  }
})
