import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Array as Arr, Context, Data, Effect, Fiber, Layer, Option, Stream } from "effect"
import { DirectoryReader } from "./DirectoryReader.ts"
import { FileCache } from "./FileCache.ts"
import { type FileStamp, FileStamps, fromInfo } from "./FileStamp.ts"
import { SpanReader } from "./SpanReader.ts"
import { decodeUrlPath, type UrlPathResult } from "./urlPath.ts"

export interface LookupOptions {
  /** Serve names starting with "." (off by default: such paths are NotFound). */
  readonly dotfiles: boolean
}

export interface FileEntry {
  /** Absolute real path on disk (symlinks resolved, checked to lie under the root). */
  readonly path: string
  readonly size: number
  readonly mtime: Date
  /** Inode number, 0 when the platform has none; part of the ETag. */
  readonly ino: number
}

export interface StreamOptions {
  /**
   * Read every chunk into the same buffer: each chunk is valid only until
   * the next one is pulled. For a consumer that is done with a chunk before
   * it asks for the next (a connection whose writes complete once the
   * transport has the bytes); one that keeps chunks must copy them.
   */
  readonly reuseBuffer?: boolean
}

/** Inclusive byte offsets into a file. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

export interface DirectoryEntry {
  readonly name: string
  readonly isDirectory: boolean
  readonly size: number
  readonly mtime: Date
}

/** What a decoded, normalized URL path names under the root. */
export type Lookup =
  | { readonly _tag: "File"; readonly file: FileEntry }
  /** A directory (asked for with its trailing slash) without an index file; `list(path)` gives its entries. */
  | { readonly _tag: "Directory"; readonly path: string }
  /**
   * A directory asked for without its trailing slash: 301 to `location`, the
   * normalized path in its original percent-encoding plus "/" (never "//..."),
   * without the query (append it if wanted).
   */
  | { readonly _tag: "Redirect"; readonly location: string }
  | { readonly _tag: "NotFound" }
  /** Exists but may not be read (EACCES, EPERM). */
  | { readonly _tag: "Forbidden" }

/** The URL path could not be decoded safely (bad percent-encoding, invalid UTF-8, NUL): 400. */
export class InvalidPath extends Data.TaggedError("InvalidPath")<{ readonly message: string }> {}

/** An unexpected file-system failure: 500, logged once with its cause. */
export class FileError extends Data.TaggedError("FileError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
  /** The read was refused (EACCES/EPERM) after the lookup found the file readable: still a 403. */
  readonly denied?: boolean
  /** Out of file descriptors (EMFILE, ENFILE): the server is overloaded, not broken (503). */
  readonly overloaded?: boolean
}> {}

/**
 * Bytes per read from disk: the most a stream holds per chunk, and the most
 * `read` reads at once. Each chunk costs a thread-pool round trip and a few
 * effects whatever its size, so chunks are large; memory per response stays
 * bounded by one chunk (plus the socket's buffer), whatever the file's size
 * or the reader's speed.
 */
export const chunkSize = 256 * 1024

/**
 * Bytes per read of a stream that reuses its buffers (`reuseBuffer`): two
 * such buffers per response. Smaller than chunkSize so that 50 concurrent
 * large downloads stay within about 130 MiB of memory; large enough that
 * the cost per chunk stays well below the cost of moving its bytes.
 */
export const streamChunkSize = 192 * 1024

export interface StaticFilesOptions {
  /**
   * Bytes of small files (up to chunkSize each) kept in memory; 0 turns the
   * cache off. Default 32 MiB.
   */
  readonly cacheBytes?: number
}

/** A remembered resolution is redone in full at least this often, whatever its stamps say. */
export const RESOLVE_AGAIN_MS = 1000
/**
 * The bytes of a file modified less than this long ago (either way) are not
 * kept: a file system whose timestamps move once per timer tick, or a read
 * that overlapped a write, could leave bytes that the file's stamp does not
 * tell apart from the next version.
 */
export const SETTLE_MS = 1000
/** Longer URL paths are resolved every time rather than remembered. */
const MAX_CACHED_PATH = 1024
const indexNames = ["index.html", "index.htm"] as const

type Outcome = "NotFound" | "Forbidden"

const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/**
 * What a failed file-system call means to a request. Node's own error code
 * wins when there is one (the platform maps ENOTDIR and ELOOP to BadResource
 * and EPERM to Unknown); fakes are read by their reason.
 */
