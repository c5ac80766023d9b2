import { Data } from "effect"
import { FIELD_VALUE, HTAB, REASON, SP, TOKEN, URI } from "./chars.ts"
import type { Headers } from "./Headers.ts"
import type { HttpVersion } from "./message.ts"
import { isTargetFor } from "./target.ts"

/**
 * A head that cannot be written without changing its meaning: a name that is
 * not a token, a value with CR, LF, NUL or another control (header
 * injection), a character above U+00FF, surrounding whitespace... The
 * serializers reject rather than sanitize, so nothing is sent that differs
 * from what the caller asked for. Code that builds heads from untrusted text
 * (command-line headers) checks it first with `checkField`.
 */
export class InvalidHeadError extends Data.TaggedError("InvalidHeadError")<{
  readonly message: string
}> {}

export type FieldList = Headers | ReadonlyArray<readonly [name: string, value: string]>

export interface RequestHeadInit {
  readonly method: string
  readonly target: string
  /** Default HTTP/1.1. */
  readonly version?: HttpVersion
  readonly headers: FieldList
}

export interface ResponseHeadInit {
  readonly status: number
  /** Default: the standard phrase for the status (or empty). */
  readonly reason?: string
  /** Default HTTP/1.1. */
  readonly version?: HttpVersion
  readonly headers: FieldList
}

const entriesOf = (headers: FieldList): ReadonlyArray<readonly [string, string]> =>
  isFieldArray(headers) ? headers : headers.entries

const isFieldArray = (headers: FieldList): headers is ReadonlyArray<readonly [string, string]> => Array.isArray(headers)

const isToken = (text: string): boolean => {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // above 0xFF a table lookup is undefined, no token either
    if (TOKEN[c] !== 1) return false
  }
  return true
}

const allIn = (text: string, table: Uint8Array): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (table[c] !== 1) return false
  }
  return true
}

const isWhitespace = (c: number): boolean => c === SP || c === HTAB

/** Why `name: value` cannot be sent, or undefined if it can. */
export const checkField = (name: string, value: string): InvalidHeadError | undefined => {
  if (!isToken(name)) return new InvalidHeadError({ message: `invalid field name ${JSON.stringify(name)}` })
  if (
    // of an empty value charCodeAt gives NaN, no whitespace
    !allIn(value, FIELD_VALUE) || isWhitespace(value.charCodeAt(0)) || isWhitespace(value.charCodeAt(value.length - 1))
  ) {
    return new InvalidHeadError({ message: `invalid value for field ${name}: ${JSON.stringify(value)}` })
  }
  return undefined
}

const versionText = (version: HttpVersion | undefined): string =>
  version === undefined ? "HTTP/1.1" : `HTTP/${version.major}.${version.minor}`

const fieldsText = (headers: FieldList): string => {
  let text = ""
  for (const [name, value] of entriesOf(headers)) {
    const invalid = checkField(name, value)
    if (invalid !== undefined) throw invalid
    text += name + ": " + value + "\r\n"
  }
  return text + "\r\n"
}

/**
 * The request line and header section as bytes. Throws InvalidHeadError for
 * a method that is not a token, a target outside the URI character set or of
 * a form the method cannot use (see `isTargetFor`), or an invalid field (see
 * `checkField`).
 */
export const serializeRequestHead = (head: RequestHeadInit): Uint8Array => {
  if (!isToken(head.method)) throw new InvalidHeadError({ message: `invalid method ${JSON.stringify(head.method)}` })
  if (!allIn(head.target, URI) || !isTargetFor(head.method, head.target)) {
    throw new InvalidHeadError({ message: `invalid request target ${JSON.stringify(head.target)}` })
  }
  return latin1Bytes(`${head.method} ${head.target} ${versionText(head.version)}\r\n${fieldsText(head.headers)}`)
}

/**
 * The status line and header section as bytes. Throws InvalidHeadError for a
 * status outside 100-999, a reason with controls, or an invalid field.
 */
export const serializeResponseHead = (head: ResponseHeadInit): Uint8Array => {
  const status = head.status
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new InvalidHeadError({ message: `invalid status ${status}` })
  }
  const reason = head.reason ?? reasonPhrase(status)
  if (!allIn(reason, REASON)) throw new InvalidHeadError({ message: `invalid reason ${JSON.stringify(reason)}` })
  return latin1Bytes(`${versionText(head.version)} ${status} ${reason}\r\n${fieldsText(head.headers)}`)
}

const encoder = new TextEncoder()

/** Text whose characters are all <= U+00FF as one byte each. */
const latin1Bytes = (text: string): Uint8Array => {
  const bytes = encoder.encode(text)
  // UTF-8 and Latin-1 agree unless some character is above U+007F.
  // Stryker disable next-line ConditionalExpression: equivalent, the copy below gives the same bytes, only slower
  if (bytes.length === text.length) return bytes
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i)
  return out
}

export const CRLF: Uint8Array = Uint8Array.of(0x0d, 0x0a)

/** The last chunk and an empty trailer section: the end of a chunked body. */
export const LAST_CHUNK: Uint8Array = latin1Bytes("0\r\n\r\n")

/**
 * The size line that precedes `size` bytes of chunk data. Write it, the data,
 * then CRLF: the data itself is never copied.
 */
export const chunkHeader = (size: number): Uint8Array => {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`chunk size must be positive, got ${size}`)
  return latin1Bytes(size.toString(16) + "\r\n")
}

/** One chunk (size line, data, CRLF) in a single buffer, for small data. */
export const encodeChunk = (data: Uint8Array): Uint8Array => {
  const header = chunkHeader(data.length)
  const out = new Uint8Array(header.length + data.length + 2)
  out.set(header, 0)
  out.set(data, header.length)
  out.set(CRLF, header.length + data.length)
  return out
}

/** The last chunk followed by `trailers` (validated like header fields). */
export const encodeLastChunk = (trailers?: FieldList): Uint8Array =>
  trailers === undefined ? LAST_CHUNK : latin1Bytes("0\r\n" + fieldsText(trailers))

const reasons: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported"
}

/** The standard reason phrase of `status` (RFC 9110 section 15), or "". */
export const reasonPhrase = (status: number): string => reasons[status] ?? ""
