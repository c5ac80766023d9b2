import type { FileEntry } from "../files/StaticFiles.ts"
import { parseHttpDate } from "../http/date.ts"
import type { RequestHead } from "../http/message.ts"
import { trimOws } from "../http/ows.ts"

type Request = Pick<RequestHead, "headers">
type File = Pick<FileEntry, "mtime">

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

/**
 * A header's HTTP date in whole seconds; NaN when it is not one, which no
 * comparison accepts: a precondition with an unreadable date does not hold.
 */
const secondsOf = (header: string): number => Math.floor((parseHttpDate(header) ?? NaN) / 1000)

/** Whether a 304 answers the request's preconditions (If-None-Match wins over If-Modified-Since). */
export const notModified = (head: Request, file: File, etag: string): boolean => {
  const inm = head.headers.get("If-None-Match")
  if (inm !== undefined) return noneMatch(inm, etag)
  const ims = head.headers.get("If-Modified-Since")
  // Stryker disable next-line ConditionalExpression: equivalent, parseHttpDate finds no date in a missing header either
  if (ims === undefined) return false
  return seconds(file.mtime) <= secondsOf(ims)
}

/**
 * If-Range: the Range applies only to the representation the client already
 * has: the same ETag (strong comparison, so a weak tag never matches) or the
 * same Last-Modified second (RFC 9110 13.1.5).
 */
export const rangeStillValid = (head: Request, file: File, etag: string): boolean => {
  const ifRange = head.headers.get("If-Range")
  if (ifRange === undefined) return true
  const value = trimOws(ifRange)
  return value === etag || secondsOf(value) === seconds(file.mtime)
}
