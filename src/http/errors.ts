import { Data } from "effect"

/**
 * Why a message was rejected. Each code maps to the status a server answers
 * with (see `statusOf`); the response parser reuses the codes that apply.
 */
export type ParseErrorCode =
  // start line
  | "InvalidRequestLine"
  | "InvalidMethod"
  | "InvalidTarget"
  | "UriTooLong"
  | "InvalidVersion"
  | "VersionNotSupported"
  | "InvalidStatusLine"
  // header section
  | "InvalidHeaderName"
  | "InvalidHeaderValue"
  | "WhitespaceBeforeColon"
  | "ObsFold"
  | "BareCR"
  | "BareLF"
  | "HeaderSectionTooLarge"
  | "TooManyHeaders"
  | "MissingHost"
  | "DuplicateHost"
  | "InvalidHost"
  // framing
  | "ContentLengthWithTransferEncoding"
  | "InvalidContentLength"
  | "ConflictingContentLength"
  | "ChunkedNotLast"
  | "UnknownTransferCoding"
  | "InvalidTransferEncoding"
  | "TransferEncodingInHttp10"
  | "InvalidChunkSize"
  | "ChunkSizeOverflow"
  | "ChunkExtensionTooLong"
  | "InvalidChunkExtension"
  | "InvalidChunkTerminator"
  | "BodyTooLarge"
  // end of input before the message ended (response parser, on close)
  | "Truncated"

const statusByCode: Readonly<Record<ParseErrorCode, number>> = {
  InvalidRequestLine: 400,
  InvalidMethod: 400,
  InvalidTarget: 400,
  UriTooLong: 414,
  InvalidVersion: 400,
  VersionNotSupported: 505,
  InvalidStatusLine: 400,
  InvalidHeaderName: 400,
  InvalidHeaderValue: 400,
  WhitespaceBeforeColon: 400,
  ObsFold: 400,
  BareCR: 400,
  BareLF: 400,
  HeaderSectionTooLarge: 431,
  TooManyHeaders: 431,
  MissingHost: 400,
  DuplicateHost: 400,
  InvalidHost: 400,
  ContentLengthWithTransferEncoding: 400,
  InvalidContentLength: 400,
  ConflictingContentLength: 400,
  ChunkedNotLast: 400,
  UnknownTransferCoding: 501,
  InvalidTransferEncoding: 400,
  TransferEncodingInHttp10: 400,
  InvalidChunkSize: 400,
  ChunkSizeOverflow: 400,
  ChunkExtensionTooLong: 400,
  InvalidChunkExtension: 400,
  InvalidChunkTerminator: 400,
  BodyTooLarge: 413,
  Truncated: 400
}

/** The status a server answers a request rejected for `code` with. */
export const statusOf = (code: ParseErrorCode): number => statusByCode[code]

/** A short description of `code`, for logs and error pages. */
export const messageOf = (code: ParseErrorCode): string => messages[code]

const messages: Readonly<Record<ParseErrorCode, string>> = {
  InvalidRequestLine: "malformed request line",
  InvalidMethod: "method is not a token",
  InvalidTarget: "request target with a byte outside the URI character set, or of a form the method cannot use",
  UriTooLong: "request line too long",
  InvalidVersion: "malformed HTTP version",
  VersionNotSupported: "HTTP major version not supported",
  InvalidStatusLine: "malformed status line",
  InvalidHeaderName: "field name is not a token",
  InvalidHeaderValue: "field value contains a control character",
  WhitespaceBeforeColon: "whitespace between field name and colon",
  ObsFold: "obsolete line folding",
  BareCR: "CR not followed by LF",
  BareLF: "LF without a preceding CR",
  HeaderSectionTooLarge: "header section too large",
  TooManyHeaders: "too many header fields",
  MissingHost: "HTTP/1.1 request without Host",
  DuplicateHost: "more than one Host field",
  InvalidHost: "Host is not a host and optional port",
  ContentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding",
  InvalidContentLength: "invalid Content-Length",
  ConflictingContentLength: "Content-Length values differ",
  ChunkedNotLast: "chunked is not the final transfer coding",
  UnknownTransferCoding: "transfer coding not implemented",
  InvalidTransferEncoding: "malformed Transfer-Encoding",
  TransferEncodingInHttp10: "Transfer-Encoding in an HTTP/1.0 message",
  InvalidChunkSize: "invalid chunk size",
  ChunkSizeOverflow: "chunk size too large",
  ChunkExtensionTooLong: "chunk extension too long",
  InvalidChunkExtension: "invalid byte in chunk extension",
  InvalidChunkTerminator: "chunk data not followed by CRLF",
  BodyTooLarge: "body larger than allowed",
  Truncated: "connection closed in the middle of a message"
}

/**
 * A message that is not valid HTTP/1.1. Parsers return it (they never throw);
 * after one, the connection's framing is in doubt and it must be closed.
 */
export class HttpParseError extends Data.TaggedError("HttpParseError")<{
  readonly code: ParseErrorCode
  readonly message: string
}> {
  get status(): number {
    return statusOf(this.code)
  }
}
