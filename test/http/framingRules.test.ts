import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { contentLength, keepAlive, transferCoding } from "../../src/http/framing.ts"
import { ResponseParser } from "../../src/http/ResponseParser.ts"
import { HTTP_1_0, HTTP_1_1 } from "../../src/http/version.ts"
import { bytes, parseRequest, property, token } from "./support.ts"

/**
 * Framing and persistence from the field values (RFC 9112 sections 6 and
 * 9.3): a Transfer-Encoding element is empty or a coding name with
 * parameters, Content-Length is a list of one repeated decimal number, and an
 * HTTP/1.0 connection persists only when Connection lists keep-alive.
 */

const POST = "POST / HTTP/1.1\r\nHost: a\r\n"

describe("Transfer-Encoding elements", () => {
  it("an element with parameters but no coding name is malformed", () => {
    for (const value of [";x, chunked", "; x=1, chunked", " ;, chunked", "gzip, ;q, chunked", ";"]) {
      expect(transferCoding([value]), value).toBe("InvalidTransferEncoding")
      expect(parseRequest(`${POST}Transfer-Encoding: ${value}\r\n\r\n0\r\n\r\n`).error).toBe("InvalidTransferEncoding")
    }
  })

  it("parameters are allowed on codings other than chunked", () => {
    expect(transferCoding(["x;a=1, chunked"])).toBe("UnknownTransferCoding")
    expect(transferCoding(["chunked;a=1"])).toBe("InvalidTransferEncoding")
    const response = (codings: string) => {
      const parser = new ResponseParser()
      const result = parser.execute(bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${codings}\r\n\r\n`))
      const head = result.events.find((e) => e._tag === "Head")
      return result.error?.code ?? (head?._tag === "Head" ? head.head.framing._tag : undefined)
    }
    expect(response("gzip;level=1, chunked")).toBe("Chunked")
    expect(response("gzip;level=1")).toBe("UntilClose")
    // a response with chunked twice is an error wherever the second one stands
    expect(response("chunked, chunked, gzip")).toBe("ChunkedNotLast")
    expect(response("chunked, gzip, chunked")).toBe("ChunkedNotLast")
    expect(response("chunked, gzip")).toBe("UntilClose")
  })

  it("empty elements (OWS only) are skipped wherever they stand", () => {
    for (const value of [", chunked", "chunked,", " ,\t, chunked , ", ",,chunked"]) {
      expect(transferCoding([value]), value).toBeUndefined()
      expect(parseRequest(`${POST}Transfer-Encoding: ${value}\r\n\r\n0\r\n\r\n`).messages[0]?.head.framing).toEqual({
        _tag: "Chunked"
      })
    }
    expect(transferCoding(["", "chunked"])).toBeUndefined()
  })

  it("a list is chunked only when chunked is its one and last coding", () => {
    property(
      fc.array(fc.oneof(fc.constant("chunked"), token.map((t) => t.toLowerCase())), { minLength: 1, maxLength: 4 }),
      (codings) => {
        const result = transferCoding([codings.join(", ")])
        const chunkedCount = codings.filter((c) => c === "chunked").length
        if (chunkedCount !== 1 || codings[codings.length - 1] !== "chunked") expect(result).toBe("ChunkedNotLast")
        else if (codings.length > 1) expect(result).toBe("UnknownTransferCoding")
        else expect(result).toBeUndefined()
      },
      200
    )
  })
})

describe("Content-Length values", () => {
  it("a list of one number, repeated, with OWS around elements", () => {
    expect(contentLength(["5"])).toBe(5)
    expect(contentLength([" 5 ,\t5 "])).toBe(5)
    expect(contentLength(["5", "5, 5"])).toBe(5)
    expect(contentLength(["0"])).toBe(0)
    expect(contentLength(["9007199254740991"])).toBe(9007199254740991)
    expect(contentLength(["9007199254740992"])).toBe("InvalidContentLength")
    expect(contentLength(["5", "6"])).toBe("ConflictingContentLength")
    expect(contentLength(["5,6"])).toBe("ConflictingContentLength")
    expect(contentLength(["5;6"])).toBe("InvalidContentLength")
    expect(contentLength(["5,"])).toBe("InvalidContentLength")
    expect(contentLength([""])).toBe("InvalidContentLength")
    expect(contentLength(["5 5"])).toBe("InvalidContentLength")
  })

  it("any decimal number, with any OWS around it, reads as itself", () => {
    const ows = fc.constantFrom("", " ", "\t", " \t ")
    property(fc.tuple(ows, fc.nat(), ows, fc.nat({ max: 3 })), ([before, n, after, copies]) => {
      const element = before + n + after
      expect(contentLength([Array(copies + 1).fill(element).join(",")])).toBe(n)
    }, 200)
  })
})

describe("persistence", () => {
  it("HTTP/1.0 persists only with a keep-alive element, and close always ends it", () => {
    for (const value of ["", "Upgrade", "keep-alive2", "xkeep-alive", "keep", "alive", "keepalive", "close"]) {
      expect(keepAlive(HTTP_1_0, [value]), value).toBe(false)
      expect(keepAlive(HTTP_1_1, [value]), value).toBe(value !== "close")
    }
    for (const value of ["keep-alive", "Keep-Alive", "Upgrade, keep-alive", " KEEP-ALIVE\t"]) {
      expect(keepAlive(HTTP_1_0, [value]), value).toBe(true)
    }
    expect(keepAlive(HTTP_1_0, ["Upgrade", "keep-alive"])).toBe(true)
    expect(keepAlive(HTTP_1_0, ["keep-alive", "close"])).toBe(false)
    expect(keepAlive(HTTP_1_1, ["keep-alive", "close"])).toBe(false)
    expect(keepAlive(HTTP_1_0, undefined)).toBe(false)
    expect(keepAlive(HTTP_1_1, undefined)).toBe(true)
    expect(keepAlive({ major: 1, minor: 2 }, undefined)).toBe(true)
  })

  it("any Connection list: close ends, else HTTP/1.1 persists and HTTP/1.0 only with keep-alive", () => {
    const element = fc.oneof(fc.constantFrom("close", "keep-alive", "Close", "KEEP-ALIVE", "upgrade"), token)
    property(fc.array(fc.array(element, { maxLength: 3 }), { minLength: 1, maxLength: 3 }), (values) => {
      const all = values.flat().map((e) => e.toLowerCase())
      const lines = values.map((v) => v.join(", "))
      const close = all.includes("close")
      expect(keepAlive(HTTP_1_1, lines)).toBe(!close)
      expect(keepAlive(HTTP_1_0, lines)).toBe(!close && all.includes("keep-alive"))
    }, 200)
  })
})
