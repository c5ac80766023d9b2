import { type Clock, Effect, Exit } from "effect"
import { exitNow } from "../effectNow.ts"
import type { FileAccess } from "./FileAccess.ts"
import { FileCache, type Resolution } from "./FileCache.ts"
import type { KeptBytes } from "./FileReader.ts"
import type { Resolver } from "./Resolver.ts"
import {
  chunkSize,
  type FileEntry,
  type FileError,
  type InvalidPath,
  type Lookup,
  type LookupOptions
} from "./StaticFiles.ts"
import type { UrlPathResult } from "./urlPath.ts"

/** A remembered resolution is redone in full at least this often, whatever its stamps say. */
export const RESOLVE_AGAIN_MS = 1000
/**
 * The bytes of a file modified less than this long ago (either way) are not
 * kept: a file system whose timestamps move once per timer tick, or a read
 * that overlapped a write, could leave bytes that the file's stamp does not
 * tell apart from the next version.
 */
export const SETTLE_MS = 1000
/** Files up to this size are kept whole in the cache (and no larger than a quarter of it). */
export const MAX_CACHED_FILE = 4 * 1024 * 1024
/** Longer URL paths are resolved every time rather than remembered. */
const MAX_CACHED_PATH = 1024
/** Raw paths whose cache key is remembered at most (all are forgotten when full). */
const MAX_RAW_KEYS = 4096

export interface CachedLookup {
  readonly lookup: (rawPath: string, options: LookupOptions) => Effect.Effect<Lookup, InvalidPath | FileError>
  /** Where reads find and leave whole small files; undefined with the cache off. */
  readonly kept: KeptBytes | undefined
}

/**
 * Lookups through a FileCache of `cacheBytes` bytes (0: every lookup
 * resolves in full). A full lookup that found a file is remembered: the next
 * request for the same path stamps the same candidate, and a stamp equal to
 * the one taken when it was found means the path still names this very
 * file, unchanged, so the lookup (and, once read, the content) is handed out
 * again. Any change to the file, a rename or a link changes the stamp. A
 * directory renamed on the way to the file does not change it: the
 * resolution is redone in full every RESOLVE_AGAIN_MS anyway.
 */
export const makeCachedLookup = (
  resolver: Resolver,
  files: FileAccess["Type"],
  clock: Clock.Clock,
  cacheBytes: number
): CachedLookup => {
  const resolve = (decoded: UrlPathResult) => Effect.map(resolver.resolve(decoded), (resolved) => resolved.lookup)
  if (cacheBytes <= 0) {
    return { lookup: (rawPath, options) => resolve(resolver.decode(rawPath, options)), kept: undefined }
  }
  // a file as large as a quarter of the cache is kept: one popular large file does not push out all the rest
  const maxFileBytes = Math.max(chunkSize, Math.min(MAX_CACHED_FILE, Math.floor(cacheBytes / 4)))
  const cache = new FileCache({ maxBytes: cacheBytes, maxFileBytes, maxEntries: 4096 })
  const settled = (file: FileEntry) => Math.abs(clock.unsafeCurrentTimeMillis() - file.mtime.getTime()) >= SETTLE_MS
  /** Milliseconds that a step of the wall clock does not move. */
  const monotonicNow = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6

  /**
   * `previous`: the entry this resolution replaces. Its bytes carry over when
   * the path still names the very same file, unchanged (same candidate, same
   * stamp): redoing the resolution every second does not mean reading a hot
   * file again, nor every request that arrives before that read is done.
   */
  const resolveAndRemember = (key: string, decoded: UrlPathResult, previous?: Resolution) =>
    Effect.flatMap(resolver.resolve(decoded), ({ candidate, lookup }) => {
      if (candidate === undefined || lookup._tag !== "File") return Effect.succeed(lookup)
      const resolvedAt = monotonicNow()
      return files.stamp(candidate.path).pipe(
        Effect.map((stamp) => {
          // a stamp taken after a change would vouch for the old answer: remember only what agrees
          if (stamp.stamp === candidate.stamp) {
            const same = previous?.candidate === candidate.path && previous.stamp === stamp.stamp &&
              previous.lookup.file.size === lookup.file.size
            cache.remember(key, {
              candidate: candidate.path,
              stamp: stamp.stamp,
              lookup,
              resolvedAt,
              bytes: same ? previous.bytes : undefined
            })
          }
          return lookup
        }),
        Effect.orElseSucceed(() => lookup)
      )
    })

  /** The full resolution, instead of a remembered one that is too old, changed or missing. */
  const again = (key: string, decoded: UrlPathResult, known: Resolution | undefined) => {
    cache.forget(key)
    return resolveAndRemember(key, decoded, known)
  }

  /**
   * The cache key of each raw path recently decoded to a path (decoding is
   * pure: the same raw path and options always give the same key), so that
   * a hot path is not decoded and joined again on every request.
   */
  const keysOfRaw = new Map<string, string>()

  const lookup = (rawPath: string, options: LookupOptions): Effect.Effect<Lookup, InvalidPath | FileError> => {
    const raw = (options.dotfiles ? "." : "/") + rawPath
    let key = keysOfRaw.get(raw)
    let decoded: UrlPathResult | undefined
    if (key === undefined) {
      decoded = resolver.decode(rawPath, options)
      if (decoded._tag !== "Path") return resolve(decoded)
      // Keyed on the decoded, normalized path: the spellings of one path ("//f", "/./f", "/%66")
      // share one entry instead of each holding a copy and pushing the popular ones out.
      key = (options.dotfiles ? "." : "/") + decoded.segments.join("/") + (decoded.trailingSlash ? "/" : "")
      if (key.length > MAX_CACHED_PATH) return resolve(decoded)
      if (raw.length <= MAX_CACHED_PATH) {
        if (keysOfRaw.size >= MAX_RAW_KEYS) keysOfRaw.clear()
        keysOfRaw.set(raw, key)
      }
    }
    const known = cache.get(key)
    if (known === undefined || monotonicNow() - known.resolvedAt >= RESOLVE_AGAIN_MS) {
      return again(key, decoded ?? resolver.decode(rawPath, options), known)
    }
    const stamping = files.stamp(known.candidate)
    // a stamp taken at once (the synchronous stat) answers at once: no Effect step for a cached file
    const stamped = exitNow(stamping)
    if (stamped !== undefined) {
      return Exit.isSuccess(stamped) && stamped.value.stamp === known.stamp
        ? Exit.succeed(known.lookup)
        : again(key, decoded ?? resolver.decode(rawPath, options), known)
    }
    const resolveAgain = () => again(key, decoded ?? resolver.decode(rawPath, options), known)
    return Effect.matchEffect(stamping, {
      onFailure: resolveAgain,
      onSuccess: (stamp) => stamp.stamp === known.stamp ? Effect.succeed(known.lookup) : resolveAgain()
    })
  }

  return {
    lookup,
    kept: {
      bytesOf: (file) => cache.bytesOf(file),
      /** Keeps the whole content of a remembered entry, once the file has settled (see SETTLE_MS). */
      keep: (file, bytes) => {
        if (settled(file)) cache.keep(file, bytes)
      },
      wants: (file) => settled(file) && cache.wants(file)
    }
  }
}
