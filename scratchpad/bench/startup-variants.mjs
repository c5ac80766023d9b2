// Where fiberhttp's start-up goes, and what would make it cheaper: bundles
// the CLI in several ways into a temporary directory and times one cold
// `client -b URL` of each, interleaved with a minimal Node fetch script,
// against a local raw server.
//
//   node scratchpad/bench/startup-variants.mjs          (RUNS=n, default 15)
//
// Variants:
//   esm           what scripts/build.mjs ships today (one ESM file)
//   esm-lazy      the same without the server command's code (as if it were
//                 imported lazily): no mime-db, no static-file server
//   cjs           the same code as one CommonJS file
//   cjs+cache     CommonJS compiled through vm.Script with a V8 code cache
//                 written next to the bundle by one `--version` run
//   cjs-lazy+cache  both
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { build } from "esbuild"

const RUNS = Number(process.env.RUNS ?? 15)
const root = new URL("../../", import.meta.url).pathname
const dir = mkdtempSync(path.join(os.tmpdir(), "fiberhttp-startup-"))

const withoutConfigFileParsers = {
  name: "without-config-file-parsers",
  setup(b) {
    b.onResolve({ filter: /^(yaml|toml|ini)$/ }, (a) => ({ path: a.path, namespace: "unused" }))
    b.onLoad({ filter: /.*/, namespace: "unused" }, () => ({ contents: "export const parse = () => {}", loader: "js" }))
  }
}
const withoutServer = {
  name: "without-server",
  setup(b) {
    b.onResolve({ filter: /ServerCommand\.ts$/ }, (a) => ({ path: a.path, namespace: "no-server" }))
    b.onLoad({ filter: /.*/, namespace: "no-server" }, () => ({
      contents: "import { Command } from '@effect/cli'; export const serverCommand = Command.make('server')",
      loader: "ts",
      resolveDir: path.join(root, "src/cli")
    }))
  }
}
const common = {
  entryPoints: [path.join(root, "src/cli/bin.ts")],
  absWorkingDir: root,
  bundle: true,
  minify: true,
  platform: "node",
  target: "node20",
  define: { __FIBERHTTP_VERSION__: '"bench"' },
  logLevel: "error"
}
const esmBanner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
await build({ ...common, format: "esm", banner: esmBanner, outfile: `${dir}/esm.mjs`, plugins: [withoutConfigFileParsers] })
await build({ ...common, format: "esm", banner: esmBanner, outfile: `${dir}/esm-lazy.mjs`, plugins: [withoutConfigFileParsers, withoutServer] })
await build({ ...common, format: "cjs", outfile: `${dir}/cjs.cjs`, plugins: [withoutConfigFileParsers] })
await build({ ...common, format: "cjs", outfile: `${dir}/cjs-lazy.cjs`, plugins: [withoutConfigFileParsers, withoutServer] })

// The loader a cached build would ship as the bin: compile the bundle with
// the cache if V8 accepts it, else normally (and then write a fresh cache).
const loader = (bundle) => `const fs = require("node:fs"), vm = require("node:vm"), path = require("node:path"), { wrap } = require("node:module")
const file = path.join(__dirname, "${bundle}"), cacheFile = file + ".cache"
let cachedData
try { cachedData = fs.readFileSync(cacheFile) } catch {}
const script = new vm.Script(wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData })
const module_ = { exports: {} }
script.runInThisContext().call(module_.exports, module_.exports, require, module_, file, __dirname)
if (cachedData === undefined || script.cachedDataRejected) {
  process.once("beforeExit", () => { try { fs.writeFileSync(cacheFile, script.createCachedData()) } catch {} })
}
`
writeFileSync(`${dir}/loader.cjs`, loader("cjs.cjs"))
writeFileSync(`${dir}/loader-lazy.cjs`, loader("cjs-lazy.cjs"))
spawnSync(process.execPath, [`${dir}/loader.cjs`, "--version"], { stdio: "ignore" })
spawnSync(process.execPath, [`${dir}/loader-lazy.cjs`, "--version"], { stdio: "ignore" })

const body = "hello\n"
const server = net.createServer((socket) => {
  socket.on("error", () => {})
  socket.on("data", () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`))
})
await new Promise((r) => server.listen(0, "127.0.0.1", r))
const url = `http://127.0.0.1:${server.address().port}/`
server.unref()

const variants = {
  "node fetch script": ["-e", `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t))`],
  esm: [`${dir}/esm.mjs`, "client", "-b", url],
  "esm-lazy": [`${dir}/esm-lazy.mjs`, "client", "-b", url],
  cjs: [`${dir}/cjs.cjs`, "client", "-b", url],
  "cjs+cache": [`${dir}/loader.cjs`, "client", "-b", url],
  "cjs-lazy+cache": [`${dir}/loader-lazy.cjs`, "client", "-b", url]
}

// the server must keep answering while the children run: spawn asynchronously
const time = (args) =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    import("node:child_process").then(({ spawn }) => {
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
      let out = ""
      child.stdout.on("data", (d) => (out += d))
      child.on("close", (code) =>
        code === 0 && out === body
          ? resolve(Number(process.hrtime.bigint() - started) / 1e6)
          : reject(new Error(`${args.join(" ")}: exit ${code}, ${JSON.stringify(out)}`))
      )
    })
  })

const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (const args of Object.values(variants)) await time(args)
for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(variants)) samples[name].push(await time(args))
server.close()
rmSync(dir, { recursive: true, force: true })

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fetchMedian = median(samples["node fetch script"])
console.log(`one cold GET, ${RUNS} runs each, interleaved; node ${process.version}`)
for (const [name, xs] of Object.entries(samples)) {
  console.log(`${name.padEnd(20)} median ${median(xs).toFixed(1).padStart(6)} ms   min ${Math.min(...xs).toFixed(1).padStart(6)} ms   x fetch ${(median(xs) / fetchMedian).toFixed(2)}`)
}
