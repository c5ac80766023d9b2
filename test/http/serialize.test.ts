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

  it("knows the common reason phrases", () => {
    expect(reasonPhrase(200)).toBe("OK")
    expect(reasonPhrase(206)).toBe("Partial Content")
    expect(reasonPhrase(416)).toBe("Range Not Satisfiable")
    expect(reasonPhrase(799)).toBe("")
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
