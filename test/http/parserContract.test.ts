import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { RequestParser } from "../../src/http/RequestParser.ts"
import { ResponseParser } from "../../src/http/ResponseParser.ts"
import { allBytes, bytes, cuts, parseRequest, parseRequestChunks, property, splitAt } from "./support.ts"

/**
 * What a connection loop relies on: a call consumes its whole input unless a
 * message ended or an error stopped it; a failed parser says so and repeats
 * its error, on close too; lines exactly at a limit pass however they are
 * split.
 */

const GET = "GET / HTTP/1.1\r\nHost: a\r\n"

describe("a call consumes its whole input, unless a message ended or it failed", () => {
  it("any split of a head, a body and a pipelined request", () => {
    const wire = bytes(
      `POST /a HTTP/1.1\r\nHost: a\r\nX-Long: ${"v".repeat(300)}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n${GET}X: 1\r\n\r\n`
    )
    property(cuts, (at) => {
      const parser = new RequestParser()
      let ends = 0
      for (const chunk of splitAt(wire, at)) {
        let rest = chunk
        while (rest.length > 0) {
          const result = parser.execute(rest)
          expect(result.error).toBeUndefined()
          const ended = result.events.some((e) => e._tag === "End")
          if (ended) ends++
          else expect(result.consumed).toBe(rest.length)
          rest = rest.subarray(result.consumed)
        }
      }
      expect(ends).toBe(2)
    }, 200)
  })
})

describe("a failed parser stays failed", () => {
  it("failed is false until an error, then true; finish repeats the error", () => {
    for (const parser of [new RequestParser(), new ResponseParser()]) {
      expect(parser.failed).toBe(false)
      const first = parser instanceof RequestParser
        ? parser.execute(bytes(`${GET}\r\nGET / HTTP/1.1\r\n`))
        : parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
      expect(first.error).toBeUndefined()
      expect(parser.failed).toBe(false)
      const bad = parser.execute(bytes("\x16\x03\x01 garbage\r\n\r\n"))
      expect(bad.error).toBeDefined()
      expect(parser.failed).toBe(true)
      expect(parser.finish()).toEqual({ consumed: 0, events: [], error: bad.error })
      expect(parser.execute(bytes(GET)).error).toBe(bad.error)
    }
  })
})

describe("lines exactly at their limit pass in any split", () => {
  // past 256 bytes, so the line buffer has to grow to the limit
  const limits = { maxStartLineSize: 600, maxHeaderSectionSize: 1000 }

  it("a request line and a header section of exactly their limits", () => {
    const target = "/" + "t".repeat(600 - "GET  HTTP/1.1".length - 1)
    // "Host: a\r\n" (9) + the long field + "\r\n" (2) = 1000
    const field = `X: ${"f".repeat(1000 - 9 - 2 - 5)}\r\n`
    const raw = `GET ${target} HTTP/1.1\r\nHost: a\r\n${field}\r\n`
    const data = bytes(raw)
    const whole = parseRequestChunks([data], limits)
    expect(whole.error).toBeUndefined()
    expect(whole.messages[0]?.head.target).toBe(target)
    property(cuts, (at) => {
      expect(parseRequestChunks(splitAt(data, at), limits)).toEqual(whole)
    }, 100)
    // the line, then the field, each after its first byte
    const fieldAt = raw.indexOf("X: ")
    expect(parseRequestChunks(splitAt(data, [1, fieldAt + 1]), limits)).toEqual(whole)
    expect(parseRequest(raw.replace(target, target + "t"), limits).error).toBe("UriTooLong")
    expect(parseRequest(raw.replace(field, "X" + field), limits).error).toBe("HeaderSectionTooLarge")
  })
})

describe("a chunk size starts with a hex digit", () => {
  it("any other first byte is refused: a bare LF as BareLF, the rest as InvalidChunkSize", () => {
    const hex = "0123456789abcdefABCDEF"
    for (const b of allBytes) {
      if (hex.includes(b)) continue
      const outcome = parseRequest(
        `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${b}1\r\nx\r\n0\r\n\r\n`
      )
      expect(outcome.error, JSON.stringify(b)).toBe(b === "\n" ? "BareLF" : "InvalidChunkSize")
    }
  })

  it("after a digit, a bare LF is BareLF, a CR must precede an LF, and other bytes are InvalidChunkSize", () => {
    const hex = "0123456789abcdefABCDEF"
    property(fc.constantFrom(...allBytes.filter((b) => !hex.includes(b) && b !== ";")), (b) => {
      const outcome = parseRequest(
        `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1${b}\nx\r\n0\r\n\r\n`
      )
      expect(outcome.error).toBe(b === "\n" ? "BareLF" : b === "\r" ? undefined : "InvalidChunkSize")
    }, 100)
  })
})
