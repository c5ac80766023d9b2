// StrykerJS mutation testing (`npm run mutation`): how many deliberate bugs in
// the wire core, the path rules, ranges, preconditions and the client's
// targets the unit tests notice. Reports go to
// reports/mutation/ (git-ignored); see README "Mutation testing".
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: [
    "src/http/**/*.ts",
    "src/files/urlPath.ts",
    "src/server/Range.ts",
    "src/server/conditional.ts",
    "src/client/Target.ts"
  ],
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 5_000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  incrementalFile: "reports/mutation/incremental.json",
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  thresholds: { high: 95, low: 90, break: null }
}
