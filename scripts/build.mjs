// Builds the CLI so that a one-request run starts fast: one minified CommonJS
// bundle (no TypeScript at run time, no module resolution), loaded through
// bin-loader.mjs with a V8 code cache that this build primes.
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { chmodSync, copyFileSync, readFileSync, rmSync } from "node:fs"
import * as net from "node:net"

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

// `import text from "./file?raw"`: the file's text (what Vite, and so the tests, do too)
const rawText = {
  name: "raw-text",
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: new URL(args.path.slice(0, -4), `file://${args.resolveDir}/`).pathname,
      namespace: "raw-text"
    }))
    b.onLoad(
      { filter: /.*/, namespace: "raw-text" },
      (args) => ({ contents: readFileSync(args.path, "utf8"), loader: "text" })
    )
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
  plugins: [withoutConfigFileParsers, rawText],
  // a native module, loaded only by `server --watch` (src/files/NodeParcelWatch.ts)
  external: ["@parcel/watcher"],
  define: { __FIBERHTTP_VERSION__: JSON.stringify(pkg.version) }
})
copyFileSync("scripts/bin-loader.mjs", "dist/fiberhttp.js")
chmodSync("dist/fiberhttp.js", 0o755)
// Prime the code cache with one client request to a loopback server of our
// own: the cache then holds the functions a request runs (compiled lazily
// during that run), so a user's first request compiles none of them
// between its connect and its first byte.
const server = net.createServer((socket) => {
  socket.on("error", () => {})
  socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
await new Promise((resolve, reject) =>
  execFile(
    process.execPath,
    ["dist/fiberhttp.js", "client", "-b", `http://127.0.0.1:${server.address().port}/`],
    { timeout: 30_000 },
    (error, stdout) => (error !== null ? reject(error) : stdout === "ok" ? resolve() : reject(new Error(stdout)))
  )
)
server.close()
