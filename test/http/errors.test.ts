import { describe, expect, it } from "@effect/vitest"
import { HttpParseError, messageOf, type ParseErrorCode, statusOf } from "../../src/http/errors.ts"

/** Every code once; the type makes the compiler reject a missing or unknown one. */
const codes: Record<ParseErrorCode, true> = {
  InvalidRequestLine: true,
  InvalidMethod: true,
  InvalidTarget: true,
  UriTooLong: true,
  InvalidVersion: true,
  VersionNotSupported: true,
  InvalidStatusLine: true,
  InvalidHeaderName: true,
  InvalidHeaderValue: true,
  WhitespaceBeforeColon: true,
  ObsFold: true,
  BareCR: true,
  BareLF: true,
  HeaderSectionTooLarge: true,
  TooManyHeaders: true,
  MissingHost: true,
  DuplicateHost: true,
  InvalidHost: true,
  ContentLengthWithTransferEncoding: true,
  InvalidContentLength: true,
  ConflictingContentLength: true,
  ChunkedNotLast: true,
  UnknownTransferCoding: true,
  InvalidTransferEncoding: true,
  TransferEncodingInHttp10: true,
  InvalidChunkSize: true,
  ChunkSizeOverflow: true,
  ChunkExtensionTooLong: true,
  InvalidChunkExtension: true,
  InvalidChunkTerminator: true,
  BodyTooLarge: true,
  Truncated: true
}

describe("parse error codes", () => {
  const all = Object.keys(codes) as Array<ParseErrorCode>

  it("each has its own message, so a log line tells the causes apart", () => {
    const messages = all.map(messageOf)
    for (const [i, message] of messages.entries()) expect(message, all[i]).toMatch(/^\S.*\S$/)
    expect(new Set(messages).size).toBe(all.length)
  })

  it("each maps to a client or server error status, carried by the error", () => {
    for (const code of all) {
      expect(statusOf(code), code).toBeGreaterThanOrEqual(400)
      expect(statusOf(code), code).toBeLessThan(600)
      expect(new HttpParseError({ code, message: messageOf(code) }).status).toBe(statusOf(code))
    }
  })
})
