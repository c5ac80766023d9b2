#!/usr/bin/env node
// Proposed dist/fiberhttp.js: the bin as a small loader in front of a
// CommonJS bundle (dist/fiberhttp.cjs), compiled with V8's code cache
// (dist/fiberhttp.cjs.cache). Node 20 has no built-in compile cache
// (module.enableCompileCache is Node 22), and compiling the ~780 KB bundle
// is the largest single cost of a cold start.
//
// The build writes the bundle, then runs `node dist/fiberhttp.js --version`
// once: that run finds no cache and writes one. A cache V8 rejects (another
// Node version) is ignored and rewritten when the directory is writable.
// See scratchpad/bench/startup-variants.mjs for the measurements.
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
if (cachedData === undefined || script.cachedDataRejected) {
  process.once("beforeExit", () => {
    try {
      writeFileSync(cacheFile, script.createCachedData())
    } catch {}
  })
}
