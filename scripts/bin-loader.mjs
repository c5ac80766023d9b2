#!/usr/bin/env node
// dist/fiberhttp.js: a small loader in front of the CommonJS bundle
// (fiberhttp.cjs) that compiles it with a V8 code cache (fiberhttp.cjs.cache).
// Node 20 has no built-in compile cache, and compiling the bundle is the
// largest single cost of a one-request run. The build runs `--version` once
// to write the cache; a cache V8 rejects (another Node version) is ignored and
// rewritten when the directory is writable.
import { readFileSync, writeFileSync } from "node:fs"
import Module, { createRequire } from "node:module"
import v8 from "node:v8"
import { Script } from "node:vm"

const file = new URL("./fiberhttp.cjs", import.meta.url).pathname
const cacheFile = `${file}.cache`
let cachedData
try {
  cachedData = readFileSync(cacheFile)
} catch {}
const script = new Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData })
// A client run is short and waits on the network: it runs without V8's
// optimizing compiler (whose code, zones and pages of the node binary would
// be most of what a long download adds to memory) and with a young
// generation that stays at its first size, so a 1 GiB download stays within
// 64 MiB. Set after compiling, since V8 checks the code cache against the
// flags in force; the cache is written with them back at their defaults.
const client = process.argv[2] === "client"
if (client) v8.setFlagsFromString("--no-opt --semi-space-growth-factor=1")
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
    if (client) v8.setFlagsFromString("--opt --semi-space-growth-factor=2")
    try {
      writeFileSync(cacheFile, script.createCachedData())
    } catch {}
  })
}
