import type { Path } from "@effect/platform"
import { Array as Arr, Effect, Option } from "effect"
import { type FileAccess, type FileAccessError, type FileStat } from "./FileAccess.ts"
import { fileErrorOf } from "./fileErrorOf.ts"
import { type DirectoryEntry, FileError, InvalidPath, type Lookup, type LookupOptions } from "./StaticFiles.ts"
import { decodeUrlPath, type UrlPathResult } from "./urlPath.ts"

const indexNames = ["index.html", "index.htm"] as const

type Outcome = "NotFound" | "Forbidden"

/** What a failed call means to a request; undefined for a failure of the server's own (500). */
const outcomeOf = (error: FileAccessError): Outcome | undefined =>
  error.reason === "NotFound" ? "NotFound" : error.reason === "Denied" ? "Forbidden" : undefined

/**
 * A file whose read bits are set for owner, group and others is readable by
 * this process whoever it runs as, so asking access(2) (a thread-pool round
 * trip on every request) tells nothing new. Mandatory access control can
 * still refuse the open: that surfaces as a FileError when reading.
 */
const readableByAll = (info: FileStat): boolean => (info.mode & 0o444) === 0o444

type Located =
  | { readonly _tag: "Found"; readonly path: string; readonly info: FileStat }
  | { readonly _tag: "Absent"; readonly outcome: Outcome }

const absent = (outcome: Outcome): Located => ({ _tag: "Absent", outcome })

/** A full resolution of a URL path. */
export interface Resolved {
  readonly lookup: Lookup
  /**
   * For a file named directly or by the first index name: the path a later
   * request may stamp to reuse this answer (a stamp of index.htm would not
   * notice an index.html created beside it), and the file's stamp as found.
   */
  readonly candidate?: { readonly path: string; readonly stamp: string }
}

export interface Resolver {
  /** The root's real path. */
  readonly root: string
  /** Decodes a request path as this file system needs it (see urlPath.ts). */
  readonly decode: (rawPath: string, options: LookupOptions) => UrlPathResult
  readonly resolve: (decoded: UrlPathResult) => Effect.Effect<Resolved, InvalidPath | FileError>
  readonly list: (dir: string, options: LookupOptions) => Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError>
}

/**
 * Resolution of URL paths under one root. The root is resolved to its real
 * path once; every path handed out (FileEntry.path, Directory.path) is a
 * real path under it, symlinks resolved.
 */
