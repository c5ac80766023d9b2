import { CR, isDigit } from "./chars.ts"
import type { ParseErrorCode } from "./errors.ts"
import type { HttpVersion } from "./message.ts"

export const HTTP_1_0: HttpVersion = { major: 1, minor: 0 }
export const HTTP_1_1: HttpVersion = { major: 1, minor: 1 }

/**
 * `bytes[start, end)` as an HTTP-version: exactly "HTTP/" DIGIT "." DIGIT,
 * case-sensitive (RFC 9112 section 2.3). A well-formed version with a major
 * other than 1 is "not supported" (505); anything else is malformed (400).
 */
export const parseVersion = (bytes: Uint8Array, start: number, end: number): HttpVersion | ParseErrorCode => {
  if (
    end - start !== 8 ||
    bytes[start] !== 0x48 ||
    bytes[start + 1] !== 0x54 ||
    bytes[start + 2] !== 0x54 ||
    bytes[start + 3] !== 0x50 ||
    bytes[start + 4] !== 0x2f ||
    !isDigit(bytes[start + 5]!) ||
    bytes[start + 6] !== 0x2e ||
    !isDigit(bytes[start + 7]!)
  ) {
    for (let i = start; i < end; i++) if (bytes[i] === CR) return "BareCR"
    return "InvalidVersion"
  }
  const major = bytes[start + 5]! - 0x30
  const minor = bytes[start + 7]! - 0x30
  if (major !== 1) return "VersionNotSupported"
  // the versions every message has are shared objects: no allocation per message
  if (minor === 1) return HTTP_1_1
  if (minor === 0) return HTTP_1_0
  // A later 1.x is answered as the highest 1.x we implement (RFC 9110 section 2.5).
  return { major, minor }
}
