// Builds the CLI so that a one-request run starts fast: one minified CommonJS
// bundle (no TypeScript at run time, no module resolution), loaded through
// bin-loader.mjs with a V8 code cache that this build primes.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { chmodSync, copyFileSync, readFileSync, rmSync } from "node:fs"

// @effect/cli parses YAML, TOML and INI only for file-valued options, which
// fiberhttp has none of; leaving those parsers out trims the bundle that every
// start compiles.
const withoutConfigFileParsers = {
  name: "without-config-file-parsers",
  setup(b) {
    b.onResolve({ filter: /^(yaml|toml|ini)$/ }, (args) => ({ path: args.path, namespace: "unused-parser" }))
    b.onLoad({ filter: /.*/, namespace: "unused-parser" }, (args) => ({
      contents: `export const parse = () => { throw new Error("fiberhttp is built without the ${args.path} parser") }`,
      loader: "js"
    }))
  }
}

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

rmSync("dist", { recursive: true, force: true })
await build({
  entryPoints: ["src/cli/bin.ts"],
  outfile: "dist/fiberhttp.cjs",
  bundle: true,
  minify: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: "linked",
  legalComments: "none",
  plugins: [withoutConfigFileParsers],
  // a native module, loaded only by `server --watch` (src/files/NodeParcelWatch.ts)
  external: ["@parcel/watcher"],
  define: { __FIBERHTTP_VERSION__: JSON.stringify(pkg.version) }
})
copyFileSync("scripts/bin-loader.mjs", "dist/fiberhttp.js")
chmodSync("dist/fiberhttp.js", 0o755)
// prime the code cache
execFileSync(process.execPath, ["dist/fiberhttp.js", "--version"], { stdio: "ignore" })
