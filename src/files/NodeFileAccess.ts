import type { Clock } from "effect"
import { Effect, Exit, Layer } from "effect"
import * as NFS from "node:fs"
import * as NPath from "node:path"
import {
  type DirectoryItem,
  FileAccess,
  FileAccessError,
  type FileStat,
  type OpenFile,
  reasonOfCode
} from "./FileAccess.ts"

/**
 * A failed node:fs call. A missing path is the common case (every 404), so
 * the error is built without a stack trace (it would show only the
 * callback): capturing one costs more than the system call.
 */
const failure = (operation: string, path: string, error: NodeJS.ErrnoException): FileAccessError => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new FileAccessError({
      reason: reasonOfCode(error.code),
      code: error.code,
      operation,
      path,
      message: error.message
    })
  } finally {
    Error.stackTraceLimit = limit
  }
}

const statOf = (s: NFS.Stats): FileStat => ({
  type: s.isFile() ? "File" : s.isDirectory() ? "Directory" : "Other",
  size: s.size,
  mtimeMs: s.mtimeMs,
  ino: s.ino,
  mode: s.mode & 0o7777,
  // mtimeMs and ctimeMs keep the file system's sub-millisecond digits; how often they move depends
  // on the kernel (once per timer tick on older ones), so StaticFiles keeps no bytes of a file
  // changed within SETTLE_MS: a rewrite the stamp cannot see is then never served from memory
  stamp: `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.mode}`
})

/** Whether two stats give the same FileStat (its stamp and the fields beside it). */
const sameStamp = (a: NFS.Stats, b: NFS.Stats): boolean =>
  a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size &&
  a.mode === b.mode && a.dev === b.dev

/** Paths whose last stamp is kept at most (all are forgotten when full). */
const MAX_LAST_STAMPS = 4096

/** Runs a node:fs call that reports through a callback as one effect. */
const call = <A>(
  operation: string,
  path: string,
  start: (done: (error: NodeJS.ErrnoException | null, value: A) => void) => void
): Effect.Effect<A, FileAccessError> =>
  Effect.async<A, FileAccessError>((resume) => {
    start((error, value) =>
      resume(error === null ? Effect.succeed(value) : Effect.fail(failure(operation, path, error)))
    )
  })

/** realpath(3): one system call, where Node's default realpath lstat()s every component of the path in turn. */
const realPath = (path: string) =>
  call<string>("realPath", path, (done) => NFS.realpath.native(path, (error, resolved) => done(error, resolved)))

const stat = (path: string) => Effect.map(call<NFS.Stats>("stat", path, (done) => NFS.stat(path, done)), statOf)

const checkReadable = (path: string) =>
  call<void>("access", path, (done) => NFS.access(path, NFS.constants.R_OK, (error) => done(error, undefined)))

/**
 * Open, one positioned read and close chained in node:fs callbacks: three
 * thread-pool round trips and one effect.
 */
const readSpan = (path: string, start: number, length: number): Effect.Effect<Uint8Array, FileAccessError> =>
  Effect.async<Uint8Array, FileAccessError>((resume) => {
    NFS.open(path, "r", (openError, fd) => {
      if (openError !== null) return resume(Effect.fail(failure("open", path, openError)))
      // not from Node's shared pool: a small file kept by the cache would pin a whole 8 KiB slab
      const buffer = Buffer.allocUnsafeSlow(length)
      NFS.read(fd, buffer, 0, length, start, (readError, bytesRead) => {
        // The descriptor is closed whatever happens to the fiber that asked.
        NFS.close(fd, () => {
          resume(
            readError === null
              ? Effect.succeed(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
              : Effect.fail(failure("read", path, readError))
          )
        })
      })
    })
  })

/** A descriptor this module opened; it never leaves the module. */
class NodeOpenFile implements OpenFile {
  #fd: number | undefined
  constructor(readonly path: string, fd: number) {
    this.#fd = fd
  }
  static fdOf(file: OpenFile): number | undefined {
    return file instanceof NodeOpenFile ? file.#fd : undefined
  }
  static release(file: OpenFile): number | undefined {
    if (!(file instanceof NodeOpenFile)) return undefined
    const fd = file.#fd
    file.#fd = undefined
    return fd
  }
}

const badDescriptor = (file: OpenFile, operation: string) =>
  Exit.fail(
    new FileAccessError({
      reason: "Other",
      code: "EBADF",
      operation,
      path: file.path,
      message: `EBADF: ${file.path} is not open here`
    })
  )

const open = (path: string) =>
  Effect.map(
    call<number>("open", path, (done) => NFS.open(path, "r", done)),
    (fd): OpenFile => new NodeOpenFile(path, fd)
  )

/**
 * Starts the read in a node:fs callback (no fiber per chunk); the effect
 * returned waits for it, and may be run any number of times.
 */
const startRead = (file: OpenFile, buffer: Uint8Array, position: number) =>
  Effect.sync((): Effect.Effect<number, FileAccessError> => {
    const fd = NodeOpenFile.fdOf(file)
    if (fd === undefined) return badDescriptor(file, "read")
    let outcome: Exit.Exit<number, FileAccessError> | undefined
    const waiting = new Set<(exit: Exit.Exit<number, FileAccessError>) => void>()
    NFS.read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => {
      outcome = error === null ? Exit.succeed(bytesRead) : Exit.fail(failure("read", file.path, error))
      for (const resume of waiting) resume(outcome)
      waiting.clear()
    })
    return Effect.suspend(() =>
      outcome ?? Effect.async<number, FileAccessError>((resume) => {
        waiting.add(resume)
        return Effect.sync(() => void waiting.delete(resume))
      })
    )
  })

