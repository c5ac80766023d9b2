import { isDigit, TOKEN } from "./chars.ts"
import type { ParseErrorCode } from "./errors.ts"
import type { FieldSection } from "./fields.ts"
import { listHasToken } from "./Headers.ts"
import type { BodyFraming, HttpVersion } from "./message.ts"
import { isOws, trimOws } from "./ows.ts"

/**
 * Message framing (RFC 9112 section 6) from the Content-Length and
 * Transfer-Encoding fields, shared by both parsers. Anything that could let
 * two parties disagree on where a message ends is rejected.
 */

export const NO_BODY: BodyFraming = { _tag: "None" }
export const CHUNKED: BodyFraming = { _tag: "Chunked" }
export const UNTIL_CLOSE: BodyFraming = { _tag: "UntilClose" }

/**
 * The body length from every Content-Length value: each a list of one or
 * more identical decimal numbers (RFC 9110 section 8.6 allows "42, 42").
 * Signs, spaces inside, hex, empty elements and values past 2^53 are invalid.
 */
export const contentLength = (values: ReadonlyArray<string>): number | ParseErrorCode => {
  let length = -1
  for (const value of values) {
    let i = 0
    const n = value.length
    for (;;) {
      while (isOws(value.charCodeAt(i))) i++
      const start = i
      let parsed = 0
      while (isDigit(value.charCodeAt(i))) {
        parsed = parsed * 10 + (value.charCodeAt(i) - 0x30)
        i++
      }
      if (i === start || parsed > Number.MAX_SAFE_INTEGER) return "InvalidContentLength"
      if (length !== -1 && parsed !== length) return "ConflictingContentLength"
      length = parsed
      while (isOws(value.charCodeAt(i))) i++
      if (i === n) break
      if (value.charCodeAt(i) !== 0x2c) return "InvalidContentLength"
      i++
    }
  }
  return length
}

/**
 * Checks a Transfer-Encoding list: codings are tokens (parameters allowed,
 * except on `chunked`), `chunked` must be the last one and appear once, and no other coding is
 * understood here (so anything else is "not implemented").
 */
export const transferCoding = (values: ReadonlyArray<string>): ParseErrorCode | undefined => {
  const codings = codingsOf(values)
  if (typeof codings === "string") return codings
  const chunkedAt = codings.indexOf("chunked")
  if (chunkedAt === -1 || chunkedAt !== codings.length - 1) return "ChunkedNotLast"
  if (codings.length > 1) return "UnknownTransferCoding"
  return undefined
}

/** The codings of a Transfer-Encoding list, lower-cased, parameters dropped; or why the list is malformed. */
const codingsOf = (values: ReadonlyArray<string>): Array<string> | "InvalidTransferEncoding" => {
  const codings: Array<string> = []
  for (const value of values) {
    for (const element of value.split(",")) {
      const [name, ...parameters] = element.split(";")
      // Only OWS is trimmed: String.trim would also drop NBSP (0xA0) and read
      // "chunked\xA0" as chunked where other parsers see an unknown coding.
      const coding = trimOws(name!).toLowerCase()
      if (coding === "") {
        if (trimOws(element) === "") continue
        return "InvalidTransferEncoding"
      }
      // chunked takes no parameters; one there is a sign of a confused sender.
      if (coding === "chunked" && parameters.length > 0) return "InvalidTransferEncoding"
      for (let i = 0; i < coding.length; i++) {
        if (TOKEN[coding.charCodeAt(i)] !== 1) return "InvalidTransferEncoding"
      }
      codings.push(coding)
    }
  }
  return codings
}

/** Framing of a request: chunked, Content-Length, or no body. */
export const requestFraming = (
  fields: FieldSection,
  version: HttpVersion,
  maxBodySize: number
): BodyFraming | ParseErrorCode => bodyFraming(fields, version, maxBodySize, NO_BODY)

/**
 * Framing of a response (RFC 9112 section 6.3): none for HEAD, 1xx, 204 and
 * 304; otherwise chunked, Content-Length, or everything until the close.
 */
export const responseFraming = (
  fields: FieldSection,
  version: HttpVersion,
  status: number,
  requestMethod: string,
  maxBodySize: number
): BodyFraming | ParseErrorCode => {
  if (status < 200 || status === 204 || status === 304 || requestMethod === "HEAD") return NO_BODY
  const te = fields.transferEncoding
  if (te !== undefined && version.minor !== 0 && fields.contentLength === undefined) {
    // A response may carry codings a client does not undo: chunked last frames the
    // body (the other codings pass through as they are); without chunked last, the
    // body runs until the close (RFC 9112 section 6.3, item 4). Chunked twice stays an error.
    const codings = codingsOf(te)
    if (typeof codings === "string") return codings
    const chunked = codings.filter((coding) => coding === "chunked").length
    if (chunked === 0 || (chunked === 1 && codings[codings.length - 1] !== "chunked")) return UNTIL_CLOSE
    if (chunked === 1) return CHUNKED
    return "ChunkedNotLast"
  }
  return bodyFraming(fields, version, maxBodySize, UNTIL_CLOSE)
}

/** Transfer-Encoding (chunked only), else Content-Length, else `otherwise`. */
const bodyFraming = (
  fields: FieldSection,
  version: HttpVersion,
  maxBodySize: number,
  otherwise: BodyFraming
): BodyFraming | ParseErrorCode => {
  if (fields.transferEncoding !== undefined) {
    if (version.minor === 0) return "TransferEncodingInHttp10"
    if (fields.contentLength !== undefined) return "ContentLengthWithTransferEncoding"
    return transferCoding(fields.transferEncoding) ?? CHUNKED
  }
  if (fields.contentLength !== undefined) return lengthFraming(fields.contentLength, maxBodySize)
  return otherwise
}

const lengthFraming = (values: ReadonlyArray<string>, maxBodySize: number): BodyFraming | ParseErrorCode => {
  const length = contentLength(values)
  if (typeof length === "string") return length
  if (length > maxBodySize) return "BodyTooLarge"
  return { _tag: "ContentLength", length }
}

/**
 * Whether the connection persists after this message (RFC 9112 section 9.3):
 * "close" ends it; otherwise HTTP/1.1 persists and HTTP/1.0 only with
 * "keep-alive".
 */
export const keepAlive = (version: HttpVersion, connection: ReadonlyArray<string> | undefined): boolean => {
  let keep = false
  if (connection !== undefined) {
    for (const value of connection) {
      if (listHasToken(value, "close")) return false
      keep ||= listHasToken(value, "keep-alive")
    }
  }
  return version.minor >= 1 || keep
}
