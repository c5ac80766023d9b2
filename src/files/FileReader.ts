import { Effect, Exit, Option, Stream } from "effect"
import type { FileAccess, OpenFile } from "./FileAccess.ts"
import { fileErrorOf } from "./fileErrorOf.ts"
import {
  type ByteRange,
  chunkSize,
  type FileEntry,
  FileError,
  type StaticFiles,
  streamChunkSize,
  type StreamOptions
} from "./StaticFiles.ts"

/** Where `read` finds and leaves whole small files (the cache), if anywhere. */
export interface KeptBytes {
  /** The whole content of `file`, if kept. */
  readonly bytesOf: (file: FileEntry) => Uint8Array | undefined
  /** Offers the whole content of `file`, as read after its lookup. */
  readonly keep: (file: FileEntry, bytes: Uint8Array) => void
  /** Whether `keep` would keep the whole content of `file` (not kept yet, small enough, settled). */
  readonly wants: (file: FileEntry) => boolean
}

/**
 * Bytes of whole files above chunkSize being read into memory for the cache
 * at once, at most: past it (or while the same file is being read) a
 * response streams from the disk as if there were no cache.
 */
const MAX_LOADING_BYTES = 16 * 1024 * 1024

export interface FileReader {
  readonly read: StaticFiles["Type"]["read"]
  readonly stream: StaticFiles["Type"]["stream"]
}

