// Bundles the CLI into one ESM file so that a single request does not pay for
// TypeScript transpiling or thousands of module resolutions at start-up.
import { build } from "esbuild"
import { chmodSync, readFileSync } from "node:fs"

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

await build({
  entryPoints: ["src/cli/bin.ts"],
  outfile: "dist/fiberhttp.js",
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  legalComments: "none",
  // @effect/cli parses YAML, TOML and INI only for file-valued options, which
  // fiberhttp has none of; leaving those parsers out trims a third of the
  // bundle that every start would parse.
  plugins: [withoutConfigFileParsers],
  define: { __FIBERHTTP_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    // some bundled CommonJS dependencies (mime-db) call require()
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
  }
})

chmodSync("dist/fiberhttp.js", 0o755)
