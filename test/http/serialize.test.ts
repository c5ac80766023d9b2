import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Headers } from "../../src/http/Headers.ts"
import { RequestParser } from "../../src/http/RequestParser.ts"
import {
  checkField,
  chunkHeader,
  CRLF,
  encodeChunk,
  encodeLastChunk,
  InvalidHeadError,
  LAST_CHUNK,
  reasonPhrase,
  serializeRequestHead,
  serializeResponseHead
} from "../../src/http/serialize.ts"
import { bytes, concat, feed, fieldValue, property, text, token } from "./support.ts"

describe("serializeRequestHead", () => {
  it("writes the request line and fields in order", () => {
    const head = serializeRequestHead({
      method: "GET",
      target: "/a?b=c",
      headers: new Headers([["Host", "example.com"], ["Accept", "*/*"]])
    })
    expect(text(head)).toBe("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
  })

  it("writes HTTP/1.0 and Latin-1 values byte for byte", () => {
    const head = serializeRequestHead({
      method: "GET",
      target: "/",
      version: { major: 1, minor: 0 },
      headers: [["X", "caf\xe9"]]
    })
    expect(text(head)).toBe("GET / HTTP/1.0\r\nX: caf\xe9\r\n\r\n")
    expect(head.length).toBe(text(head).length)
  })

  it("rejects header injection and invalid names, methods and targets", () => {
    const request = (method: string, target: string, headers: Array<[string, string]>) => () =>
      serializeRequestHead({ method, target, headers })
    for (const value of ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b", "a\x7f", " a", "a\t", "\u0100"]) {
      expect(request("GET", "/", [["X", value]])).toThrow(InvalidHeadError)
    }
    for (const name of ["", "X Y", "X:", "X\r\n", "X\xe9", "(X)"]) {
      expect(request("GET", "/", [[name, "v"]])).toThrow(InvalidHeadError)
    }
    expect(request("GE T", "/", [])).toThrow(InvalidHeadError)
    expect(request("GET", "/a b", [])).toThrow(InvalidHeadError)
    expect(request("GET", "/a\r\nX: 1", [])).toThrow(InvalidHeadError)
    expect(request("GET", "", [])).toThrow(InvalidHeadError)
    // Only what the request parser would accept is written.
    expect(request("GET", "/a#fragment", [])).toThrow(InvalidHeadError)
    expect(request("GET", "*", [])).toThrow(InvalidHeadError)
    expect(request("CONNECT", "/", [])).toThrow(InvalidHeadError)
    expect(request("OPTIONS", "*", [])).not.toThrow()
  })

  it("checkField says why, without throwing", () => {
    expect(checkField("X-Ok", "fine value")).toBeUndefined()
    expect(checkField("X", "bad\r\nvalue")?._tag).toBe("InvalidHeadError")
    expect(checkField("bad name", "v")?.message).toContain("field name")
  })
})

describe("serializeResponseHead", () => {
  it("writes the status line with the standard reason by default", () => {
    expect(text(serializeResponseHead({ status: 404, headers: [["Content-Length", "0"]] }))).toBe(
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    )
    expect(text(serializeResponseHead({ status: 299, headers: [] }))).toBe("HTTP/1.1 299 \r\n\r\n")
    expect(text(serializeResponseHead({ status: 200, reason: "Fine", headers: [] }))).toBe("HTTP/1.1 200 Fine\r\n\r\n")
  })

  it("rejects bad statuses, reasons and fields", () => {
    expect(() => serializeResponseHead({ status: 99, headers: [] })).toThrow(InvalidHeadError)
    expect(() => serializeResponseHead({ status: 1000, headers: [] })).toThrow(InvalidHeadError)
    expect(() => serializeResponseHead({ status: 200.5, headers: [] })).toThrow(InvalidHeadError)
    expect(() => serializeResponseHead({ status: 200, reason: "OK\r\nX: 1", headers: [] })).toThrow(InvalidHeadError)
    expect(() => serializeResponseHead({ status: 200, headers: [["Set-Cookie", "a\nb"]] })).toThrow(InvalidHeadError)
  })

  it("knows the reason phrases of RFC 9110 section 15 (those it sends), none for other codes", () => {
    const phrases: Record<number, string> = {
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
    for (let status = 100; status <= 999; status++) {
      const phrase = phrases[status] ?? ""
      expect(reasonPhrase(status), String(status)).toBe(phrase)
      expect(text(serializeResponseHead({ status, headers: [] })), String(status)).toBe(
        `HTTP/1.1 ${status} ${phrase}\r\n\r\n`
      )
    }
  })

  it("a refused head says which part is wrong, and how it read", () => {
    const messageOf = (make: () => unknown): string => {
      try {
        make()
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidHeadError)
        return (error as InvalidHeadError).message
      }
      throw new Error("accepted")
    }
    const request = (method: string, target: string) => () => serializeRequestHead({ method, target, headers: [] })
    expect(messageOf(request("GE T", "/"))).toBe("invalid method \"GE T\"")
    expect(messageOf(request("GET", "/a b"))).toBe("invalid request target \"/a b\"")
    expect(messageOf(() => serializeResponseHead({ status: 99, headers: [] }))).toBe("invalid status 99")
    expect(messageOf(() => serializeResponseHead({ status: 200, reason: "O\nK", headers: [] }))).toBe(
      "invalid reason \"O\\nK\""
    )
    expect(messageOf(() => serializeResponseHead({ status: 200, headers: [["X", " v"]] }))).toBe(
      "invalid value for field X: \" v\""
    )
    expect(checkField("X:", "v")?.message).toBe("invalid field name \"X:\"")
    expect(() => chunkHeader(0)).toThrow(new RangeError("chunk size must be positive, got 0"))
  })

  it("statuses 100 to 999, both ends included", () => {
    for (const status of [100, 999]) {
      expect(text(serializeResponseHead({ status, reason: "R", headers: [] }))).toBe(`HTTP/1.1 ${status} R\r\n\r\n`)
    }
    for (const status of [99, 1000, -200, Number.NaN]) {
      expect(() => serializeResponseHead({ status, headers: [] }), String(status)).toThrow(InvalidHeadError)
    }
  })

  it("a field value with SP or HTAB at either end is refused; inside, or an empty value, it is sent", () => {
    for (const value of [" v", "v ", "\tv", "v\t", " ", "\t"]) {
      expect(checkField("X", value)?._tag, JSON.stringify(value)).toBe("InvalidHeadError")
    }
    for (const value of ["", "a b", "a\tb", "v"]) expect(checkField("X", value), JSON.stringify(value)).toBeUndefined()
  })

  it("names and methods are tokens: no byte above 0x7F, nor a character above 0xFF standing for a token byte", () => {
    for (const name of ["X\u00e9", "\u00ff", "X\u0141", "\u0158"]) {
      expect(checkField(name, "v")?._tag, name).toBe("InvalidHeadError")
      expect(() => serializeRequestHead({ method: name, target: "/", headers: [] }), name).toThrow(InvalidHeadError)
    }
    // U+0141 and U+0158 are not 0x41 ("A") and 0x58 ("X") in a value either
    expect(checkField("X", "\u0141")?._tag).toBe("InvalidHeadError")
    expect(checkField("X", "caf\u00e9")).toBeUndefined()
    expect(() => serializeResponseHead({ status: 200, reason: "\u014b", headers: [] })).toThrow(InvalidHeadError)
  })

  it("serialized fields always come back intact, or the serializer refuses", () => {
    const anyText = fc.string({
      unit: fc.integer({ min: 0, max: 0x17f }).map((c) => String.fromCharCode(c)),
      maxLength: 20
    })
    property(fc.tuple(fc.oneof(token, anyText), fc.oneof(fieldValue, anyText)), ([name, value]) => {
      let wire: Uint8Array
      try {
        wire = serializeRequestHead({ method: "GET", target: "/", headers: [["Host", "h"], [name, value]] })
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidHeadError)
        return
      }
      const parser = new RequestParser()
      const outcome = feed(parser, (input) => parser.execute(input), [wire])
      expect(outcome.error).toBeUndefined()
      expect(outcome.messages[0]?.head.headers.entries).toEqual([["Host", "h"], [name, value]])
    }, 1000)
  })
})