const close = (file: OpenFile) =>
  Effect.async<void>((resume) => {
    const fd = NodeOpenFile.release(file)
    if (fd === undefined) return resume(Effect.void)
    NFS.close(fd, () => resume(Effect.void))
  })

/**
 * File systems on which a stat may wait on a network or another process
 * (NFS, SMB/CIFS, FUSE, 9p, Ceph, Lustre, AFS, GPFS, BeeGFS): a hung server
 * would freeze the event loop, so the files under them are stamped in the
 * thread pool from the start (statfs(2) magic numbers).
 */
const REMOTE_FILE_SYSTEMS = new Set([
  0x6969,
  0xff534d42,
  0xfe534d42,
  0x517b,
  0x65735546,
  0x01021997,
  0x00c36400,
  0x0bd00bd0,
  0x5346414f,
  0x6b414653,
  0x47504653,
  0x19830326,
  0x73757245,
  0x564c
])

/** Whether the file system holding `path` is one of REMOTE_FILE_SYSTEMS; undefined when it cannot be told (no such path). */
const isRemote = (path: string): boolean | undefined => {
  try {
    return REMOTE_FILE_SYSTEMS.has(NFS.statfsSync(path).type >>> 0)
  } catch {
    return undefined
  }
}

/** A synchronous stat that takes longer than this is slow. */
export const SYNC_STAT_LIMIT_MS = 2
/** This many slow stats in a row mean a slow file system (one could be the process being descheduled). */
export const SLOW_STATS_TO_SWITCH = 3

/**
 * Stamps a cached path on every request. A stat of a path resolved moments
 * ago is answered from the kernel's inode cache in a few microseconds on a
 * local file system; through the thread pool it costs a cross-thread
 * round trip that is most of a small response's cost. So it runs
 * synchronously, as nginx's workers do, unless the first file stamped lies
 * on a network or user-space file system (REMOTE_FILE_SYSTEMS, by statfs),
 * and until SLOW_STATS_TO_SWITCH stats in a row each take longer than
 * SYNC_STAT_LIMIT_MS by the monotonic clock (a disk under pressure): then
 * all later stamps go to the thread pool, so a slow file system holds the
 * event loop up a few times at most.
 */
