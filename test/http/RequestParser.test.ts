import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type ParseErrorCode, statusOf } from "../../src/http/errors.ts"
import type { RequestHead } from "../../src/http/message.ts"
import { defaultRequestLimits, type RequestLimits, RequestParser } from "../../src/http/RequestParser.ts"
import { serializeRequestHead } from "../../src/http/serialize.ts"
import {
  bodyOf,
  bodySpec,
  bytes,
  concat,
  cuts,
  encodeBody,
  extraFields,
  feed,
  originTarget,
  type Outcome,
  property,
  splitAt,
  token,
  trailersOf
} from "./support.ts"

const parseChunks = (chunks: ReadonlyArray<Uint8Array>, limits: Partial<RequestLimits> = {}): Outcome<RequestHead> => {
  const parser = new RequestParser(limits)
  return feed(parser, (input) => parser.execute(input), chunks)
}

const parse = (raw: string, limits: Partial<RequestLimits> = {}) => parseChunks([bytes(raw)], limits)

/** Whole, and one byte at a time: both must agree. */
const parseBothWays = (raw: string, limits: Partial<RequestLimits> = {}) => {
  const whole = parse(raw, limits)
  const data = bytes(raw)
  const bytewise = parseChunks(Array.from(data, (_, i) => data.subarray(i, i + 1)), limits)
  expect(bytewise).toEqual(whole)
  return whole
}

const GET = "GET / HTTP/1.1\r\nHost: a\r\n"
const POST = "POST / HTTP/1.1\r\nHost: a\r\n"
const chunked = (body: string) => `${POST}Transfer-Encoding: chunked\r\n\r\n${body}`

type Case = readonly [rule: string, raw: string, code: ParseErrorCode, status: number, limits?: Partial<RequestLimits>]

