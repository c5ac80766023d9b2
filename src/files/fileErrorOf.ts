import type { FileAccessError } from "./FileAccess.ts"
import { FileError } from "./StaticFiles.ts"

/** A failed file access as StaticFiles reports it to the server. */
export const fileErrorOf = (path: string, error: FileAccessError): FileError =>
  new FileError({
    reason: error.reason === "Denied" ? "Denied" : error.reason === "Exhausted" ? "Overloaded" : "Failed",
    path,
    message: error.message,
    cause: error
  })
