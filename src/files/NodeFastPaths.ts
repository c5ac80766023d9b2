import { FileSystem } from "@effect/platform"
import type { SystemError } from "@effect/platform/Error"
import { Effect, Layer } from "effect"
import * as NFS from "node:fs"
import * as Path from "node:path"
import { type DirectoryItem, DirectoryReader } from "./DirectoryReader.ts"
import * as FileStamps from "./FileStamp.ts"
import * as SpanReader from "./SpanReader.ts"
import { systemError } from "./systemError.ts"

/** realpath(3): one system call, where Node's default realpath lstat()s every component of the path in turn. */
const realPath = (path: string): Effect.Effect<string, SystemError> =>
  Effect.async<string, SystemError>((resume) => {
    NFS.realpath.native(path, (error, resolved) => {
      resume(error === null ? Effect.succeed(resolved) : Effect.fail(systemError("realPath", path, error)))
    })
  })

/** lstat failures that mean "leave the name out": it is gone, or not ours to look at. */
const SKIPPED = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EACCES", "EPERM"])
/** lstat calls in flight per listing in the thread pool: enough to keep it busy, few enough not to queue far ahead of file reads. */
const LSTAT_WINDOW = 32
/** Synchronous lstat calls per turn of the event loop at most, and the time after which a turn yields. */
const SYNC_SLICE = 512
const SYNC_SLICE_MS = 4

const kindOf = (stats: NFS.Stats): DirectoryItem["kind"] =>
  stats.isFile() ? "File" : stats.isDirectory() ? "Directory" : stats.isSymbolicLink() ? "SymbolicLink" : "Other"

type Lstatted = (error: NodeJS.ErrnoException | null, index: number, stats?: NFS.Stats) => void

/**
 * lstat of every path, through the thread pool, LSTAT_WINDOW at a time;
 * `each` after every one (in no particular order), `end` after the last.
 */
const lstatInThreadPool = (paths: ReadonlyArray<string>, stopped: () => boolean, each: Lstatted, end: () => void) => {
  let next = 0
  let pending = 0
  const startNext = (): void => {
    if (stopped()) return
    if (next >= paths.length) {
      if (pending === 0) end()
      return
    }
    const index = next++
    pending++
    NFS.lstat(paths[index]!, (error, stats) => {
      pending--
      each(error, index, stats)
      startNext()
    })
  }
  for (let i = 0; i < LSTAT_WINDOW; i++) startNext()
}

/**
 * lstat of every path on the event loop, in slices of SYNC_SLICE calls or
 * SYNC_SLICE_MS, whichever ends first, with other work let in between: a
 * local file system answers from its inode cache in microseconds, several
 * times less than a round trip through the thread pool (as nginx and
 * python list directories).
 */
const lstatInSlices = (paths: ReadonlyArray<string>, stopped: () => boolean, each: Lstatted, end: () => void) => {
  let next = 0
  const slice = () => {
    if (stopped()) return
    const started = performance.now()
    const last = Math.min(paths.length, next + SYNC_SLICE)
    while (next < last) {
      const index = next++
      let stats: NFS.Stats | undefined
      try {
        stats = NFS.lstatSync(paths[index]!)
      } catch (error) {
        each(error as NodeJS.ErrnoException, index)
        if (stopped()) return
        continue
      }
      each(null, index, stats)
      if (performance.now() - started > SYNC_SLICE_MS) break
    }
    if (next >= paths.length) end()
    else setImmediate(slice)
  }
  slice()
}

/**
 * readdir, then an lstat per kept name, in one effect with no effect or
 * fiber per name: on the event loop in slices where the directory lies on a
 * local file system, through the thread pool where a stat may wait on a
 * network or another process (see FileStamp's isRemote), so that a hung
 * server cannot freeze the event loop.
 */
export const readDirectory = (
  dir: string,
  include: (name: string) => boolean,
  /** Where the lstat calls run; by default decided by the file system (tests pick). */
  where: "slices" | "threadPool" = FileStamps.isRemote(dir) === false ? "slices" : "threadPool"
): Effect.Effect<ReadonlyArray<DirectoryItem>, SystemError> =>
  Effect.async<ReadonlyArray<DirectoryItem>, SystemError>((resume) => {
    let done = false
    const stopped = () => done
    NFS.readdir(dir, (readError, all) => {
      if (readError !== null) return resume(Effect.fail(systemError("readDirectory", dir, readError)))
      const names = all.filter(include)
      const prefix = dir.endsWith(Path.sep) ? dir : dir + Path.sep
      const paths = names.map((name) => prefix + name)
      const items: Array<DirectoryItem | undefined> = new Array(names.length)
      const each: Lstatted = (error, index, stats) => {
        if (done) return
        if (stats !== undefined) {
          items[index] = { name: names[index]!, kind: kindOf(stats), size: stats.size, mtimeMs: stats.mtimeMs }
        } else if (!SKIPPED.has(error?.code ?? "")) {
          done = true
          resume(Effect.fail(systemError("lstat", paths[index]!, error ?? new Error("lstat failed"))))
        }
      }
      const end = () => {
        if (done) return
        done = true
        resume(Effect.succeed(items.filter((item) => item !== undefined)))
      }
      if (where === "slices") lstatInSlices(paths, stopped, each, end)
      else lstatInThreadPool(paths, stopped, each, end)
    })
    // interrupted: calls in flight finish on their own; nothing more is started
    return Effect.sync(() => void (done = true))
  })

/**
 * The Node fast paths the server runs on: the FileSystem below, with `realPath` done by the operating system in one
 * call (lookups resolve a path on every request; the default costs a
 * thread-pool round trip per path component), together with a SpanReader
 * (small responses read in three round trips and one effect) and a
 * DirectoryReader (listings without an effect per name).
 */
export const layer: Layer.Layer<
  FileSystem.FileSystem | SpanReader.SpanReader | FileStamps.FileStamps | DirectoryReader,
  never,
  FileSystem.FileSystem
> = Layer.mergeAll(
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (fs) => ({ ...fs, realPath }))),
  SpanReader.layer,
  FileStamps.layer,
  Layer.succeed(DirectoryReader, { read: (dir, include) => readDirectory(dir, include) })
)