export const makeResolver = (
  root: string,
  files: FileAccess["Type"],
  path: Path.Path
): Effect.Effect<Resolver, FileError> =>
  Effect.gen(function*() {
    const rootPath = yield* files.realPath(path.resolve(root)).pipe(
      Effect.tap((real) =>
        Effect.flatMap(files.stat(real), (info) =>
          info.type === "Directory"
            ? Effect.void
            : Effect.fail(new FileError({ reason: "Failed", path: real, message: "root is not a directory" })))
      ),
      Effect.catchTag("FileAccessError", (error) => Effect.fail(fileErrorOf(root, error)))
    )
    const rootPrefix = rootPath.endsWith(path.sep) ? rootPath : rootPath + path.sep
    const isInside = (real: string) => real === rootPath || real.startsWith(rootPrefix)

    /** Resolves symlinks; whatever lands outside the root does not exist. */
    const locate = (candidate: string): Effect.Effect<Located, FileError> =>
      files.realPath(candidate).pipe(
        Effect.flatMap((real) =>
          isInside(real)
            ? Effect.map(files.stat(real), (info): Located => ({ _tag: "Found", path: real, info }))
            : Effect.succeed(absent("NotFound"))
        ),
        Effect.catchAll((error) => {
          const outcome = outcomeOf(error)
          return outcome === undefined ? Effect.fail(fileErrorOf(candidate, error)) : Effect.succeed(absent(outcome))
        })
      )

    /** Existing but unreadable (EACCES/EPERM) is Forbidden. */
    const readable = (real: string): Effect.Effect<Outcome | undefined, FileError> =>
      files.checkReadable(real).pipe(
        Effect.as(undefined),
        Effect.catchAll((error) => {
          const outcome = outcomeOf(error)
          return outcome === undefined ? Effect.fail(fileErrorOf(real, error)) : Effect.succeed(outcome)
        })
      )

    const fileLookup = (real: string, info: FileStat): Effect.Effect<Lookup, FileError> =>
      Effect.map(
        readableByAll(info) ? Effect.succeed(undefined) : readable(real),
        (denied): Lookup =>
          denied === undefined
            ? { _tag: "File", file: { path: real, size: info.size, mtime: new Date(info.mtimeMs), ino: info.ino } }
            : { _tag: denied }
      )

    /** The lookup, and the index file that gave it if it was the first index name. */
    const directoryLookup = (
      real: string
    ): Effect.Effect<readonly [Lookup, Located & { _tag: "Found" } | undefined], FileError> =>
      Effect.gen(function*() {
        for (let i = 0; i < indexNames.length; i++) {
          const index = yield* locate(path.join(real, indexNames[i]!))
          if (index._tag === "Absent") {
            if (index.outcome === "Forbidden") return [{ _tag: "Forbidden" }, undefined] as const
            continue
          }
          if (index.info.type === "File") {
            return [yield* fileLookup(index.path, index.info), i === 0 ? index : undefined] as const
          }
        }
        const denied = yield* readable(real)
        return [denied === undefined ? { _tag: "Directory", path: real } : { _tag: denied }, undefined] as const
      })

    const resolve = (decoded: UrlPathResult): Effect.Effect<Resolved, InvalidPath | FileError> =>
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
              : {
                lookup: yield* fileLookup(found.path, found.info),
                candidate: { path: candidate, stamp: found.info.stamp }
              }
          case "Directory": {
            if (!decoded.trailingSlash) {
              return { lookup: { _tag: "Redirect", location: decoded.encoded + "/" } } as const
            }
            const [lookup, index] = yield* directoryLookup(found.path)
            return index === undefined
              ? { lookup }
              : { lookup, candidate: { path: path.join(candidate, indexNames[0]), stamp: index.info.stamp } }
          }
          default:
            // FIFOs, sockets and devices are never served: a read could block forever.
            return { lookup: { _tag: "NotFound" } } as const
        }
      })

    const list = (dir: string, options: LookupOptions): Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError> =>
      Effect.gen(function*() {
        if (!isInside(dir)) {
          return yield* new FileError({ reason: "Failed", path: dir, message: "not under the served root" })
        }
        const include = (name: string) => options.dotfiles || !name.startsWith(".")
        const items = yield* files.listDirectory(dir, include).pipe(
          Effect.mapError((error) => fileErrorOf(dir, error))
        )
        // dir is a real path under the root: a name in it that is not a symlink lies under
        // the root as well, and its lstat is all there is to know; only symlinks are resolved
        const entries: Array<DirectoryEntry> = []
        const links: Array<string> = []
        for (const item of items) {
          if (item.kind === "SymbolicLink") links.push(item.name)
          else if (item.kind === "File" || item.kind === "Directory") {
            const { mtimeMs, name, size } = item
            entries.push({ name, isDirectory: item.kind === "Directory", size, mtime: new Date(mtimeMs) })
          }
        }
        const linked = yield* Effect.forEach(
          links,
          (name) =>
            Effect.map(locate(path.join(dir, name)), (found): Option.Option<DirectoryEntry> =>
              // Broken, unreadable or escaping symlinks and special files are left out:
              // lookup would not serve them either.
              found._tag === "Found" && (found.info.type === "File" || found.info.type === "Directory")
                ? Option.some({
                  name,
                  isDirectory: found.info.type === "Directory",
                  size: found.info.size,
                  mtime: new Date(found.info.mtimeMs)
                })
                : Option.none()),
          { concurrency: 8 }
        )
        return entries.concat(Arr.getSomes(linked)).sort(compareEntries)
      })

    /** Windows: a "\\" decoded from a URL must not reach the file system, where it would separate names. */
    const backslashIsSeparator = path.sep === "\\"
    const decode = (rawPath: string, options: LookupOptions) =>
      decodeUrlPath(rawPath, backslashIsSeparator ? { ...options, backslashIsSeparator } : options)

    return { root: rootPath, decode, resolve, list }
  })

/** Directories first, then by name in code-unit order (locale-independent, stable across machines). */
const compareEntries = (a: DirectoryEntry, b: DirectoryEntry): number =>
  a.isDirectory !== b.isDirectory ? (a.isDirectory ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
