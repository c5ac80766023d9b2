import { HEX, isDigit, REG_NAME } from "./chars.ts"

/**
 * Syntax of the request-target forms (RFC 9112 section 3.2) and of the Host
 * field (RFC 9110 section 7.2), on text already limited to URI characters.
 */

const COLON = 0x3a

/**
 * Whether `value` is `uri-host [ ":" port ]` (RFC 3986 section 3.2.2):
 * a reg-name (unreserved, sub-delims, pct-encoded; possibly empty) or an IP
 * literal in brackets, then an optional port of digits. With `needPort`, the
 * port must be there and not empty (authority-form).
 */
export const isHostPort = (value: string, needPort: boolean): boolean => {
  // The scans need no bound: charCodeAt past the end is NaN, which is in no table.
  const n = value.length
  let i = 0
  if (value.charCodeAt(0) === 0x5b) {
    // IP-literal: IPv6address or IPvFuture; their characters, not their grammar.
    i = 1
    while (REG_NAME[value.charCodeAt(i)] === 1 || value.charCodeAt(i) === COLON) i++
    if (i === 1 || value.charCodeAt(i) !== 0x5d) return false
    i++
  } else {
    for (;;) {
      const c = value.charCodeAt(i)
      if (c === 0x25) {
        if (!(HEX[value.charCodeAt(i + 1)]! >= 0 && HEX[value.charCodeAt(i + 2)]! >= 0)) return false
        i += 3
      } else if (REG_NAME[c] === 1) {
        i++
      } else {
        break
      }
    }
  }
  if (i === n) return !needPort
  if (value.charCodeAt(i) !== COLON || (needPort && i + 1 === n)) return false
  for (i++; i < n; i++) if (!isDigit(value.charCodeAt(i))) return false
  return true
}

/**
 * Whether `target` is a form that `method` may use: CONNECT only
 * authority-form (`host:port`); otherwise origin-form (`/path?query`),
 * absolute-form (`scheme://...`: only hierarchical URIs, which is all HTTP
 * serves) or, for OPTIONS alone, asterisk-form (`*`).
 */
export const isTargetFor = (method: string, target: string): boolean => {
  if (method === "CONNECT") return isHostPort(target, true)
  const first = target.charCodeAt(0)
  if (first === 0x2f) return true
  if (first === 0x2a) return target.length === 1 && method === "OPTIONS"
  return schemeLength(target) > 0 && target.startsWith("://", schemeLength(target))
}

/** Length of the scheme at the start of `text`: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
const schemeLength = (text: string): number => {
  if (!isAlpha(text.charCodeAt(0))) return 0
  let i = 1
  // past the end charCodeAt is NaN, no scheme character
  while (isSchemeChar(text.charCodeAt(i))) i++
  return i
}

const isSchemeChar = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e

const isAlpha = (c: number): boolean => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a