/** Checks a range against the file; the default is the whole file. */
const spanOf = (file: FileEntry, range: ByteRange | undefined): { readonly start: number; readonly length: number } => {
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
  new FileError({ reason: "Truncated", path: file.path, message: `file ended after ${sent} of ${length} bytes` })

/** `length` bytes from `start` of a file held in memory, as views of at most chunkSize bytes. */
const chunksOf = (whole: Uint8Array, start: number, length: number): Stream.Stream<Uint8Array> => {
  const views: Array<Uint8Array> = []
  for (let at = start; at < start + length; at += chunkSize) {
    views.push(whole.subarray(at, Math.min(at + chunkSize, start + length)))
  }
  return Stream.fromIterable(views)
}

/** Reading the files StaticFiles looked up, through FileAccess. */
export const makeReader = (files: FileAccess["Type"], kept: KeptBytes | undefined): FileReader => {
  /** Files above chunkSize whose whole content is being read for the cache, and their bytes in all. */
  const loading = new Set<FileEntry>()
  let loadingBytes = 0
  const open = (file: FileEntry) =>
    Effect.acquireRelease(
      Effect.mapError(files.open(file.path), (error) => fileErrorOf(file.path, error)),
      files.close
    )

  /** Starts reading into `buffer` at `position`; the effect given waits for the bytes read. */
  const startRead = (file: FileEntry, handle: OpenFile, buffer: Uint8Array, position: number) =>
    Effect.map(files.startRead(handle, buffer, position), (pending) =>
      Effect.mapBoth(pending, {
        onFailure: (error) => fileErrorOf(file.path, error),
        onSuccess: (size) => buffer.subarray(0, size)
      }))

  const read = (file: FileEntry, range?: ByteRange): Effect.Effect<Uint8Array, FileError> => {
    // a whole file kept in memory is answered at once, as an Exit (see effectNow.ts)
    const whole = range === undefined ? kept?.bytesOf(file) : undefined
    return whole !== undefined ? Exit.succeed(whole) : readSpan(file, range)
  }

  const readSpan = (file: FileEntry, range?: ByteRange): Effect.Effect<Uint8Array, FileError> =>
    Effect.suspend(() => {
      const { length, start } = spanOf(file, range)
      if (length > chunkSize) {
        return Effect.die(new RangeError(`read of ${length} bytes: stream anything over ${chunkSize}`))
      }
      if (length === 0) return Effect.succeed(new Uint8Array(0))
      const cached = kept?.bytesOf(file)
      if (cached !== undefined) {
        return Effect.succeed(length === file.size ? cached : cached.subarray(start, start + length))
      }
      if (kept !== undefined && length < file.size && file.size <= chunkSize) {
        // a range of a small file: read it whole once, so later requests for it need no read
        return Effect.map(read(file), (whole) => whole.subarray(start, start + length))
      }
      // exactly `length` bytes are asked for: a file that grew since lookup is cut to the length announced
      return files.readSpan(file.path, start, length).pipe(
        Effect.mapError((error) => fileErrorOf(file.path, error)),
        Effect.flatMap((bytes) => {
          if (bytes.length < length) return Effect.fail(shortRead(file, bytes.length, length))
          if (length === file.size) kept?.keep(file, bytes)
          return Effect.succeed(bytes)
        })
      )
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
    // A file the cache holds (or would keep) takes no read from disk: its bytes are handed out in
    // chunks of at most chunkSize, views of the one copy kept, so the response copies nothing.
    const cached = kept?.bytesOf(file)
    if (cached !== undefined) return chunksOf(cached, start, length)
    if (
      kept !== undefined && kept.wants(file) && !loading.has(file) && loadingBytes + file.size <= MAX_LOADING_BYTES
    ) {
      loading.add(file)
      loadingBytes += file.size
      const load = files.readSpan(file.path, 0, file.size).pipe(
        Effect.mapError((error) => fileErrorOf(file.path, error)),
        Effect.flatMap((bytes) => {
          if (bytes.length < file.size) return Effect.fail(shortRead(file, bytes.length, file.size))
          kept.keep(file, bytes)
          return Effect.succeed(chunksOf(bytes, start, length))
        }),
        Effect.ensuring(Effect.sync(() => {
          loading.delete(file)
          loadingBytes -= file.size
        }))
      )
      return Stream.unwrap(load)
    }
    // Pulled from the open file, one chunk per pull: nothing is read before
    // the consumer asks, and the file closes with the stream.
    return Stream.unwrapScoped(Effect.gen(function*() {
      const handle = yield* open(file)
      let sent = 0
      /** The last read started; the file is not closed before it is done. */
      let lastStarted: Effect.Effect<unknown, unknown> = Effect.void
      // added after the file is opened, so run before it closes: a read in flight finishes first
      yield* Effect.addFinalizer(() => Effect.ignore(Effect.suspend(() => lastStarted)))
      const begin = (buffer: Uint8Array, position: number) =>
        Effect.map(startRead(file, handle, buffer, position), (pending) => (lastStarted = pending))
      const ended = (got: number) => got === 0 ? Effect.fail(Option.some(shortRead(file, sent, length))) : undefined
      if (options?.reuseBuffer !== true) {
        return Stream.repeatEffectOption(Effect.suspend(() => {
          if (sent >= length) return Effect.fail(Option.none())
          const buffer = new Uint8Array(Math.min(chunkSize, length - sent))
          return Effect.flatten(begin(buffer, start + sent)).pipe(
            Effect.mapError(Option.some),
            Effect.flatMap((chunk) => {
              const short = ended(chunk.length)
              if (short !== undefined) return short
              sent += chunk.length
              return Effect.succeed(chunk)
            })
          )
        }))
      }
      // Two buffers for the whole response, no allocation per chunk. While the
      // consumer writes one chunk, the next is read into the other buffer, so
      // the socket does not wait on the disk; the read ahead starts only when
      // the consumer pulls, so it is one chunk ahead at most.
      const buffers = [new Uint8Array(streamChunkSize), new Uint8Array(streamChunkSize)] as const
      let next = 0
      /** The read started ahead, if the consumer has not taken it yet: it gives the bytes it read. */
      let ahead: Effect.Effect<Uint8Array, FileError> | undefined
      /** Starts reading the next chunk at once; the effect returned waits for it. */
      const startNext = (): Effect.Effect<Effect.Effect<Uint8Array, FileError>> => {
        const buffer = buffers[next]!.subarray(0, Math.min(streamChunkSize, length - sent))
        next ^= 1
        return begin(buffer, start + sent)
      }
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
    }))
  }

  return { read, stream }
}
