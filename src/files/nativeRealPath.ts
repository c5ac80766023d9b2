import { FileSystem } from "@effect/platform"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { Effect, Layer } from "effect"
import * as NFS from "node:fs"

const reasonOf = (code: string | undefined): SystemErrorReason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
      return "PermissionDenied"
    case "ENOTDIR":
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    default:
      return "Unknown"
  }
}

/**
 * The failure as the platform reports it. A missing path is the common case
 * (every 404), so the error is built without schema validation and without a
 * stack trace (it would show only this callback): both cost more than the
 * system call.
 */
const failure = (path: string, error: NodeJS.ErrnoException): SystemError => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new SystemError({
      reason: reasonOf(error.code),
      module: "FileSystem",
      method: "realPath",
      pathOrDescriptor: path,
      description: error.message,
      cause: error,
      ...(error.syscall === undefined ? {} : { syscall: error.syscall })
    }, { disableValidation: true })
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** realpath(3): one system call, where Node's default realpath lstat()s every component of the path in turn. */
const realPath = (path: string): Effect.Effect<string, SystemError> =>
  Effect.async<string, SystemError>((resume) => {
    NFS.realpath.native(path, (error, resolved) => {
      resume(error === null ? Effect.succeed(resolved) : Effect.fail(failure(path, error)))
    })
  })

/**
 * The FileSystem below, with `realPath` done by the operating system in one
 * call. Lookups resolve a path on every request; the default costs a
 * thread-pool round trip per path component.
 */
export const layer: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (fs) => ({ ...fs, realPath }))
)