const makeStamper = (clock: Clock.Clock) => {
  let synchronous = true
  let slowInARow = 0
  let checkedFileSystem = false
  const nowMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
  const stamp = (path: string): Effect.Effect<FileStat, FileAccessError> => {
    if (!checkedFileSystem) {
      const remote = isRemote(path)
      checkedFileSystem = remote !== undefined
      if (remote === true) synchronous = false
    }
    if (!synchronous) return stat(path)
    const started = nowMs()
    let stats: NFS.Stats | undefined
    let error: NodeJS.ErrnoException | undefined
    try {
      stats = NFS.statSync(path)
    } catch (thrown) {
      error = thrown as NodeJS.ErrnoException
    }
    if (nowMs() - started <= SYNC_STAT_LIMIT_MS) slowInARow = 0
    else if (++slowInARow >= SLOW_STATS_TO_SWITCH) synchronous = false
    if (stats === undefined) return Effect.fail(failure("stat", path, error ?? new Error(`stat ${path} failed`)))
    return stampedOf(path, stats)
  }
  /**
   * The last stamp of each path stamped lately, handed out again while
   * every field it is made of is the same: a hot file's stamp is not
   * formatted anew on every request.
   */
  const lastStamps = new Map<string, { readonly stats: NFS.Stats; readonly stamped: Exit.Exit<FileStat> }>()
  const stampedOf = (path: string, stats: NFS.Stats): Exit.Exit<FileStat> => {
    const last = lastStamps.get(path)
    if (last !== undefined && sameStamp(last.stats, stats)) return last.stamped
    const stamped = Exit.succeed(statOf(stats))
    if (lastStamps.size >= MAX_LAST_STAMPS) lastStamps.clear()
    lastStamps.set(path, { stats, stamped })
    return stamped
  }
  return { stamp, synchronous: () => synchronous }
}

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
 * SYNC_SLICE_MS by the monotonic clock, whichever ends first, with other
 * work let in between: a local file system answers from its inode cache in
 * microseconds, several times less than a round trip through the thread
 * pool (as nginx and python list directories).
 */
const lstatInSlices = (
  nowMs: () => number,
  paths: ReadonlyArray<string>,
  stopped: () => boolean,
  each: Lstatted,
  end: () => void
) => {
  let next = 0
  const slice = () => {
    if (stopped()) return
    const started = nowMs()
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
      if (nowMs() - started > SYNC_SLICE_MS) break
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
 * network or another process (REMOTE_FILE_SYSTEMS), so that a hung server
 * cannot freeze the event loop.
 */
export const listDirectory = (
  clock: Clock.Clock,
  dir: string,
  include: (name: string) => boolean,
  /** Where the lstat calls run; by default decided by the file system (tests pick). */
  where: "slices" | "threadPool" = isRemote(dir) === false ? "slices" : "threadPool"
): Effect.Effect<ReadonlyArray<DirectoryItem>, FileAccessError> =>
  Effect.async<ReadonlyArray<DirectoryItem>, FileAccessError>((resume) => {
    let done = false
    const stopped = () => done
    NFS.readdir(dir, (readError, all) => {
      if (readError !== null) return resume(Effect.fail(failure("listDirectory", dir, readError)))
      const names = all.filter(include)
      const prefix = dir.endsWith(NPath.sep) ? dir : dir + NPath.sep
      const paths = names.map((name) => prefix + name)
      const items: Array<DirectoryItem | undefined> = new Array(names.length)
      const each: Lstatted = (error, index, stats) => {
        if (done) return
        if (stats !== undefined) {
          items[index] = { name: names[index]!, kind: kindOf(stats), size: stats.size, mtimeMs: stats.mtimeMs }
        } else if (!SKIPPED.has(error?.code ?? "")) {
          done = true
          resume(Effect.fail(failure("lstat", paths[index]!, error ?? new Error("lstat failed"))))
        }
      }
      const end = () => {
        if (done) return
        done = true
        resume(Effect.succeed(items.filter((item) => item !== undefined)))
      }
      if (where === "slices") {
        lstatInSlices(() => Number(clock.unsafeCurrentTimeNanos()) / 1e6, paths, stopped, each, end)
      } else lstatInThreadPool(paths, stopped, each, end)
    })
    // interrupted: calls in flight finish on their own; nothing more is started
    return Effect.sync(() => void (done = true))
  })

/** The service over node:fs, and whether its stamps still run synchronously (for tests). */
export const make: Effect.Effect<FileAccess["Type"] & { readonly stampsSynchronously: () => boolean }> = Effect.map(
  Effect.clock,
  (clock) => {
    const stamper = makeStamper(clock)
    return {
      realPath,
      stat,
      stamp: stamper.stamp,
      checkReadable,
      readSpan,
      open,
      startRead,
      close,
      listDirectory: (dir, include) => listDirectory(clock, dir, include),
      stampsSynchronously: stamper.synchronous
    }
  }
)

/** The operating system's files, through node:fs. */
export const layer: Layer.Layer<FileAccess> = Layer.effect(FileAccess, make)
