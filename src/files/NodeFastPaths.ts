import { FileSystem } from "@effect/platform"
import type { SystemError } from "@effect/platform/Error"
import { Effect, Layer } from "effect"
import * as NFS from "node:fs"
import * as FileStamps from "./FileStamp.ts"
import * as SpanReader from "./SpanReader.ts"
import { systemError } from "./systemError.ts"

/** realpath(3): one system call, where Node's default realpath lstat()s every component of the path in turn. */
const realPath = (path: string): Effect.Effect<string, SystemError> =>
  Effect.async<string, SystemError>((resume) => {
    NFS.realpath.native(path, (error, resolved) => {
      resume(error === null ? Effect.succeed(resolved) : Effect.fail(systemError("realPath", path, error)))
    })
  })

/**
 * The Node fast paths the server runs on: the FileSystem below, with `realPath` done by the operating system in one
 * call (lookups resolve a path on every request; the default costs a
 * thread-pool round trip per path component), together with a SpanReader
 * (small responses read in three round trips and one effect).
 */
export const layer: Layer.Layer<
  FileSystem.FileSystem | SpanReader.SpanReader | FileStamps.FileStamps,
  never,
  FileSystem.FileSystem
> = Layer.mergeAll(
  Layer.effect(FileSystem.FileSystem, Effect.map(FileSystem.FileSystem, (fs) => ({ ...fs, realPath }))),
  SpanReader.layer,
  FileStamps.layer
)
