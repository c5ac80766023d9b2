import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Array as Arr, Context, Data, Effect, Layer, Option, Stream } from "effect"
import { decodeUrlPath } from "./urlPath.ts"

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
}> {}

/** Bytes per read from disk; also the most a stream holds per chunk. */
const chunkSize = 64 * 1024
/** Chunks read ahead of the consumer: a slow reader holds at most this many. */
const readAhead = 2
const indexNames = ["index.html", "index.htm"] as const

type Outcome = "NotFound" | "Forbidden"

const errnoCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

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

const toFileError = (path: string, error: PlatformError): FileError =>
  new FileError({ path, message: error.message, cause: error })

type Located =
  | { readonly _tag: "Found"; readonly path: string; readonly info: FileSystem.File.Info }
  | { readonly _tag: "Absent"; readonly outcome: Outcome }

const absent = (outcome: Outcome): Located => ({ _tag: "Absent", outcome })

/**
 * The service over one root directory. The root is resolved to its real path
 * once; every path handed out (FileEntry.path, Directory.path) is a real path
 * under it, symlinks resolved.
 */
export const make = (root: string): Effect.Effect<Context.Tag.Service<StaticFiles>, FileError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
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
      Effect.map(readable(real), (denied): Lookup =>
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
          : { _tag: denied })

    const directoryLookup = (real: string): Effect.Effect<Lookup, FileError> =>
      Effect.gen(function*() {
        for (const name of indexNames) {
          const index = yield* locate(path.join(real, name))
          if (index._tag === "Absent") {
            if (index.outcome === "Forbidden") return { _tag: "Forbidden" } as const
            continue
          }
          if (index.info.type === "File") return yield* fileLookup(index.path, index.info)
        }
        const denied = yield* readable(real)
        return denied === undefined ? { _tag: "Directory", path: real } as const : { _tag: denied } as const
      })

    const lookup = (rawPath: string, options: LookupOptions): Effect.Effect<Lookup, InvalidPath | FileError> =>
      Effect.gen(function*() {
        const decoded = decodeUrlPath(rawPath, options)
        if (decoded._tag === "Invalid") return yield* new InvalidPath({ message: decoded.message })
        if (decoded._tag === "Refused") return { _tag: "NotFound" } as const
        const found = yield* locate(path.join(rootPath, ...decoded.segments))
        if (found._tag === "Absent") return { _tag: found.outcome } as const
        switch (found.info.type) {
          case "File":
            // "/file.txt/" names a directory that is not there.
            return decoded.trailingSlash ? { _tag: "NotFound" } as const : yield* fileLookup(found.path, found.info)
          case "Directory":
            return decoded.trailingSlash
              ? yield* directoryLookup(found.path)
              : { _tag: "Redirect", location: decoded.encoded + "/" } as const
          default:
            // FIFOs, sockets and devices are never served: a read could block forever.
            return { _tag: "NotFound" } as const
        }
      })

    const stream = (
      file: FileEntry,
      range?: { readonly start: number; readonly end: number }
    ): Stream.Stream<Uint8Array, FileError> => {
      const start = range?.start ?? 0
      const end = range?.end ?? file.size - 1
      const length = end - start + 1
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || length < 0 || end >= file.size) {
        return Stream.die(new RangeError(`byte range ${start}-${end} does not fit a file of ${file.size} bytes`))
      }
      if (length === 0) return Stream.empty
      return Stream.suspend(() => {
        let sent = 0
        // A file that shrank since lookup would leave the response short of
        // its Content-Length: fail, so the connection gets closed.
        const shortRead = Stream.suspend(() =>
          sent < length
            ? Stream.fail(new FileError({ path: file.path, message: `file ended after ${sent} of ${length} bytes` }))
            : Stream.empty
        )
        return fs.stream(file.path, { offset: start, bytesToRead: length, chunkSize, bufferSize: readAhead }).pipe(
          Stream.mapError((error) => toFileError(file.path, error)),
          Stream.map((chunk) => {
            sent += chunk.length
            return chunk
          }),
          Stream.concat(shortRead)
        )
      })
    }

    const list = (dir: string, options: LookupOptions): Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError> =>
      Effect.gen(function*() {
        if (!isInside(dir)) return yield* new FileError({ path: dir, message: "not under the served root" })
        const names = yield* fs.readDirectory(dir).pipe(Effect.mapError((error) => toFileError(dir, error)))
        const entries = yield* Effect.forEach(
          names.filter((name) => options.dotfiles || !name.startsWith(".")),
          (name) =>
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
                : Option.none()),
          { concurrency: 8 }
        )
        return Arr.getSomes(entries).sort(compareEntries)
      })

    return { root: rootPath, lookup, stream, list }
  })

/** Directories first, then by name in code-unit order (locale-independent, stable across machines). */
const compareEntries = (a: DirectoryEntry, b: DirectoryEntry): number =>
  a.isDirectory !== b.isDirectory ? (a.isDirectory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** Production: provide FileSystem and Path (NodeFileSystem.layer, NodePath.layer or NodeContext.layer). */
export const layer = (root: string): Layer.Layer<StaticFiles, FileError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(StaticFiles, make(root))

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
     * Bytes [start, end] inclusive of `file` (the whole file without a range),
     * read as the consumer pulls, in chunks of at most 64 KiB with at most two
     * read ahead. A range that does not fit the file is a defect (answer 416
     * before streaming). Fails with FileError if the file is gone or ends
     * short of the expected length (it shrank since lookup).
     */
    readonly stream: (file: FileEntry, range?: { readonly start: number; readonly end: number }) => Stream.Stream<Uint8Array, FileError>
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
