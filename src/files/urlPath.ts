/**
 * Decoding of a request target's path into file-system-safe segments.
 *
 * Pure and synchronous: no file system here. The rules, in order:
 * - The input is the origin-form path (it must start with "/"). Anything from
 *   the first "?" on is the query and is dropped here, so callers may pass the
 *   whole origin-form target.
 * - A path (query excluded) over 16 KiB is Refused: no file system has such
 *   a name, and the work below stays bounded whatever the caller passes.
 * - Raw characters must be visible ASCII (0x21-0x7E); anything else is Invalid.
 * - The path is split on the raw "/" first, then each segment is
 *   percent-decoded exactly once, as UTF-8 (strict: malformed escapes, invalid
 *   or overlong UTF-8 and NUL are Invalid). A "%252e" therefore becomes the
 *   literal name "%2e", never ".".
 * - A "/" that appears in a segment after decoding is Refused (404): it must
 *   never act as a separator, and no file can have such a name. So is a raw
 *   "\" (clients that write one mean a separator), and, where "\" separates
 *   paths (Windows: `backslashIsSeparator`), a decoded one. Elsewhere "%5C"
 *   is an ordinary byte of a name ("back\slash.txt" is one file on POSIX).
 * - Empty segments ("//") and "." are dropped; ".." removes the previous
 *   segment, and a ".." with nothing left to remove (an escape above the root)
 *   is Refused. Dot segments count after decoding too ("%2e%2E").
 * - A remaining segment that starts with "." is Refused unless dotfiles are on.
 * - A trailing "/" (or a final "." or "..") is remembered: a directory asked
 *   for without it gets redirected.
 */

export interface DecodedPath {
  readonly _tag: "Path"
  /** Decoded, normalized names under the root; empty for the root itself. */
  readonly segments: ReadonlyArray<string>
  readonly trailingSlash: boolean
  /**
   * The normalized path in its original percent-encoding, starting with a
   * single "/" and without the query, e.g. "/docs/%C3%A9t%C3%A9". Safe to use
   * as a redirect target: it can never start with "//".
   */
  readonly encoded: string
}

export type RefusedReason = "Traversal" | "EncodedSeparator" | "Backslash" | "Dotfile" | "TooLong"

/** A path that names nothing we would serve: 404. */
export interface RefusedPath {
  readonly _tag: "Refused"
  readonly reason: RefusedReason
}

/** A path that cannot be decoded safely: 400. */
export interface InvalidUrlPath {
  readonly _tag: "Invalid"
  readonly message: string
}

export type UrlPathResult = DecodedPath | RefusedPath | InvalidUrlPath

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const invalid = (message: string): InvalidUrlPath => ({ _tag: "Invalid", message })
const refused = (reason: RefusedReason): RefusedPath => ({ _tag: "Refused", reason })

const HEX_DIGITS = "0123456789abcdef"

/** The value of a hex digit in either case; -1 for anything else (NaN too: its character is NUL). */
const hexValue = (code: number): number => HEX_DIGITS.indexOf(String.fromCharCode(code).toLowerCase())

/** Percent-decodes one raw segment (already checked to be visible ASCII). */
const decodeSegment = (raw: string): string | InvalidUrlPath => {
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, ASCII without "%" decodes to itself
  if (!raw.includes("%")) return raw
  const bytes = new Uint8Array(raw.length)
  let length = 0
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code !== 0x25) {
      bytes[length++] = code
      continue
    }
    // past the end charCodeAt is NaN, which is no hex digit either
    const high = hexValue(raw.charCodeAt(i + 1))
    const low = hexValue(raw.charCodeAt(i + 2))
    if (high < 0 || low < 0) return invalid(`malformed percent-escape at ${JSON.stringify(raw.slice(i, i + 3))}`)
    const byte = high * 16 + low
    if (byte === 0) return invalid("NUL in path")
    bytes[length++] = byte
    i += 2
  }
  try {
    return utf8.decode(bytes.subarray(0, length))
  } catch {
    return invalid("path is not valid UTF-8")
  }
}

/** Longest raw path decoded: PATH_MAX (4096 bytes on Linux) percent-encoded, with room to spare. */
const MAX_PATH_LENGTH = 16 * 1024

export interface DecodeOptions {
  readonly dotfiles: boolean
  /** The file system takes "\" as a separator (Windows): a decoded one is Refused as well as a raw one. */
  readonly backslashIsSeparator?: boolean
}

export const decodeUrlPath = (target: string, options: DecodeOptions): UrlPathResult => {
  const queryAt = target.indexOf("?")
  const path = queryAt === -1 ? target : target.slice(0, queryAt)
  if (path.charCodeAt(0) !== 0x2f) return invalid("path must start with \"/\"")
  if (path.length > MAX_PATH_LENGTH) return refused("TooLong")
  // Stryker disable next-line EqualityOperator: equivalent, charCodeAt past the end is NaN, which passes both checks
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i)
    if (code < 0x21 || code > 0x7e) return invalid("path contains a character that must be percent-encoded")
  }

  // Decode every segment first, so an undecodable path is Invalid (400)
  // whatever else is wrong with it.
  // Stryker disable next-line MethodExpression: equivalent, the empty first segment is dropped as "//" would be
  const rawSegments = path.slice(1).split("/")
  const names: Array<string> = []
  for (const raw of rawSegments) {
    const name = decodeSegment(raw)
    if (typeof name !== "string") return name
    names.push(name)
  }

  const segments: Array<string> = []
  const encoded: Array<string> = []
  // Stryker disable next-line BooleanLiteral: equivalent, there is always a segment, and each sets it first
  let trailingSlash = false
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const raw = rawSegments[i]!
    // An empty or dot segment leaves the path ending like a directory; the
    // last segment decides.
    trailingSlash = true
    if (name.length === 0 || name === ".") continue
    if (raw.includes("\\") || (options.backslashIsSeparator === true && name.includes("\\"))) {
      return refused("Backslash")
    }
    if (name.includes("/")) return refused("EncodedSeparator")
    if (name === "..") {
      if (segments.length === 0) return refused("Traversal")
      segments.pop()
      encoded.pop()
      continue
    }
    segments.push(name)
    encoded.push(raw)
    trailingSlash = false
  }
  if (!options.dotfiles && segments.some((name) => name.startsWith("."))) return refused("Dotfile")
  return { _tag: "Path", segments, trailingSlash, encoded: "/" + encoded.join("/") }
}
