import type { PlatformError } from "@effect/platform/Error"

const byCode: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  EEXIST: "already exists",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many symbolic links",
  EFBIG: "file too large",
  EIO: "input/output error"
}

const byReason: Record<string, string> = {
  NotFound: "no such file or directory",
  PermissionDenied: "permission denied",
  AlreadyExists: "already exists",
  BadResource: "not a regular file"
}

/**
 * Why a file operation failed, in a user's words: "no such file or
 * directory", "is a directory"; never the platform's internal names
 * (`NotFound: FileSystem.stat (/x): ENOENT: ...`).
 */
export const fileProblem = (error: PlatformError | Error): string => {
  const cause = (error as { cause?: unknown }).cause
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  if (typeof code === "string" && byCode[code] !== undefined) return byCode[code]
  const direct = (error as { code?: unknown }).code
  if (typeof direct === "string" && byCode[direct] !== undefined) return byCode[direct]
  const reason = (error as { reason?: unknown }).reason
  if (typeof reason === "string" && byReason[reason] !== undefined) return byReason[reason]
  const description = (error as { description?: unknown }).description
  return typeof description === "string" && description !== "" ? description : error.message
}
