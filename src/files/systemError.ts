import { SystemError, type SystemErrorReason } from "@effect/platform/Error"

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
 * A failed node:fs call as the platform reports it. A missing path is the
 * common case (every 404), so the error is built without schema validation
 * and without a stack trace (it would show only the callback): both cost more
 * than the system call.
 */
export const systemError = (method: string, path: string, error: NodeJS.ErrnoException): SystemError => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new SystemError({
      reason: reasonOf(error.code),
      module: "FileSystem",
      method,
      pathOrDescriptor: path,
      description: error.message,
      cause: error,
      ...(error.syscall === undefined ? {} : { syscall: error.syscall })
    }, { disableValidation: true })
  } finally {
    Error.stackTraceLimit = limit
  }
}