const rejections: ReadonlyArray<Case> = [
  // field syntax
  ["whitespace between field name and colon", `${GET}X-A : 1\r\n\r\n`, "WhitespaceBeforeColon", 400],
  ["tab between field name and colon", `${GET}X-A\t: 1\r\n\r\n`, "WhitespaceBeforeColon", 400],
  ["obs-fold", `${GET}X-A: 1\r\n  continued\r\n\r\n`, "ObsFold", 400],
  ["obs-fold with a tab", `${GET}X-A: 1\r\n\tcontinued\r\n\r\n`, "ObsFold", 400],
  ["whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", "ObsFold", 400],
  ["CR in a value", `${GET}X-A: 1\r2\r\n\r\n`, "BareCR", 400],
  ["LF in a value", `${GET}X-A: 1\n2\r\n\r\n`, "BareLF", 400],
  ["NUL in a value", `${GET}X-A: 1\x002\r\n\r\n`, "InvalidHeaderValue", 400],
  ["other control in a value", `${GET}X-A: 1\x7f2\r\n\r\n`, "InvalidHeaderValue", 400],
  ["field name with a separator", `${GET}X(A): 1\r\n\r\n`, "InvalidHeaderName", 400],
  ["field name with non-ASCII", `${GET}X\xe9: 1\r\n\r\n`, "InvalidHeaderName", 400],
  ["empty field name", `${GET}: 1\r\n\r\n`, "InvalidHeaderName", 400],
  ["field line without a colon", `${GET}X-A 1\r\n\r\n`, "InvalidHeaderName", 400],
  // line endings
  ["bare CR ending the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", "BareCR", 400],
  ["bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", "BareLF", 400],
  ["bare CR ending a field line", `${GET}X-A: 1\rX-B: 2\r\n\r\n`, "BareCR", 400],
  ["bare LF ending a field line", `${GET}X-A: 1\nX-B: 2\r\n\r\n`, "BareLF", 400],
  ["bare LF ending the head", `${GET}\n`, "BareLF", 400],
  ["bare LF as a leading empty line", `\n${GET}\r\n`, "BareLF", 400],
  ["bare CR in a field name", `${GET}X\r-A: 1\r\n\r\n`, "BareCR", 400],
  ["bare LF after a chunk size", chunked("3\nabc\r\n0\r\n\r\n"), "BareLF", 400],
  ["bare CR after a chunk size", chunked("3\rabc\r\n0\r\n\r\n"), "BareCR", 400],
  ["bare LF after chunk data", chunked("3\r\nabc\n0\r\n\r\n"), "BareLF", 400],
  ["bare CR after chunk data", chunked("3\r\nabc\r0\r\n\r\n"), "BareCR", 400],
  ["bare LF after a chunk extension", chunked("3;a=b\nabc\r\n0\r\n\r\n"), "BareLF", 400],
  ["bare LF ending a trailer", chunked("0\r\nT: 1\n\r\n"), "BareLF", 400],
  ["bare LF ending the trailer section", chunked("0\r\n\n"), "BareLF", 400],
  // request line
  ["space in the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ...[..."\"<>\\^`{|}\x7f\x80\xff\x00\x01"].map(
    (c): Case => [
      `target byte 0x${c.charCodeAt(0).toString(16)}`,
      `GET /a${c}b HTTP/1.1\r\nHost: a\r\n\r\n`,
      "InvalidTarget",
      400
    ]
  ),
  // request-target forms (RFC 9112 section 3.2)
  ["fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["relative target", "GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["asterisk-form with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["asterisk followed by a path", "OPTIONS */a HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["authority-form with GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["scheme not starting with a letter", "GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["origin-form with CONNECT", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["CONNECT without a port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["CONNECT to an absolute URI", "CONNECT http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["method that is not a token", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidMethod", 400],
  ["two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidRequestLine", 400],
  ["missing version", "GET /\r\nHost: a\r\n\r\n", "InvalidRequestLine", 400],
  ["leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", "InvalidRequestLine", 400],
  ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", "VersionNotSupported", 505],
  ["HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", "VersionNotSupported", 505],
  ["HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", "VersionNotSupported", 505],
  ["HTTP/1.01", "GET / HTTP/1.01\r\nHost: a\r\n\r\n", "InvalidVersion", 400],
  ["http/1.1", "GET / http/1.1\r\nHost: a\r\n\r\n", "InvalidVersion", 400],
  ["HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", "InvalidVersion", 400],
  ["HTTP/11.0", "GET / HTTP/11.0\r\nHost: a\r\n\r\n", "InvalidVersion", 400],
  ["HTTP/1.1 with trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "InvalidTarget", 400],
  ["request line over the limit", `GET /${"a".repeat(8 * 1024)} HTTP/1.1\r\nHost: a\r\n\r\n`, "UriTooLong", 414],
  ["request line over a set limit", `GET /${"a".repeat(100)} HTTP/1.1\r\n`, "UriTooLong", 414, {
    maxStartLineSize: 64
  }],
  ["endless request line", "GET /" + "a".repeat(9000), "UriTooLong", 414],
  // Host
  ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", "MissingHost", 400],
  ["two Host fields", `${GET}Host: b\r\n\r\n`, "DuplicateHost", 400],
  ["two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", "DuplicateHost", 400],
  ...[
    "a b",
    "a/b",
    "user@a",
    "a?b",
    "a#b",
    "a:8x",
    "a:80:80",
    "[::1",
    "::1",
    "[]",
    "[::1]x",
    "a%4",
    "a%zz",
    "\xe9t\xe9",
    "a\tb"
  ].map(
    (v): Case => [`Host ${JSON.stringify(v)}`, `GET / HTTP/1.1\r\nHost: ${v}\r\n\r\n`, "InvalidHost", 400]
  ),
  ["invalid Host in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", "InvalidHost", 400],
  // header section limits
  ["header section over the limit", `${GET}X-A: ${"a".repeat(33 * 1024)}\r\n\r\n`, "HeaderSectionTooLarge", 431],
  [
    "header section over a set limit",
    `${GET}${"X-A: 0123456789\r\n".repeat(10)}\r\n`,
    "HeaderSectionTooLarge",
    431,
    { maxHeaderSectionSize: 100 }
  ],
  ["more than 100 fields", `${GET}${"X-A: 1\r\n".repeat(100)}\r\n`, "TooManyHeaders", 431],
  ["more fields than a set count", `${GET}${"X-A: 1\r\n".repeat(3)}\r\n`, "TooManyHeaders", 431, { maxHeaderCount: 3 }],
  // framing
  [
    "Transfer-Encoding with Content-Length",
    `${POST}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
    "ContentLengthWithTransferEncoding",
    400
  ],
  [
    "Content-Length before Transfer-Encoding",
    `${POST}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    "ContentLengthWithTransferEncoding",
    400
  ],
  ["chunked before another coding", `${POST}Transfer-Encoding: chunked, gzip\r\n\r\n`, "ChunkedNotLast", 400],
  ["a coding without chunked", `${POST}Transfer-Encoding: gzip\r\n\r\n`, "ChunkedNotLast", 400],
  ["chunked twice", `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n`, "ChunkedNotLast", 400],
  [
    "chunked twice in two fields",
    `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    "ChunkedNotLast",
    400
  ],
  ["empty Transfer-Encoding", `${POST}Transfer-Encoding: \r\n\r\n`, "ChunkedNotLast", 400],
  ["unknown transfer coding", `${POST}Transfer-Encoding: foo, chunked\r\n\r\n`, "UnknownTransferCoding", 501],
  ["gzip transfer coding", `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n`, "UnknownTransferCoding", 501],
  ["malformed transfer coding", `${POST}Transfer-Encoding: ch@nked\r\n\r\n`, "InvalidTransferEncoding", 400],
  ["quoted transfer coding", `${POST}Transfer-Encoding: "chunked"\r\n\r\n`, "InvalidTransferEncoding", 400],
  // Only SP and HTAB are optional whitespace: a peer that trims more (NBSP)
  // must not see "chunked" where another sees an unknown coding.
  [
    "chunked followed by NBSP",
    `${POST}Transfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n`,
    "InvalidTransferEncoding",
    400
  ],
  ["NBSP before chunked", `${POST}Transfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n`, "InvalidTransferEncoding", 400],
  [
    "NBSP around a list element",
    `${POST}Transfer-Encoding: \xa0, chunked\r\n\r\n0\r\n\r\n`,
    "InvalidTransferEncoding",
    400
  ],
  ["chunked with a parameter", `${POST}Transfer-Encoding: chunked;q=1\r\n\r\n`, "InvalidTransferEncoding", 400],
  [
    "Transfer-Encoding in HTTP/1.0",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TransferEncodingInHttp10",
    400
  ],
  ...["abc", "-1", "+1", "1 2", "0x10", "", "1,", ",1", "1.0", "1e3", "\xb9"].map(
    (
      v
    ): Case => [
      `Content-Length ${JSON.stringify(v)}`,
      `${POST}Content-Length: ${v}\r\n\r\n`,
      "InvalidContentLength",
      400
    ]
  ),
  ["Content-Length overflow", `${POST}Content-Length: 99999999999999999999\r\n\r\n`, "InvalidContentLength", 400],
  ["Content-Length past 2^53", `${POST}Content-Length: 9007199254740993\r\n\r\n`, "InvalidContentLength", 400],
  [
    "two Content-Length fields that differ",
    `${POST}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`,
    "ConflictingContentLength",
    400
  ],
  ["a Content-Length list that differs", `${POST}Content-Length: 1, 2\r\n\r\n`, "ConflictingContentLength", 400],
  ["body over the limit", `${POST}Content-Length: 11\r\n\r\n`, "BodyTooLarge", 413, { maxBodySize: 10 }],
  ["chunked body over the limit", chunked("6\r\nabcdef\r\n6\r\n"), "BodyTooLarge", 413, { maxBodySize: 10 }],
  // chunk framing
  ["chunk size overflow", chunked("fffffffffffffffff\r\n"), "ChunkSizeOverflow", 400],
  ["chunk size past 2^53", chunked("20000000000000\r\n"), "ChunkSizeOverflow", 400],
  ...["0x5", "+5", "-5", "5_0", " 5", "5 ", "\t5", "5\t", "", "g", ";a"].map(
    (
      size
    ): Case => [`chunk size ${JSON.stringify(size)}`, chunked(`${size}\r\nabcde\r\n0\r\n\r\n`), "InvalidChunkSize", 400]
  ),
  ["chunk extension over the limit", chunked(`1;${"a".repeat(5000)}\r\nx\r\n0\r\n\r\n`), "ChunkExtensionTooLong", 400],
  [
    "chunk extension over a set limit",
    chunked(`1;${"a".repeat(20)}\r\nx\r\n0\r\n\r\n`),
    "ChunkExtensionTooLong",
    400,
    { maxChunkExtensionSize: 10 }
  ],
  // RFC 9112 section 7.1.1: the total is what bounds the work an ignored extension causes.
  [
    "chunk extensions summed over the chunks",
    chunked("1;aaaa\r\nx\r\n1;aaaa\r\ny\r\n1;aa\r\nz\r\n0\r\n\r\n"),
    "ChunkExtensionTooLong",
    400,
    { maxChunkExtensionSize: 12 }
  ],
  ["the last chunk's extension counts too", chunked("1;aaaa\r\nx\r\n0;aaaa\r\n\r\n"), "ChunkExtensionTooLong", 400, {
    maxChunkExtensionSize: 8
  }],
  ["control byte in a chunk extension", chunked("1;a\x00\r\nx\r\n0\r\n\r\n"), "InvalidChunkExtension", 400],
  ["chunk data longer than its size", chunked("3\r\nabcd\r\n0\r\n\r\n"), "InvalidChunkTerminator", 400],
  ["trailer that is not a field", chunked("0\r\nT 1\r\n\r\n"), "InvalidHeaderName", 400],
  ["obs-fold in a trailer", chunked("0\r\nT: 1\r\n 2\r\n\r\n"), "ObsFold", 400]
]

describe("RequestParser rejections", () => {
  for (const [rule, raw, code, status, limits] of rejections) {
    it(`${rule}: ${code} (${status})`, () => {
      const outcome = parseBothWays(raw, limits)
      expect(outcome.error).toBe(code)
      expect(statusOf(code)).toBe(status)
    })
  }

  it("carries the status on the error and stays failed", () => {
    const parser = new RequestParser()
    const first = parser.execute(bytes("GET / HTTP/2.0\r\n\r\n"))
    expect(first.error?.status).toBe(505)
    expect(first.error?._tag).toBe("HttpParseError")
    expect(first.error?.message).toBe("HTTP major version not supported")
    const again = parser.execute(bytes(`${GET}\r\n`))
    expect(again.error).toBe(first.error)
    expect(again.consumed).toBe(0)
    expect(parser.failed).toBe(true)
  })

  it("reports the error after the requests that came before it", () => {
    const outcome = parse(`${GET}\r\n${GET}X : 1\r\n\r\n`)
    expect(outcome.messages).toHaveLength(1)
    expect(outcome.error).toBe("WhitespaceBeforeColon")
  })
})

describe("RequestParser requestLine: what a refusal logs", () => {
  const lineAfter = (...chunks: ReadonlyArray<string>) => {
    const parser = new RequestParser()
    let last: ReturnType<RequestParser["execute"]> | undefined
    for (const chunk of chunks) {
      let input = bytes(chunk)
      do {
        last = parser.execute(input)
        input = input.subarray(last.consumed)
      } while (last.error === undefined && last.consumed > 0 && input.length > 0)
    }
    return { line: parser.requestLine, error: last?.error?.code }
  }

  it("the line as parsed once it ended, for errors in the head after it", () => {
    expect(lineAfter("GET /a?b=c HTTP/1.1\r\n\r\n")).toEqual({ line: "GET /a?b=c HTTP/1.1", error: "MissingHost" })
    expect(lineAfter("GET /x HTTP/1.0\r\nHost : t\r\n")).toEqual({
      line: "GET /x HTTP/1.0",
      error: "WhitespaceBeforeColon"
    })
  })

  it("a malformed line as its raw bytes, once it ended", () => {
    expect(lineAfter("GET /a b HTTP/1.1\r\n")).toEqual({ line: "GET /a b HTTP/1.1", error: "InvalidTarget" })
    expect(lineAfter("GET /\xe9\x01 HTTP/1.1\r\n")).toEqual({ line: "GET /\xe9\x01 HTTP/1.1", error: "InvalidTarget" })
    expect(lineAfter("GET / HTTP/2.0\r\n")).toEqual({ line: "GET / HTTP/2.0", error: "VersionNotSupported" })
  })

  it("none before the line ended, or when it never did", () => {
    expect(lineAfter("GET / HT").line).toBeUndefined()
    expect(lineAfter("\x16\x03\x01\x02\x00\r\n").line).toBeUndefined()
    expect(lineAfter(`GET /${"a".repeat(9000)} HTTP/1.1\r\n`).line).toBeUndefined()
    expect(lineAfter("GET / HTTP/1.1\nHost: t\n\n").line).toBeUndefined()
  })

  it("none on a new parser, none for a line that is no method and SP, kept while the head arrives", () => {
    expect(new RequestParser().requestLine).toBeUndefined()
    expect(lineAfter("GET\r\n")).toEqual({ line: undefined, error: "InvalidRequestLine" })
    expect(lineAfter(" GET / HTTP/1.1\r\n")).toEqual({ line: undefined, error: "InvalidRequestLine" })
    expect(lineAfter("GET /x HTTP/1.0\r\n", "Host : t\r\n")).toEqual({
      line: "GET /x HTTP/1.0",
      error: "WhitespaceBeforeColon"
    })
  })

  it("a pipelined request's own line, not the previous one's", () => {
    expect(lineAfter(`${GET}\r\n`, "\x16\x03\x01\r\n")).toEqual({ line: undefined, error: "InvalidMethod" })
    expect(lineAfter(`${GET}\r\nPOST /p HTTP/1.1\r\n\r\n`)).toEqual({ line: "POST /p HTTP/1.1", error: "MissingHost" })
  })
})

describe("RequestParser accepts", () => {
  const one = (raw: string, limits: Partial<RequestLimits> = {}) => {
    const outcome = parseBothWays(raw, limits)
    expect(outcome.error).toBeUndefined()
    expect(outcome.messages).toHaveLength(1)
    return outcome.messages[0]!
  }

  it("a simple GET", () => {
    const { head, body } = one("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
    expect(head.method).toBe("GET")
    expect(head.target).toBe("/index.html?q=1")
    expect(head.version).toEqual({ major: 1, minor: 1 })
    expect(head.headers.entries).toEqual([["Host", "example.com"], ["Accept", "*/*"]])
    expect(head.headers.get("host")).toBe("example.com")
    expect(head.framing).toEqual({ _tag: "None" })
    expect(head.keepAlive).toBe(true)
    expect(body).toBe("")
  })

  it("empty lines before the request line", () => {
    expect(one(`\r\n\r\n${GET}\r\n`).head.target).toBe("/")
  })

  it("absolute-form, authority-form and asterisk-form targets", () => {
    expect(one("GET http://example.com:8080/a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n").head.target).toBe(
      "http://example.com:8080/a?b=c"
    )
    expect(one("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").head.target).toBe("example.com:443")
    expect(one("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").head.target).toBe("*")
  })

  it("OPTIONS with every form it may use", () => {
    expect(one("OPTIONS /a HTTP/1.1\r\nHost: a\r\n\r\n").head.target).toBe("/a")
    expect(one("OPTIONS http://a/ HTTP/1.1\r\nHost: a\r\n\r\n").head.target).toBe("http://a/")
    expect(one("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n").head.target).toBe("[::1]:443")
  })

  it("Host values: empty (no authority), names, IP literals, ports, percent-escapes", () => {
    for (
      const host of [
        "",
        "example.com",
        "example.com:8080",
        "example.com:",
        "127.0.0.1:80",
        "[::1]",
        "[::1]:8080",
        "[v1.fe80::a+en1]",
        "xn--bcher-kva.example",
        "a%41b",
        "a_b-c~d!$&'()*+,;="
      ]
    ) {
      expect(one(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).head.headers.get("Host")).toBe(host)
    }
  })

  it("HTTP/1.0 without Host, not persistent unless asked", () => {
    const plain = one("GET / HTTP/1.0\r\n\r\n").head
    expect(plain.version).toEqual({ major: 1, minor: 0 })
    expect(plain.keepAlive).toBe(false)
    expect(one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keepAlive).toBe(true)
  })

  it("a later HTTP/1.x minor version", () => {
    expect(one(`GET / HTTP/1.2\r\nHost: a\r\n\r\n`).head.version).toEqual({ major: 1, minor: 2 })
  })

  it("any token as a method", () => {
    for (const method of ["PROPFIND", "M-SEARCH", "brew", "X!#$%&'*+.^_`|~"]) {
      expect(one(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`).head.method).toBe(method)
    }
  })

  it("Connection options per RFC 9112 section 9.3", () => {
    expect(one(`${GET}Connection: close\r\n\r\n`).head.keepAlive).toBe(false)
    expect(one(`${GET}Connection: Upgrade, CLOSE\r\n\r\n`).head.keepAlive).toBe(false)
    expect(one(`${GET}Connection: keep-alive\r\n\r\n`).head.keepAlive).toBe(true)
    expect(one(`${GET}Connection: closed\r\n\r\n`).head.keepAlive).toBe(true)
    expect(one("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").head.keepAlive).toBe(false)
  })

  it("values with inner whitespace and obs-text, trimmed at both ends, and empty values", () => {
    const { head } = one(`${GET}X-A: \t a  b\xe9 \t\r\nX-B:\r\nX-C:   \r\n\r\n`)
    expect(head.headers.entries.slice(1)).toEqual([["X-A", "a  b\xe9"], ["X-B", ""], ["X-C", ""]])
  })

  it("a Content-Length body, equal repeated Content-Length values", () => {
    expect(one(`${POST}Content-Length: 5\r\n\r\nhello`).body).toBe("hello")
    expect(one(`${POST}Content-Length: 5, 5\r\n\r\nhello`).head.framing).toEqual({ _tag: "ContentLength", length: 5 })
    expect(one(`${POST}Content-Length: 5\r\ncontent-length: 5\r\n\r\nhello`).body).toBe("hello")
    expect(one(`${POST}Content-Length: 0\r\n\r\n`).body).toBe("")
    expect(one(`${POST}Content-Length: 007\r\n\r\n1234567`).body).toBe("1234567")
  })

  it("a chunked body with extensions and trailers", () => {
    const { head, body, trailers } = one(
      chunked(
        "5;name=value;q=\"a;b\"\r\nhello\r\n1; x = 1\r\n \r\n00A\r\n0123456789\r\n000;end\r\nT-A: 1\r\nT-B: 2\r\n\r\n"
      )
    )
    expect(head.framing).toEqual({ _tag: "Chunked" })
    expect(body).toBe("hello 0123456789")
    expect(trailers).toEqual([["T-A", "1"], ["T-B", "2"]])
  })

  it("Transfer-Encoding names ignore case and empty list elements", () => {
    expect(one(`${POST}Transfer-Encoding: , Chunked\r\n\r\n0\r\n\r\n`).head.framing).toEqual({ _tag: "Chunked" })
  })

  it("limits at exactly their size", () => {
    const target = "/" + "a".repeat(64 - "GET  HTTP/1.1".length - 1)
    expect(one(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`, { maxStartLineSize: 64 }).head.target).toBe(target)
    expect(one(`${GET}${"X: 1\r\n".repeat(2)}\r\n`, { maxHeaderCount: 3 }).head.headers.size).toBe(3)
    // "Host: a\r\n" (9) + "X: 1234\r\n" (9) + "\r\n" (2)
    expect(one(`${GET}X: 1234\r\n\r\n`, { maxHeaderSectionSize: 20 }).head.headers.size).toBe(2)
    expect(parse(`${GET}X: 12345\r\n\r\n`, { maxHeaderSectionSize: 20 }).error).toBe("HeaderSectionTooLarge")
    expect(one(`${POST}Content-Length: 10\r\n\r\n0123456789`, { maxBodySize: 10 }).body).toBe("0123456789")
    expect(one(chunked(`1;${"a".repeat(9)}\r\nx\r\n0\r\n\r\n`), { maxChunkExtensionSize: 10 }).body).toBe("x")
    expect(one(chunked("1;aaaa\r\nx\r\n1;aaaa\r\ny\r\n1;a\r\nz\r\n0\r\n\r\n"), { maxChunkExtensionSize: 12 }).body)
      .toBe("xyz")
  })
})

describe("RequestParser incremental behaviour", () => {
  it("stops after each pipelined request and reports what it consumed", () => {
    const first = `${POST}Content-Length: 3\r\n\r\nabc`
    const second = `${GET}\r\n`
    const parser = new RequestParser()
    const input = bytes(first + second)
    const a = parser.execute(input)
    expect(a.consumed).toBe(first.length)
    expect(a.events.map((e) => e._tag)).toEqual(["Head", "Body", "End"])
    const b = parser.execute(input.subarray(a.consumed))
    expect(b.consumed).toBe(second.length)
    expect(b.events.map((e) => e._tag)).toEqual(["Head", "End"])
  })

  it("hands out body chunks as views of the input, without copying", () => {
    const input = bytes(`${POST}Content-Length: 3\r\n\r\nabc`)
    const result = new RequestParser().execute(input)
    const body = result.events.find((e) => e._tag === "Body")
    expect(body?._tag === "Body" && body.chunk.buffer).toBe(input.buffer)
  })

  it("tells a close between requests from a close inside one", () => {
    const parser = new RequestParser()
    expect(parser.isIdle).toBe(true)
    parser.execute(bytes(`${GET}\r\n\r\n`))
    expect(parser.isIdle).toBe(true)
    expect(parser.finish().error).toBeUndefined()
    parser.execute(bytes("GET / HT"))
    expect(parser.isIdle).toBe(false)
    expect(parser.finish().error?.code).toBe("Truncated")

    const inBody = new RequestParser()
    inBody.execute(bytes(`${POST}Content-Length: 3\r\n\r\nab`))
    expect(inBody.isIdle).toBe(false)
    expect(inBody.finish().error?.code).toBe("Truncated")
  })

  it("buffers no more than a partial line, within the limits", () => {
    const parser = new RequestParser({ maxStartLineSize: 100, maxHeaderSectionSize: 200 })
    parser.execute(bytes("GET /" + "a".repeat(50)))
    expect(parser.bufferedBytes).toBe(55)
    expect(parser.execute(bytes("a".repeat(100))).error?.code).toBe("UriTooLong")
    expect(parser.bufferedBytes).toBe(0)
  })
})

const requestSpec = fc.record({
  // CONNECT takes an authority-form target, not the origin-form ones made here.
  method: fc.oneof(fc.constantFrom("GET", "POST", "PUT", "HEAD", "DELETE"), token.filter((m) => m !== "CONNECT")),
  target: originTarget,
  minor: fc.constantFrom(0, 1),
  fields: extraFields,
  body: bodySpec
})
type RequestSpec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never

/** The request as sent: the head through `serializeRequestHead`, then the body. */
const encodeRequest = (spec: RequestSpec): { wire: Uint8Array; headers: Array<[string, string]> } => {
  const body = spec.minor === 0 && spec.body.kind === "chunked" ? { kind: "none" as const } : spec.body
  const { field, wire } = encodeBody(body)
  const headers: Array<[string, string]> = [["Host", "example.com"], ...spec.fields, ...(field ? [field] : [])]
  const head = serializeRequestHead({
    method: spec.method,
    target: spec.target,
    version: { major: 1, minor: spec.minor },
    headers
  })
  return { wire: concat([head, bytes(wire)]), headers }
}

describe("RequestParser properties", () => {
  it("serialize then parse gives back the request", () => {
    property(requestSpec, (spec) => {
      const { wire, headers } = encodeRequest(spec)
      const outcome = parseChunks([wire])
      expect(outcome.error).toBeUndefined()
      const [message] = outcome.messages
      expect(message?.head.method).toBe(spec.method)
      expect(message?.head.target).toBe(spec.target)
      expect(message?.head.version).toEqual({ major: 1, minor: spec.minor })
      expect(message?.head.headers.entries).toEqual(headers)
      if (spec.minor === 1 || spec.body.kind !== "chunked") {
        expect(message?.body).toBe(bodyOf(spec.body))
        expect(message?.trailers).toEqual(trailersOf(spec.body))
      }
    })
  })

  it("any split of a pipelined batch parses exactly as the whole", () => {
    property(fc.tuple(fc.array(requestSpec, { minLength: 1, maxLength: 4 }), cuts), ([specs, at]) => {
      const wire = concat(specs.map((s) => encodeRequest(s).wire))
      const whole = parseChunks([wire])
      expect(whole.error).toBeUndefined()
      expect(whole.messages).toHaveLength(specs.length)
      expect(parseChunks(splitAt(wire, at))).toEqual(whole)
    })
  })

  it("any split of damaged input gives the same outcome as the whole", () => {
    const damaged = fc
      .tuple(
        requestSpec,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })
      )
      .map(([spec, edits]) => {
        const wire = encodeRequest(spec).wire.slice()
        for (const [at, byte] of edits) wire[at % wire.length] = byte
        return wire
      })
    property(fc.tuple(damaged, cuts), ([wire, at]) => {
      expect(parseChunks(splitAt(wire, at), { maxBodySize: 100 })).toEqual(parseChunks([wire], { maxBodySize: 100 }))
    })
  })

  it("random bytes never throw and never make the parser hold more than its limits", () => {
    const limits = { maxStartLineSize: 64, maxHeaderSectionSize: 128, maxHeaderCount: 4, maxChunkExtensionSize: 8 }
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc
        .array(
          fc.constantFrom(
            "GET / HTTP/1.1",
            "\r\n",
            "\r",
            "\n",
            "Host: a",
            ":",
            " ",
            "a",
            "Transfer-Encoding: chunked",
            "0",
            "5",
            ";"
          ),
          {
            maxLength: 60
          }
        )
        .map((parts) => bytes(parts.join("")))
    )
    property(fc.tuple(noise, cuts), ([data, at]) => {
      for (const settings of [limits, defaultRequestLimits]) {
        const parser = new RequestParser(settings)
        const bound = Math.max(settings.maxStartLineSize, settings.maxHeaderSectionSize) + 2
        feed(parser, (input) => parser.execute(input), splitAt(data, at), () => {
          expect(parser.bufferedBytes).toBeLessThanOrEqual(bound)
        })
        parser.finish()
      }
    }, 500)
  })
})
