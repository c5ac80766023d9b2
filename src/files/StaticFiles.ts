import { Context, Data, type Effect, type Stream } from "effect"

export interface LookupOptions {
  /** Serve names starting with "." (off by default: such paths are NotFound). */
  readonly dotfiles: boolean
}

export interface FileEntry {
  /** Absolute path on disk (already checked to lie under the root). */
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
  /** A directory without an index file; `listing` is filled only when asked for. */
  | { readonly _tag: "Directory"; readonly path: string }
  /** A directory asked for without its trailing slash: 301 to `location`. */
  | { readonly _tag: "Redirect"; readonly location: string }
  | { readonly _tag: "NotFound" }
  /** Exists but may not be read (EACCES). */
  | { readonly _tag: "Forbidden" }

/** The URL path could not be decoded safely (bad percent-encoding, invalid UTF-8, NUL): 400. */
export class InvalidPath extends Data.TaggedError("InvalidPath")<{ readonly message: string }> {}

/** An unexpected file-system failure: 500, logged once with its cause. */
export class FileError extends Data.TaggedError("FileError")<{
  readonly path: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** Files under one root, looked up safely. */
export class StaticFiles extends Context.Tag("fiberhttp/files/StaticFiles")<
  StaticFiles,
  {
    readonly root: string
    /**
     * `rawPath` is the request target's path part, still percent-encoded and
     * without the query. Decodes once, normalizes, refuses anything outside the
     * root (including symlinks that resolve outside), applies the index rule
     * (index.html, then index.htm).
     */
    readonly lookup: (rawPath: string, options: LookupOptions) => Effect.Effect<Lookup, InvalidPath | FileError>
    /** Bytes [start, end] inclusive of `file`, in bounded chunks (64 KiB). */
    readonly stream: (file: FileEntry, range?: { readonly start: number; readonly end: number }) => Stream.Stream<Uint8Array, FileError>
    /** A directory's entries, sorted by name; dotfiles left out unless asked. */
    readonly list: (path: string, options: LookupOptions) => Effect.Effect<ReadonlyArray<DirectoryEntry>, FileError>
  }
>() {}