const outcomeOf = (error: PlatformError): Outcome | undefined => {
  if (error._tag !== "SystemError") return undefined
  switch (errnoCode(error.cause)) {
    case "ENOENT":
    case "ENOTDIR":
    case "ELOOP":
    case "ENAMETOOLONG":
      return "NotFound"
    case "EACCES":
    case "EPERM":
      return "Forbidden"
  }
  if (error.reason === "NotFound") return "NotFound"
  if (error.reason === "PermissionDenied") return "Forbidden"
  return undefined
}

/**
 * A file whose read bits are set for owner, group and others is readable by
 * this process whoever it runs as, so asking access(2) (a thread-pool round
 * trip on every request) tells nothing new. Mandatory access control can
 * still refuse the open: that surfaces as a FileError when reading.
 */
const readableByAll = (info: FileSystem.File.Info): boolean => (info.mode & 0o444) === 0o444

const overloadCodes = new Set(["EMFILE", "ENFILE"])

const toFileError = (path: string, error: PlatformError): FileError =>
  new FileError({
    path,
    message: error.message,
    cause: error,
    denied: outcomeOf(error) === "Forbidden",
    overloaded: error._tag === "SystemError" && overloadCodes.has(errnoCode(error.cause) ?? "")
  })

type Located =
  | { readonly _tag: "Found"; readonly path: string; readonly info: FileSystem.File.Info }
  | { readonly _tag: "Absent"; readonly outcome: Outcome }

const absent = (outcome: Outcome): Located => ({ _tag: "Absent", outcome })

/**
 * The service over one root directory. The root is resolved to its real path
 * once; every path handed out (FileEntry.path, Directory.path) is a real path
 * under it, symlinks resolved.
 */
