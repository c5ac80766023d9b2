import { Context, Data, type Effect } from "effect"

/**
 * What a failed file-system call means to the server. `NotFound` covers
 * every way a path can fail to name a file (ENOENT, ENOTDIR, ELOOP,
 * ENAMETOOLONG); `Denied` a refusal (EACCES, EPERM); `Exhausted` running
 * out of descriptors (EMFILE, ENFILE); `Other` anything else (EBADF, EIO...).
 */
export type FileAccessReason = "NotFound" | "Denied" | "Exhausted" | "Other"

export class FileAccessError extends Data.TaggedError("FileAccessError")<{
  readonly reason: FileAccessReason
  /** The operating system's error code ("ENOENT", "EMFILE"...), when there is one. */
  readonly code: string | undefined
  /** The operation that failed ("open", "read"...). */
  readonly operation: string
  readonly path: string
  readonly message: string
}> {}

/** The reason an error code stands for. */
export const reasonOfCode = (code: string | undefined): FileAccessReason => {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "ELOOP":
    case "ENAMETOOLONG":
      return "NotFound"
    case "EACCES":
    case "EPERM":
      return "Denied"
    case "EMFILE":
    case "ENFILE":
      return "Exhausted"
    default:
      return "Other"
  }
}

/** What stat(2), following symlinks, says about a path. */
export interface FileStat {
  readonly type: "File" | "Directory" | "Other"
  readonly size: number
  /** Milliseconds, possibly fractional. */
  readonly mtimeMs: number
  readonly ino: number
  /** Permission bits (0o777). */
  readonly mode: number
  /**
   * Changes whenever the file is replaced, rewritten, renamed, linked or has
   * its mode changed (inode, size, mtime, ctime, mode): equal stamps of one
   * path mean the very same, unchanged file.
   */
  readonly stamp: string
}

/** One name in a directory, as lstat(2) sees it: a symlink is reported as such, not followed. */
export interface DirectoryItem {
  readonly name: string
  readonly kind: "File" | "Directory" | "SymbolicLink" | "Other"
  readonly size: number
  readonly mtimeMs: number
}

/**
 * A file opened for reading. Opaque: only the service that opened it can
 * read it or close it.
 */
export interface OpenFile {
  readonly path: string
}

/**
 * The file-system operations the server needs, and no more. Every path is
 * absolute. Implementations: NodeFileAccess (the operating system) and
 * MemoryFileAccess (a tree in memory, for tests).
 */
export class FileAccess extends Context.Tag("fiberhttp/files/FileAccess")<
  FileAccess,
  {
    /** The path with every symlink resolved. */
    readonly realPath: (path: string) => Effect.Effect<string, FileAccessError>
    /** stat(2), following symlinks. */
    readonly stat: (path: string) => Effect.Effect<FileStat, FileAccessError>
    /**
     * stat(2) again, for a path stat'ed moments ago (validating a cached
     * answer on every request): may answer at once, without a round trip.
     */
    readonly stamp: (path: string) => Effect.Effect<FileStat, FileAccessError>
    /** Succeeds if this process may read `path` (access(2) with R_OK). */
    readonly checkReadable: (path: string) => Effect.Effect<void, FileAccessError>
    /**
     * `length` bytes at `start` of the file at `path`, opened, read and
     * closed at once; fewer only where the file ends first.
     */
    readonly readSpan: (path: string, start: number, length: number) => Effect.Effect<Uint8Array, FileAccessError>
    /** Opens `path` for reading; close it with `close`. */
    readonly open: (path: string) => Effect.Effect<OpenFile, FileAccessError>
    /**
     * Starts reading `buffer.length` bytes at `position` of `file` into
     * `buffer` when run, without waiting; the effect it gives waits for the
     * count read (fewer only where the file ends) and may be run any number
     * of times. Close the file only after that read is done.
     */
    readonly startRead: (
      file: OpenFile,
      buffer: Uint8Array,
      position: number
    ) => Effect.Effect<Effect.Effect<number, FileAccessError>>
    readonly close: (file: OpenFile) => Effect.Effect<void>
    /**
     * The names of directory `path` that `include` keeps, each with what
     * lstat says of it, in no particular order. A name that vanished or may
     * not be looked at (also one decoded lossily from bytes that are not
     * UTF-8, which then names nothing) is left out; other failures fail the
     * listing.
     */
    readonly listDirectory: (
      path: string,
      include: (name: string) => boolean
    ) => Effect.Effect<ReadonlyArray<DirectoryItem>, FileAccessError>
  }
>() {}