describe("chunked encoding", () => {
  it("encodes chunks that the parser decodes", () => {
    const data = bytes("x".repeat(300))
    expect(text(chunkHeader(300))).toBe("12c\r\n")
    expect(text(encodeChunk(bytes("hello")))).toBe("5\r\nhello\r\n")
    expect(text(LAST_CHUNK)).toBe("0\r\n\r\n")
    expect(text(encodeLastChunk())).toBe("0\r\n\r\n")
    expect(text(encodeLastChunk([]))).toBe("0\r\n\r\n")
    expect(text(encodeLastChunk([["X-Sum", "1"]]))).toBe("0\r\nX-Sum: 1\r\n\r\n")
    const wire = concat([
      serializeRequestHead({ method: "POST", target: "/", headers: [["Host", "h"], ["Transfer-Encoding", "chunked"]] }),
      chunkHeader(data.length),
      data,
      CRLF,
      encodeChunk(bytes("!")),
      encodeLastChunk([["X-Sum", "1"]])
    ])
    const parser = new RequestParser()
    const outcome = feed(parser, (input) => parser.execute(input), [wire])
    expect(outcome.messages[0]?.body).toBe("x".repeat(300) + "!")
    expect(outcome.messages[0]?.trailers).toEqual([["X-Sum", "1"]])
  })

  it("refuses empty and invalid chunk sizes (an empty chunk would end the body)", () => {
    expect(() => chunkHeader(0)).toThrow(RangeError)
    expect(() => chunkHeader(-1)).toThrow(RangeError)
    expect(() => chunkHeader(1.5)).toThrow(RangeError)
  })
})