export const make = (
  root: string,
  options: StaticFilesOptions = {}
): Effect.Effect<Context.Tag.Service<StaticFiles>, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const spans = yield* Effect.serviceOption(SpanReader)
    const directories = yield* Effect.serviceOption(DirectoryReader)
    const stamps = yield* Effect.serviceOption(FileStamps)
    const clock = yield* Effect.clock
    /** Milliseconds that a step of the wall clock does not move. */
    const monotonicNow = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    const cacheBytes = options.cacheBytes ?? 32 * 1024 * 1024
    const cache = cacheBytes > 0
      ? new FileCache({ maxBytes: cacheBytes, maxFileBytes: chunkSize, maxEntries: 4096 })
      : undefined
    /** Keeps the whole content of a remembered entry, once the file has settled (see SETTLE_MS). */
    const keep = (file: FileEntry, bytes: Uint8Array) => {
      if (cache !== undefined && Math.abs(clock.unsafeCurrentTimeMillis() - file.mtime.getTime()) >= SETTLE_MS) {
        cache.keep(file, bytes)
      }
    }
    const stampOf = (candidate: string): Effect.Effect<FileStamp, PlatformError> =>
      Option.isSome(stamps) ? stamps.value.stamp(candidate) : Effect.map(fs.stat(candidate), fromInfo)
    const rootPath = yield* fs.realPath(path.resolve(root)).pipe(
      Effect.tap((real) =>
        Effect.flatMap(fs.stat(real), (info) =>
          info.type === "Directory"
            ? Effect.void
            : Effect.fail(new FileError({ path: real, message: "root is not a directory" })))
      ),
      Effect.catchTag("BadArgument", "SystemError", (error) => Effect.fail(toFileError(root, error)))
    )
    const rootPrefix = rootPath.endsWith(path.sep) ? rootPath : rootPath + path.sep
    /** Windows: a "\\" decoded from a URL must not reach the file system, where it would separate names. */
    const backslashIsSeparator = path.sep === "\\"
    const isInside = (real: string) => real === rootPath || real.startsWith(rootPrefix)

    const settle = (candidate: string) => (error: PlatformError): Effect.Effect<Located, FileError> => {
      const outcome = outcomeOf(error)
      return outcome === undefined ? Effect.fail(toFileError(candidate, error)) : Effect.succeed(absent(outcome))
    }

    /** Resolves symlinks; whatever lands outside the root does not exist. */
    const locate = (candidate: string): Effect.Effect<Located, FileError> =>
      fs.realPath(candidate).pipe(
        Effect.flatMap((real) =>
          isInside(real)
            ? Effect.map(fs.stat(real), (info): Located => ({ _tag: "Found", path: real, info }))
            : Effect.succeed(absent("NotFound"))
        ),
        Effect.catchAll(settle(candidate))
      )

    /** Existing but unreadable (EACCES/EPERM) is Forbidden. */
    const readable = (real: string): Effect.Effect<Outcome | undefined, FileError> =>
      fs.access(real, { readable: true }).pipe(
        Effect.as(undefined),
        Effect.catchAll((error) => {
          const outcome = outcomeOf(error)
          return outcome === undefined ? Effect.fail(toFileError(real, error)) : Effect.succeed(outcome)
        })
      )

    const fileLookup = (real: string, info: FileSystem.File.Info): Effect.Effect<Lookup, FileError> =>
      Effect.map(
        readableByAll(info) ? Effect.succeed(undefined) : readable(real),
        (denied): Lookup =>
          denied === undefined
            ? {
              _tag: "File",
              file: {
                path: real,
                size: Number(info.size),
                mtime: Option.getOrElse(info.mtime, () => new Date(0)),
                ino: Option.getOrElse(info.ino, () => 0)
              }
            }
            : { _tag: denied }
      )

    /** The lookup, and which index name gave it (its position in indexNames), if one did. */
    const directoryLookup = (real: string): Effect.Effect<readonly [Lookup, number], FileError> =>
      Effect.gen(function*() {
        for (let i = 0; i < indexNames.length; i++) {
          const index = yield* locate(path.join(real, indexNames[i]!))
          if (index._tag === "Absent") {
            if (index.outcome === "Forbidden") return [{ _tag: "Forbidden" }, -1] as const
            continue
          }
          if (index.info.type === "File") return [yield* fileLookup(index.path, index.info), i] as const
        }
        const denied = yield* readable(real)
        return [denied === undefined ? { _tag: "Directory", path: real } : { _tag: denied }, -1] as const
      })

    /**
     * The full lookup, and the path a later request may stat to reuse it:
     * only for a file named directly or by the first index name (a stat of
     * index.htm would not notice an index.html created beside it).
     */
    const resolve = (
      decoded: UrlPathResult
    ): Effect.Effect<{ readonly lookup: Lookup; readonly candidate?: string }, InvalidPath | FileError> =>
      Effect.gen(function*() {
        if (decoded._tag === "Invalid") return yield* new InvalidPath({ message: decoded.message })
        if (decoded._tag === "Refused") return { lookup: { _tag: "NotFound" } } as const
        const candidate = path.join(rootPath, ...decoded.segments)
        const found = yield* locate(candidate)
        if (found._tag === "Absent") return { lookup: { _tag: found.outcome } } as const
        switch (found.info.type) {
          case "File":
            // "/file.txt/" names a directory that is not there.
            return decoded.trailingSlash
              ? { lookup: { _tag: "NotFound" } } as const
              : { lookup: yield* fileLookup(found.path, found.info), candidate }
          case "Directory": {
            if (!decoded.trailingSlash) {
              return { lookup: { _tag: "Redirect", location: decoded.encoded + "/" } } as const
            }
            const [lookup, index] = yield* directoryLookup(found.path)
            return index === 0 ? { lookup, candidate: path.join(candidate, indexNames[0]) } : { lookup }
          }
          default:
            // FIFOs, sockets and devices are never served: a read could block forever.
            return { lookup: { _tag: "NotFound" } } as const
        }
      })

    /**
     * A full lookup, remembered when it found a file: the next request for
     * the same path stats the same candidate, and a stamp equal to the one
     * taken here means the path still names this very file, unchanged, so
     * the lookup (and, once read, the content) is handed out again. Any
     * change to the file, a rename or a link changes the stamp. A directory
     * renamed on the way to the file does not change it: the resolution is
     * redone in full every RESOLVE_AGAIN_MS anyway.
     */
    const resolveAndRemember = (key: string, decoded: UrlPathResult, fileCache: FileCache) =>
      Effect.flatMap(resolve(decoded), ({ candidate, lookup }) => {
        if (candidate === undefined || lookup._tag !== "File") return Effect.succeed(lookup)
        const resolvedAt = monotonicNow()
        return stampOf(candidate).pipe(
          Effect.map((stamp) => {
            const file = lookup.file
            // a stamp taken after a change would vouch for the old answer: remember only what agrees
            if (
              stamp.isFile && stamp.size === file.size && stamp.ino === file.ino &&
              Math.abs(stamp.mtimeMs - file.mtime.getTime()) < 1
            ) {
              fileCache.remember(key, { candidate, stamp: stamp.key, lookup, resolvedAt, bytes: undefined })
            }
            return lookup
          }),
          Effect.orElseSucceed(() => lookup)
        )
      })

    const lookup = (rawPath: string, options: LookupOptions): Effect.Effect<Lookup, InvalidPath | FileError> => {
      const decoded = decodeUrlPath(rawPath, backslashIsSeparator ? { ...options, backslashIsSeparator } : options)
      // Keyed on the decoded, normalized path: the spellings of one path ("//f", "/./f", "/%66")
      // share one entry instead of each holding a copy and pushing the popular ones out.
      const key = cache === undefined || decoded._tag !== "Path"
        ? undefined
        : (options.dotfiles ? "." : "/") + decoded.segments.join("/") + (decoded.trailingSlash ? "/" : "")
      if (cache === undefined || key === undefined || key.length > MAX_CACHED_PATH) {
        return Effect.map(resolve(decoded), (resolved) => resolved.lookup)
      }
      const known = cache.get(key)
      const again = () => {
        cache.forget(key)
        return resolveAndRemember(key, decoded, cache)
      }
      if (known === undefined || monotonicNow() - known.resolvedAt >= RESOLVE_AGAIN_MS) return again()
      return Effect.matchEffect(stampOf(known.candidate), {
        onFailure: again,
        onSuccess: (stamp) => stamp.key === known.stamp ? Effect.succeed(known.lookup) : again()
      })
    }

    /** Checks a range against the file; the default is the whole file. */
    const spanOf = (
      file: FileEntry,
      range: ByteRange | undefined
    ): { readonly start: number; readonly length: number } => {
      const start = range?.start ?? 0
      const end = range?.end ?? file.size - 1
      const length = end - start + 1
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || length < 0 || end >= file.size) {
        throw new RangeError(`byte range ${start}-${end} does not fit a file of ${file.size} bytes`)
      }
      return { start, length }
    }

    // A file that shrank since lookup would leave the response short of its
    // Content-Length: fail, so the connection gets closed.
    const shortRead = (file: FileEntry, sent: number, length: number) =>
      new FileError({ path: file.path, message: `file ended after ${sent} of ${length} bytes` })

    /** One positioned read of at most `size` bytes; fewer only at the end of the file. */
    const readAt = (file: FileEntry, handle: FileSystem.File, size: number) =>
      Effect.mapError(handle.readAlloc(size), (error) => toFileError(file.path, error))

    const read = (file: FileEntry, range?: ByteRange): Effect.Effect<Uint8Array, FileError> =>
      Effect.suspend(() => {
        const { length, start } = spanOf(file, range)
        if (length > chunkSize) {
          return Effect.die(new RangeError(`read of ${length} bytes: stream anything over ${chunkSize}`))
        }
        if (length === 0) return Effect.succeed(new Uint8Array(0))
        const cached = cache?.bytesOf(file)
        if (cached !== undefined) {
          return Effect.succeed(length === file.size ? cached : cached.subarray(start, start + length))
        }
        if (cache !== undefined && length < file.size && file.size <= chunkSize) {
          // a range of a small file: read it whole once, so later requests for it need no read
          return Effect.map(read(file), (whole) => whole.subarray(start, start + length))
        }
        if (Option.isSome(spans)) {
          return spans.value.read(file.path, start, length).pipe(
            Effect.mapError((error) => toFileError(file.path, error)),
            Effect.flatMap((bytes) => {
              if (bytes.length < length) return Effect.fail(shortRead(file, bytes.length, length))
              if (length === file.size) keep(file, bytes)
              return Effect.succeed(bytes)
            })
          )
        }
        if (start === 0 && length === file.size) {
          // The whole file: one platform call, several times cheaper than open, read
          // and close as three effects. It reads what the file holds by then: one
          // that grew since lookup is cut back to the length announced.
          return fs.readFile(file.path).pipe(
            Effect.mapError((error) => toFileError(file.path, error)),
            Effect.flatMap((bytes) => {
              if (bytes.length < length) return Effect.fail(shortRead(file, bytes.length, length))
              // a file that grew since lookup is not the file looked up: cut, and not kept
              if (bytes.length > length) return Effect.succeed(bytes.subarray(0, length))
              keep(file, bytes)
              return Effect.succeed(bytes)
            })
          )
        }
        return Effect.gen(function*() {
          const handle = yield* fs.open(file.path).pipe(Effect.mapError((error) => toFileError(file.path, error)))
          if (start > 0) yield* handle.seek(start, "start")
          const bytes = yield* readAt(file, handle, length)
          if (Option.isNone(bytes) || bytes.value.length < length) {
            return yield* shortRead(file, Option.isNone(bytes) ? 0 : bytes.value.length, length)
          }
          return bytes.value
        }).pipe(Effect.scoped)
      })

    const stream = (
      file: FileEntry,
      range?: ByteRange,
      options?: StreamOptions
    ): Stream.Stream<Uint8Array, FileError> => {
      let span: { readonly start: number; readonly length: number }
      try {
        span = spanOf(file, range)
      } catch (defect) {
        return Stream.die(defect)
      }
      const { length, start } = span
      if (length === 0) return Stream.empty
      if (length <= chunkSize) return Stream.fromEffect(read(file, range))
      // Pulled straight from the handle, one chunk per pull: nothing is read
      // before the consumer asks, and the handle closes with the stream.
      return Stream.unwrapScoped(Effect.gen(function*() {
        const handle = yield* fs.open(file.path).pipe(Effect.mapError((error) => toFileError(file.path, error)))
        yield* handle.seek(start, "start")
        let sent = 0
        const ended = (got: number) => got === 0 ? Effect.fail(Option.some(shortRead(file, sent, length))) : undefined
        if (options?.reuseBuffer === true) {
          // Two buffers for the whole response, no allocation per chunk. While the
          // consumer writes one chunk, the next is read into the other buffer, so
          // the socket does not wait on the disk; the read ahead starts only when
          // the consumer pulls, so it is one chunk ahead at most.
          const scope = yield* Effect.scope
          const buffers = [new Uint8Array(streamChunkSize), new Uint8Array(streamChunkSize)] as const
          let next = 0
          /** The read started ahead, if the consumer has not taken it yet: it gives the bytes it read. */
          let ahead: Effect.Effect<Uint8Array, FileError> | undefined
          /** The last read started; the handle is not closed before it is done. */
          let lastStarted: Effect.Effect<unknown, unknown> = Effect.void
          /** Starts reading the next chunk at once; the effect returned waits for it. */
          const startNext = (): Effect.Effect<Effect.Effect<Uint8Array, FileError>> => {
            const buffer = buffers[next]!.subarray(0, Math.min(streamChunkSize, length - sent))
            next ^= 1
            const bytesOf = (size: number) => buffer.subarray(0, size)
            if (Option.isSome(spans)) {
              // straight from the descriptor at an explicit offset: no fiber per chunk
              return Effect.sync(() => {
                const pending = Effect.mapBoth(spans.value.startRead(handle.fd, buffer, start + sent), {
                  onFailure: (error) => toFileError(file.path, error),
                  onSuccess: bytesOf
                })
                lastStarted = pending
                return pending
              })
            }
            // uninterruptible: closing the stream's scope waits for the read instead of leaving it running
            return Effect.map(
              Effect.forkIn(
                Effect.uninterruptible(Effect.mapBoth(handle.read(buffer), {
                  onFailure: (error) => toFileError(file.path, error),
                  onSuccess: (size) => bytesOf(Number(size))
                })),
                scope
              ),
              Fiber.join
            )
          }
          // added after the handle, so run before it closes: a read in flight finishes first
          yield* Effect.addFinalizer(() => Effect.ignore(Effect.suspend(() => lastStarted)))
          return Stream.repeatEffectOption(Effect.suspend(() => {
            if (sent >= length) return Effect.fail(Option.none())
            const current = ahead ?? Effect.flatten(startNext())
            ahead = undefined
            return current.pipe(
              Effect.mapError(Option.some),
              Effect.flatMap((chunk) => {
                const short = ended(chunk.length)
                if (short !== undefined) return short
                sent += chunk.length
                if (sent >= length) return Effect.succeed(chunk)
                return Effect.as(Effect.map(startNext(), (pending) => void (ahead = pending)), chunk)
              })
            )
          }))
        }
        return Stream.repeatEffectOption(Effect.suspend(() => {
          if (sent >= length) return Effect.fail(Option.none())
          return readAt(file, handle, Math.min(chunkSize, length - sent)).pipe(
            Effect.mapError(Option.some),
            Effect.flatMap((bytes) => {
              if (Option.isNone(bytes)) return ended(0)!
              sent += bytes.value.length
              return Effect.succeed(bytes.value)
            })
          )
        }))
      }))
    }

    /** An entry as lookup would serve it: what it resolves to, if that lies under the root. */
    const entryOf = (dir: string, name: string) =>
      Effect.map(locate(path.join(dir, name)), (found): Option.Option<DirectoryEntry> =>
        // Broken, unreadable or escaping symlinks and special files are left out:
        // lookup would not serve them either.
        found._tag === "Found" && (found.info.type === "File" || found.info.type === "Directory")
          ? Option.some({
            name,
            isDirectory: found.info.type === "Directory",
            size: Number(found.info.size),
            mtime: Option.getOrElse(found.info.mtime, () => new Date(0))
          })
          : Option.none())

    const list = (dir: string, options: LookupOptions): Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError> =>
      Effect.gen(function*() {
        if (!isInside(dir)) return yield* new FileError({ path: dir, message: "not under the served root" })
        const include = (name: string) => options.dotfiles || !name.startsWith(".")
        if (Option.isSome(directories)) {
          // dir is a real path under the root: a name in it that is not a symlink lies under
          // the root as well, and its lstat is all there is to know; only symlinks are resolved
          const items = yield* directories.value.read(dir, include).pipe(
            Effect.mapError((error) => toFileError(dir, error))
          )
          const entries: Array<DirectoryEntry> = []
          const links: Array<string> = []
          for (const item of items) {
            if (item.kind === "SymbolicLink") links.push(item.name)
            else if (item.kind === "File" || item.kind === "Directory") {
              const { mtimeMs, name, size } = item
              entries.push({ name, isDirectory: item.kind === "Directory", size, mtime: new Date(mtimeMs) })
            }
          }
          const linked = yield* Effect.forEach(links, (name) => entryOf(dir, name), { concurrency: 8 })
          return entries.concat(Arr.getSomes(linked)).sort(compareEntries)
        }
        const names = yield* fs.readDirectory(dir).pipe(Effect.mapError((error) => toFileError(dir, error)))
        const entries = yield* Effect.forEach(names.filter(include), (name) => entryOf(dir, name), { concurrency: 8 })
        return Arr.getSomes(entries).sort(compareEntries)
      })

    return { root: rootPath, lookup, read, stream, list }
  })

