import type { SystemError } from "@effect/platform/Error"
import { Context, Effect, Exit, Layer } from "effect"
import * as NFS from "node:fs"
import { systemError } from "./systemError.ts"

/**
 * Reads `length` bytes at `start` of the file at `path` with open, one
 * positioned read and close chained in node:fs callbacks: three thread-pool
 * round trips and one effect. Through FileSystem the same read is an open,
 * a read and a close as scoped effects, or readFile with an fstat more.
 * Fewer bytes come back only if the file ends first.
 */
const read = (path: string, start: number, length: number): Effect.Effect<Uint8Array, SystemError> =>
  Effect.async<Uint8Array, SystemError>((resume) => {
    NFS.open(path, "r", (openError, fd) => {
      if (openError !== null) return resume(Effect.fail(systemError("open", path, openError)))
      // not from Node's shared pool: a small file kept by the cache would pin a whole 8 KiB slab
      const buffer = Buffer.allocUnsafeSlow(length)
      NFS.read(fd, buffer, 0, length, start, (readError, bytesRead) => {
        // The descriptor is closed whatever happens to the fiber that asked.
        NFS.close(fd, () => {
          resume(
            readError === null
              ? Effect.succeed(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
              : Effect.fail(systemError("read", path, readError))
          )
        })
      })
    })
  })

/**
 * Starts reading `buffer.length` bytes at `position` of the open descriptor
 * `fd` into `buffer` at once, in a node:fs callback (no fiber); the effect
 * returned waits for the count read (fewer only at the end of the file), and
 * may be run any number of times.
 */
const startRead = (fd: number, buffer: Uint8Array, position: number): Effect.Effect<number, SystemError> => {
  let outcome: Exit.Exit<number, SystemError> | undefined
  const waiting = new Set<(exit: Exit.Exit<number, SystemError>) => void>()
  NFS.read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => {
    outcome = error === null ? Exit.succeed(bytesRead) : Exit.fail(systemError("read", `descriptor ${fd}`, error))
    for (const resume of waiting) resume(outcome)
    waiting.clear()
  })
  return Effect.suspend(() =>
    outcome ?? Effect.async<number, SystemError>((resume) => {
      waiting.add(resume)
      return Effect.sync(() => void waiting.delete(resume))
    })
  )
}

/**
 * Optional: StaticFiles reads whole small responses through it when present,
 * and through FileSystem otherwise (as with a fake file system in tests).
 */
export class SpanReader extends Context.Tag("fiberhttp/files/SpanReader")<
  SpanReader,
  {
    readonly read: (path: string, start: number, length: number) => Effect.Effect<Uint8Array, SystemError>
    /** Large responses stream through it, the next chunk read while the last is written. */
    readonly startRead: (fd: number, buffer: Uint8Array, position: number) => Effect.Effect<number, SystemError>
  }
>() {}

export const layer: Layer.Layer<SpanReader> = Layer.succeed(SpanReader, { read, startRead })
