import type { FileEntry, Lookup } from "./StaticFiles.ts"

/**
 * What a URL path resolved to, remembered so that the next request for it
 * costs one stat instead of a realpath, a stat and a read.
 */
export interface Resolution {
  /** The path as joined under the root, symlinks unresolved: what the next request stats. */
  readonly candidate: string
  /** The stamp of `candidate` when it was resolved (FileStat.stamp). */
  readonly stamp: string
  /** The answer to hand out again, and its file. */
  readonly lookup: Lookup & { readonly _tag: "File" }
  /** When the full resolution ran (epoch ms). */
  readonly resolvedAt: number
  /** The whole file, once a read took it. */
  bytes: Uint8Array | undefined
}

export interface FileCacheLimits {
  /** Bytes of file content held at most. */
  readonly maxBytes: number
  /** Files larger than this are resolved from the cache but read from disk every time. */
  readonly maxFileBytes: number
  /** URL paths remembered at most. */
  readonly maxEntries: number
}

/**
 * A bounded map from URL path to its Resolution, and from the FileEntry
 * handed out back to it (so that `read` finds the bytes). Oldest entries go
 * first when a bound is reached. Pure bookkeeping: no I/O, no clock.
 */
export class FileCache {
  private readonly entries = new Map<string, Resolution>()
  private readonly byFile = new WeakMap<FileEntry, Resolution>()
  private held = 0

  constructor(readonly limits: FileCacheLimits) {}

  get(key: string): Resolution | undefined {
    return this.entries.get(key)
  }

  /** Bytes of content held now. */
  get heldBytes(): number {
    return this.held
  }

  get size(): number {
    return this.entries.size
  }

  /** Remembers `resolution` as the newest entry; bytes it already holds count against the bounds. */
  remember(key: string, resolution: Resolution): void {
    this.forget(key)
    this.entries.set(key, resolution)
    this.byFile.set(resolution.lookup.file, resolution)
    if (resolution.bytes !== undefined) this.held += resolution.bytes.length
    while (this.entries.size > this.limits.maxEntries || this.held > this.limits.maxBytes) this.evictOldest()
  }

  forget(key: string): void {
    const old = this.entries.get(key)
    if (old === undefined) return
    this.entries.delete(key)
    this.byFile.delete(old.lookup.file)
    if (old.bytes !== undefined) this.held -= old.bytes.length
  }

  /** The whole content of `file`, if a read of this very entry was kept. */
  bytesOf(file: FileEntry): Uint8Array | undefined {
    return this.byFile.get(file)?.bytes
  }

  /** Whether `keep` would keep a whole read of `file`: a remembered entry, not kept yet, within the bounds. */
  wants(file: FileEntry): boolean {
    const resolution = this.byFile.get(file)
    return resolution !== undefined && resolution.bytes === undefined && file.size <= this.limits.maxFileBytes &&
      file.size <= this.limits.maxBytes
  }

  /** Keeps the whole content of `file` (as read after its lookup), within the bounds. */
  keep(file: FileEntry, bytes: Uint8Array): void {
    if (bytes.length !== file.size || !this.wants(file)) return
    const resolution = this.byFile.get(file)!
    resolution.bytes = bytes
    this.held += bytes.length
    while (this.held > this.limits.maxBytes) this.evictOldest()
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next()
    if (!oldest.done) this.forget(oldest.value)
  }
}
