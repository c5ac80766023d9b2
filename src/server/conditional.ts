import type { FileEntry } from "../files/StaticFiles.ts"
import { parseHttpDate } from "../http/date.ts"
import type { RequestHead } from "../http/message.ts"
import { trimOws } from "../http/ows.ts"

/**
 * The conditional-request rules of a static file (RFC 9110 section 13): pure
 * functions of the request's headers, the file's mtime and its ETag.
 */

const opaque = (tag: string): string => (tag.startsWith("W/") ? tag.slice(2) : tag)

/** If-None-Match, weak comparison (RFC 9110 13.1.2). */
export const noneMatch = (header: string, etag: string): boolean => {
  if (trimOws(header) === "*") return true
  const mine = opaque(etag)
  return header.split(",").some((tag) => opaque(trimOws(tag)) === mine)
}

/** HTTP dates have whole seconds: an mtime is compared at that precision. */
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000)

/** Whether a 304 answers the request's preconditions (If-None-Match wins over If-Modified-Since). */
export const notModified = (head: RequestHead, file: FileEntry, etag: string): boolean => {
  const inm = head.headers.get("If-None-Match")
  if (inm !== undefined) return noneMatch(inm, etag)
  const ims = head.headers.get("If-Modified-Since")
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  return since !== undefined && seconds(file.mtime) <= Math.floor(since / 1000)
}

/** If-Range: the Range applies only to the representation the client already has (strong match). */
export const rangeStillValid = (head: RequestHead, file: FileEntry, etag: string): boolean => {
  const ifRange = head.headers.get("If-Range")
  if (ifRange === undefined) return true
  const value = trimOws(ifRange)
  if (value.startsWith("\"") || value.startsWith("W/")) return value === etag
  const date = parseHttpDate(value)
  return date !== undefined && Math.floor(date / 1000) === seconds(file.mtime)
}
