/**
 * Which recursive watcher for `server --watch`: @effect/platform's
 * FileSystem.watch on node:fs.watch (recursive) or on @parcel/watcher.
 * For each: events seen for 10,000 new files in 100 directories, the time
 * until the last arrived, CPU used at rest (5 s, 10,000 files watched), and
 * what a rename and an editor's save (write a temp file, rename it over the
 * original) look like.
 *
 *   node --import tsx scratchpad/studies/watcher.ts
 */
import { FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as ParcelWatcher from "@effect/platform-node/NodeFileSystem/ParcelWatcher"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const FILES = Number(process.env.FILES ?? 10_000)
const DIRS = 100

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const study = (name: string, layer: Layer.Layer<FileSystem.FileSystem>) =>
  Effect.gen(function*() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "fiberhttp-watch-"))
    for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(root, `d${d}`))
    const seen: Array<{ readonly at: number; readonly tag: string; readonly path: string }> = []
    const watcherFs = yield* FileSystem.FileSystem
    const setupStarted = performance.now()
    const fiber = yield* Effect.fork(
      Stream.runForEach(
        watcherFs.watch(root, { recursive: true }),
        (event) => Effect.sync(() => seen.push({ at: performance.now(), tag: event._tag, path: event.path }))
      )
    )
    yield* Effect.promise(() => sleep(500))
    const ready = performance.now() - setupStarted
    // 10,000 new files
    const started = performance.now()
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(root, `d${i % DIRS}`, `f${i}.txt`), `file ${i}\n`)
    const written = performance.now() - started
    // until every new file was reported, or nothing came for 10 s
    let quietSince = performance.now()
    let count = 0
    while (new Set(seen.map((e) => e.path)).size < FILES && performance.now() - quietSince < 10_000) {
      yield* Effect.promise(() => sleep(200))
      if (seen.length !== count) {
        count = seen.length
        quietSince = performance.now()
      }
    }
    const last = seen.length === 0 ? 0 : seen[seen.length - 1]!.at - started
    const paths = new Set(seen.map((e) => path.basename(e.path)))
    const created = [...paths].filter((p) => /^f\d+\.txt$/.test(p)).length
    const events = seen.length
    const sample = seen[0]?.path ?? "none"
    // at rest
    const cpu0 = process.cpuUsage()
    yield* Effect.promise(() => sleep(5000))
    const cpu = process.cpuUsage(cpu0)
    // a rename
    seen.length = 0
    fs.renameSync(path.join(root, "d1", "f1.txt"), path.join(root, "d1", "renamed.txt"))
    yield* Effect.promise(() => sleep(2000))
    const rename = seen.map((e) => `${e.tag} ${path.relative(root, path.resolve(root, e.path))}`)
    // an editor's save: temp file written, then renamed over the original
    seen.length = 0
    const target = path.join(root, "d2", "f2.txt")
    fs.writeFileSync(target + ".tmp~", "saved\n")
    fs.renameSync(target + ".tmp~", target)
    yield* Effect.promise(() => sleep(2000))
    const save = seen.map((e) => `${e.tag} ${path.relative(root, path.resolve(root, e.path))}`)
    // the same file saved again (does the watch survive the inode change?)
    seen.length = 0
    fs.writeFileSync(target + ".tmp~", "saved again\n")
    fs.renameSync(target + ".tmp~", target)
    yield* Effect.promise(() => sleep(2000))
    const second = seen.length
    yield* Fiber.interrupt(fiber)
    fs.rmSync(root, { recursive: true, force: true })
    console.log(`\n${name}`)
    console.log(`  an event's path as reported: ${sample}`)
    console.log(`  ready after ${ready.toFixed(0)} ms (includes a 500 ms wait)`)
    console.log(
      `  ${FILES} files written in ${written.toFixed(0)} ms: ${events} events, ${created} distinct new files seen, ` +
        `last event ${last.toFixed(0)} ms after the first write`
    )
    console.log(
      `  CPU at rest over 5 s: user ${(cpu.user / 1000).toFixed(1)} ms, system ${(cpu.system / 1000).toFixed(1)} ms`
    )
    console.log(`  rename d1/f1.txt -> d1/renamed.txt: ${rename.join("; ") || "nothing"}`)
    console.log(`  editor save of d2/f2.txt (temp + rename): ${save.join("; ") || "nothing"}`)
    console.log(`  a second save of the same file: ${second} event(s)`)
  }).pipe(Effect.provide(layer))

const program = Effect.gen(function*() {
  if (process.argv[2] !== "parcel") {
    yield* study("node:fs.watch (recursive), NodeFileSystem.layer", NodeFileSystem.layer)
  }
  if (process.argv[2] === "node") return
  yield* study(
    "@parcel/watcher, NodeFileSystem.layer + ParcelWatcher.layer",
    NodeFileSystem.layer.pipe(Layer.provide(ParcelWatcher.layer))
  )
}).pipe(Effect.timeout(Duration.minutes(3)))

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
