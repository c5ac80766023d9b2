/**
 * Byte classes of the HTTP/1.1 grammar (RFC 9110 section 5.6, RFC 9112,
 * RFC 3986) as lookup tables, and a Latin-1 decoder for field text. Parsers
 * test one table entry per byte instead of chains of comparisons.
 */

export const HTAB = 0x09
export const LF = 0x0a
export const CR = 0x0d
export const SP = 0x20
export const COLON = 0x3a
export const SEMICOLON = 0x3b

const table = (accept: (b: number) => boolean): Uint8Array => {
  const t = new Uint8Array(256)
  // Stryker disable next-line EqualityOperator: equivalent, a typed array ignores a write at index 256
  for (let b = 0; b < 256; b++) t[b] = accept(b) ? 1 : 0
  return t
}

const isAlnum = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)

const inSet = (chars: string) => (b: number): boolean => chars.includes(String.fromCharCode(b))

/** tchar: the characters of a token (method, field name, transfer coding). */
export const TOKEN = table((b) => isAlnum(b) || inSet("!#$%&'*+-.^_`|~")(b))

/**
 * Bytes allowed inside a field value: HTAB, SP, VCHAR and obs-text.
 * Everything else (NUL, CR, LF, other controls, DEL) is rejected.
 */
export const FIELD_VALUE = table((b) => b === HTAB || (b >= 0x20 && b !== 0x7f))

/**
 * The URI character set of RFC 3986 (unreserved, reserved and "%") less "#":
 * what a request target may contain (no form of it carries a fragment).
 * Space, controls, `"#<>\^`{|}` and non-ASCII bytes are rejected rather than
 * guessed at.
 */
export const URI = table((b) => isAlnum(b) || inSet("-._~:/?[]@!$&'()*+,;=%")(b))

/** reg-name characters other than pct-encoded (RFC 3986): unreserved and sub-delims. */
export const REG_NAME = table((b) => isAlnum(b) || inSet("-._~!$&'()*+,;=")(b))

/** Reason phrase: HTAB, SP, VCHAR, obs-text (same as a field value). */
export const REASON = FIELD_VALUE

/** Hex digit values, -1 for anything else. */
export const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1)
  // Stryker disable next-line EqualityOperator: equivalent, a typed array ignores a write at index 256
  for (let b = 0; b < 256; b++) {
    if (b >= 0x30 && b <= 0x39) t[b] = b - 0x30
    else if (b >= 0x41 && b <= 0x46) t[b] = b - 0x41 + 10
    else if (b >= 0x61 && b <= 0x66) t[b] = b - 0x61 + 10
  }
  return t
})()

export const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39

type Decode = (bytes: Uint8Array, start: number, end: number) => string

const nativeLatin1 = (globalThis as { Buffer?: { prototype: { latin1Slice?: unknown } } }).Buffer?.prototype
  .latin1Slice as ((this: Uint8Array, start: number, end: number) => string) | undefined

/** `latin1` in plain JavaScript, for runtimes without Node's decoder. */
export const latin1Portable: Decode = (bytes, start, end) => {
  let s = ""
  // Stryker disable next-line EqualityOperator: equivalent, a pass at i === end adds the empty string
  for (let i = start; i < end; i += 4096) {
    const part = bytes.subarray(i, Math.min(end, i + 4096))
    s += String.fromCharCode.apply(null, part as unknown as Array<number>)
  }
  return s
}

/**
 * Latin-1 text of `bytes[start, end)`: each byte is one UTF-16 code unit, as
 * RFC 9110 treats field octets. Node's native decoder takes any Uint8Array
 * and is several times faster than building the string in JavaScript.
 */
// Stryker disable next-line ConditionalExpression: equivalent, both decoders give the same text
export const latin1: Decode = nativeLatin1 !== undefined
  ? (bytes, start, end) => nativeLatin1.call(bytes, start, end)
  : latin1Portable

/** How much text a `TextWindow` decodes at once: a typical head in one go. */
const WINDOW = 1024

/**
 * Decodes field text a window at a time and hands out slices of it: one
 * native call per head instead of two per field line, and slices of a flat
 * string are cheap. `reset` must be called whenever the bytes behind the
 * window may have changed (a new input, a refilled line buffer).
 */
export class TextWindow {
  private source: Uint8Array | undefined = undefined
  private base = 0
  // Stryker disable next-line StringLiteral: equivalent, read only while source is set, which decodes it first
  private text = ""

  reset(): void {
    this.source = undefined
  }

  slice(bytes: Uint8Array, start: number, end: number): string {
    // Stryker disable next-line EqualityOperator,ConditionalExpression,ArithmeticOperator: equivalent, decoding again gives the same text
    if (bytes !== this.source || start < this.base || end > this.base + this.text.length) {
      this.source = bytes
      this.base = start
      // Stryker disable next-line ArithmeticOperator: equivalent, a smaller window only decodes more often
      this.text = latin1(bytes, start, Math.min(bytes.length, Math.max(end, start + WINDOW)))
    }
    return this.text.slice(start - this.base, end - this.base)
  }
}

/**
 * Whether `bytes[start, start + lower.length)` equals `lower` ignoring ASCII
 * case. `lower` must be lowercase letters and "-" (header names we act on);
 * OR-ing 0x20 folds case and maps no other token byte onto those.
 */
export const equalsLower = (bytes: Uint8Array, start: number, lower: string): boolean => {
  for (let i = 0; i < lower.length; i++) {
    if ((bytes[start + i]! | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/**
 * `text` with its control characters (C0, DEL, C1: line breaks, terminal
 * escapes) written as `\xHH`, so that text from a peer can neither end a
 * line of output nor drive the terminal.
 */
export const escapeControls = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"))
