import type { FileSystem } from "@effect/platform"
import type { SystemError } from "@effect/platform/Error"
import { Context, Effect, Layer, Option } from "effect"
import * as NFS from "node:fs"
import { systemError } from "./systemError.ts"

/**
 * What one stat(2) of a path, following symlinks, says about the file it
 * names. `key` changes whenever the file is replaced, rewritten, renamed,
 * linked or has its mode changed (inode, size, mtime, ctime, mode): equal
 * keys mean the very same, unchanged file.
 */
export interface FileStamp {
  readonly isFile: boolean
  readonly key: string
  readonly size: number
  /** Milliseconds, possibly fractional. */
  readonly mtimeMs: number
  readonly ino: number
}

/**
 * Stamps from the platform's stat, for file systems without the Node fast
 * path (fakes in tests): millisecond mtime and no ctime, so the link count
 * stands in for renames and links.
 */
export const fromInfo = (info: FileSystem.File.Info): FileStamp => {
  const ino = Option.getOrElse(info.ino, () => 0)
  const mtimeMs = Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() })
  const size = Number(info.size)
  return {
    isFile: info.type === "File",
    key: `${info.dev}:${ino}:${size}:${mtimeMs}:${info.mode}:${Option.getOrElse(info.nlink, () => 0)}`,
    size,
    mtimeMs,
    ino
  }
}

const stampOfStats = (s: NFS.Stats): FileStamp => ({
  isFile: s.isFile(),
  // mtimeMs and ctimeMs keep the file system's sub-millisecond digits; how often they move depends
  // on the kernel (once per timer tick on older ones), so StaticFiles keeps no bytes of a file
  // changed within SETTLE_MS: a rewrite the stamp cannot see is then never served from memory
  key: `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.mode}`,
  size: s.size,
  mtimeMs: s.mtimeMs,
  ino: s.ino
})

const stampInThreadPool = (path: string): Effect.Effect<FileStamp, SystemError> =>
  Effect.async<FileStamp, SystemError>((resume) => {
    NFS.stat(path, (error, stats) => {
      resume(error === null ? Effect.succeed(stampOfStats(stats)) : Effect.fail(systemError("stat", path, error)))
    })
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
export const isRemote = (path: string): boolean | undefined => {
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
 * SYNC_STAT_LIMIT_MS (a disk under pressure): then all later stamps go to
 * the thread pool, so a slow file system holds the event loop up a few
 * times at most.
 */
export const make = (now: () => number = () => performance.now()) => {
  let synchronous = true
  let slowInARow = 0
  let checkedFileSystem = false
  const stamp = (path: string): Effect.Effect<FileStamp, SystemError> => {
    if (!checkedFileSystem) {
      const remote = isRemote(path)
      checkedFileSystem = remote !== undefined
      if (remote === true) synchronous = false
    }
    if (!synchronous) return stampInThreadPool(path)
    const started = now()
    let stats: NFS.Stats | undefined
    let failure: NodeJS.ErrnoException | undefined
    try {
      stats = NFS.statSync(path)
    } catch (error) {
      failure = error as NodeJS.ErrnoException
    }
    if (now() - started <= SYNC_STAT_LIMIT_MS) slowInARow = 0
    else if (++slowInARow >= SLOW_STATS_TO_SWITCH) synchronous = false
    return stats === undefined
      ? Effect.fail(systemError("stat", path, failure ?? new Error(`stat ${path} failed`)))
      : Effect.succeed(stampOfStats(stats))
  }
  return { stamp, synchronous: () => synchronous }
}

/**
 * Optional: StaticFiles validates its cache with it when present, and with
 * the platform's stat (`fromInfo`) otherwise.
 */
export class FileStamps extends Context.Tag("fiberhttp/files/FileStamps")<
  FileStamps,
  { readonly stamp: (path: string) => Effect.Effect<FileStamp, SystemError> }
>() {}

/** One node:fs stat per stamp, with ctime and sub-millisecond times (see `make`). */
export const layer: Layer.Layer<FileStamps> = Layer.sync(FileStamps, () => make())
