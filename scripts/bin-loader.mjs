#!/usr/bin/env node
// dist/fiberhttp.js: a small loader in front of the CommonJS bundle
// (fiberhttp.cjs) that compiles it with a V8 code cache (fiberhttp.cjs.cache).
// Node 20 has no built-in compile cache, and compiling the bundle is the
// largest single cost of a one-request run. The build runs `--version` once
// to write the cache; a cache V8 rejects (another Node version) is ignored and
// rewritten when the directory is writable.
import { readFileSync, writeFileSync } from "node:fs"
import Module, { createRequire } from "node:module"
import { Script } from "node:vm"

const file = new URL("./fiberhttp.cjs", import.meta.url).pathname
const cacheFile = `${file}.cache`
let cachedData
try {
  cachedData = readFileSync(cacheFile)
} catch {}
const script = new Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData })
const module = { exports: {} }
script
  .runInThisContext()
  .call(module.exports, module.exports, createRequire(file), module, file, new URL(".", import.meta.url).pathname)
const rejected = cachedData === undefined || script.cachedDataRejected
// the cache is only needed while compiling: a server keeps running without its 1.6 MB
cachedData = undefined
if (rejected) {
  // after the run, so the cache also holds the functions it compiled lazily
  process.once("beforeExit", () => {
    try {
      writeFileSync(cacheFile, script.createCachedData())
    } catch {}
  })
}