/** Directories first, then by name in code-unit order (locale-independent, stable across machines). */
const compareEntries = (a: DirectoryEntry, b: DirectoryEntry): number =>
  a.isDirectory !== b.isDirectory ? (a.isDirectory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** Production: provide FileSystem and Path (NodeFileSystem.layer, NodePath.layer or NodeContext.layer). */
export const layer = (
  root: string,
  options?: StaticFilesOptions
): Layer.Layer<StaticFiles, FileError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(StaticFiles, make(root, options))

/** Files under one root, looked up safely. */
export class StaticFiles extends Context.Tag("fiberhttp/files/StaticFiles")<
  StaticFiles,
  {
    readonly root: string
    /**
     * `rawPath` is the request target's path part, still percent-encoded (a
     * query, if present, is ignored). Decodes once, normalizes, refuses
     * anything outside the root (including symlinks that resolve outside),
     * applies the index rule (index.html, then index.htm). See urlPath.ts.
     */
    readonly lookup: (rawPath: string, options: LookupOptions) => Effect.Effect<Lookup, InvalidPath | FileError>
    /**
     * Bytes [start, end] inclusive of `file` (the whole file without a range)
     * at once, for spans of at most `chunkSize` bytes (more is a defect), so
     * that a small response goes out with its head in one write. Fails like
     * `stream`; a file that grew since lookup gives its first `size` bytes.
     * With the cache on, a whole small file read for an entry is kept with
     * it: a later `read` of the same entry (or of the entry a later lookup
     * hands out for the unchanged file) takes no disk read.
     */
    readonly read: (file: FileEntry, range?: ByteRange) => Effect.Effect<Uint8Array, FileError>
    /**
     * Bytes [start, end] inclusive of `file` (the whole file without a range),
     * each chunk (at most `chunkSize` bytes) read from the open file only when
     * the consumer pulls it, so a slow reader holds one chunk at most. A range
     * that does not fit the file is a defect (answer 416 before streaming).
     * Fails with FileError if the file is gone or ends short of the expected
     * length (it shrank since lookup).
     */
    readonly stream: (
      file: FileEntry,
      range?: ByteRange,
      options?: StreamOptions
    ) => Stream.Stream<Uint8Array, FileError>
    /**
     * The entries of `path` (a Directory's path from lookup): directories
     * first, then by name in code-unit order; dotfiles left out unless asked,
     * and so is whatever lookup would not serve (broken or escaping symlinks,
     * special files). Names are raw: escaping them is the caller's job.
     */
    readonly list: (path: string, options: LookupOptions) => Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError>
  }
>() {
  static readonly make = make
  static readonly layer = layer
}
