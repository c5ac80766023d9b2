import { Context, Data, type Effect, type Stream } from "effect"

export interface LookupOptions {
  /** Serve names starting with "." (off by default: such paths are NotFound). */
  readonly dotfiles: boolean
}

export interface FileEntry {
  /** Absolute real path on disk (symlinks resolved, checked to lie under the root). */
  readonly path: string
  readonly size: number
  readonly mtime: Date
  /** Inode number, 0 when the platform has none. */
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

export type FileErrorReason =
  /** The read was refused (EACCES/EPERM) after the lookup found the file readable: still a 403. */
  | "Denied"
  /** Out of file descriptors (EMFILE, ENFILE): the server is overloaded, not broken (503). */
  | "Overloaded"
  /** The file ended before the length looked up: it shrank or was replaced since. */
  | "Truncated"
  /** Any other failure: 500, logged once with its cause. */
  | "Failed"

/** A file-system failure after or outside lookup's answers (NotFound and Forbidden are answers, not errors). */
export class FileError extends Data.TaggedError("FileError")<{
  readonly reason: FileErrorReason
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Bytes per read from disk: the most a stream holds per chunk, and the most
 * `read` reads at once. Each chunk costs a thread-pool round trip and a few
 * effects whatever its size, so chunks are large; memory per response stays
 * bounded by one chunk (plus the socket's buffer), whatever the file's size
 * or the reader's speed.
 */
export const chunkSize = 512 * 1024

/**
 * Bytes per read of a stream that reuses its buffers (`reuseBuffer`): two
 * such buffers per response. Smaller than chunkSize so that 50 concurrent
 * large downloads stay within about 130 MiB of memory; large enough that
 * the cost per chunk stays well below the cost of moving its bytes.
 */
export const streamChunkSize = 192 * 1024

/**
 * Files under one root, looked up safely. Built by StaticFilesLayer over the
 * FileAccess service.
 */
export class StaticFiles extends Context.Tag("fiberhttp/files/StaticFiles")<
  StaticFiles,
  {
    /** The root's real path. */
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
>() {}
