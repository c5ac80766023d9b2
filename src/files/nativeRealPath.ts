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
 * realpath(3): one system call, where Node's default realpath lstat()s every
 * component of the path in turn. A missing path is the common failure (every
 * 404): the error is built without schema validation, which costs more than
 * the system call.
 */
const realPath = (path: string): Effect.Effect<string, SystemError> =>
  Effect.async<string, SystemError>((resume) => {
    NFS.realpath.native(path, (error, resolved) => {
      resume(
        error === null
          ? Effect.succeed(resolved)
          : Effect.fail(
            new SystemError({
              reason: reasonOf(error.code),
              module: "FileSystem",
              method: "realPath",
              pathOrDescriptor: path,
              description: error.message,
              cause: error,
              ...(error.syscall === undefined ? {} : { syscall: error.syscall })
            }, { disableValidation: true })
          )
      )
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
