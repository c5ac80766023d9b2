// A request line whose method already shows it is not HTTP (a TLS handshake, binary, a port scan)
// is refused on its first bad byte, not after the header timeout; the outcome still never depends
// on how the input is split.
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { RequestHead } from "../../src/http/message.ts"
import { type RequestLimits, RequestParser } from "../../src/http/RequestParser.ts"
import { bytes, cuts, feed, type Outcome, property, splitAt } from "./support.ts"

const parseChunks = (chunks: ReadonlyArray<Uint8Array>, limits: Partial<RequestLimits> = {}): Outcome<RequestHead> => {
  const parser = new RequestParser(limits)
  return feed(parser, (input) => parser.execute(input), chunks)
}

const byteByByte = (data: Uint8Array) => Array.from(data, (_, i) => data.subarray(i, i + 1))

/** The first bytes a TLS client sends: a handshake record holding a ClientHello, no line feed anywhere. */
const clientHello = Uint8Array.from([
  0x16,
  0x03,
  0x01,
  0x02,
  0x00,
  0x01,
  0x00,
  0x01,
  0xfc,
  0x03,
  0x03,
  ...new Array(40).fill(0x42)
])

describe("RequestParser: partial request lines", () => {
  it("a TLS ClientHello is refused at its first byte (400), whole or byte by byte", () => {
    const parser = new RequestParser()
    const result = parser.execute(clientHello)
    expect(result.error?.code).toBe("InvalidMethod")
    expect(result.error?.status).toBe(400)
    expect(parser.bufferedBytes).toBe(0)
    const first = new RequestParser().execute(clientHello.subarray(0, 1))
    expect(first.error?.code).toBe("InvalidMethod")
  })

  it("a bad byte inside a method still arriving: refused before the line ends", () => {
    expect(parseChunks([bytes("GE\x00")]).error).toBe("InvalidMethod")
    expect(parseChunks([bytes("GE"), bytes("T\x80")]).error).toBe("InvalidMethod")
    expect(parseChunks([bytes("\r\n\r\n\x16")]).error).toBe("InvalidMethod")
    // and on a kept-alive connection, for the second request
    const second = parseChunks([bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nGE\x7f")])
    expect(second.messages).toHaveLength(1)
    expect(second.error).toBe("InvalidMethod")
  })

  it("what may still become a request line is left to wait: a method, a CR, bytes after the method", () => {
    for (const partial of ["GET", "GET ", "GET /\x00", "GET / HTTP/9", "\r", "G\r", "GET\t"]) {
      const outcome = parseChunks([bytes(partial)])
      expect(outcome.error, JSON.stringify(partial)).toBe(partial === "GET\t" ? "InvalidMethod" : undefined)
    }
  })

  it("a method of token chars past the line limit is still 414, with or without a bad byte after the limit", () => {
    expect(parseChunks([bytes("A".repeat(9000))]).error).toBe("UriTooLong")
    expect(parseChunks([bytes("A".repeat(65) + "\x16")], { maxStartLineSize: 64 }).error).toBe("UriTooLong")
    expect(parseChunks([bytes("A".repeat(63) + "\x16")], { maxStartLineSize: 64 }).error).toBe("InvalidMethod")
    expect(parseChunks(byteByByte(bytes("A".repeat(63) + "\x16")), { maxStartLineSize: 64 }).error).toBe(
      "InvalidMethod"
    )
  })

  it("property: any split gives the outcome of the whole, and the line once complete is refused the same way", () => {
    const tchar = fc.constantFrom(..."GETPOSabc!#$%&'*+-.^_`|~09")
    const line = fc
      .tuple(
        fc.string({ unit: tchar, maxLength: 90 }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 40 })
      )
      // no LF: the line stays partial
      .map(([method, bad, tail]) => Uint8Array.from([...bytes(method), bad, ...tail].filter((b) => b !== 0x0a)))
    property(fc.tuple(line, cuts, fc.constantFrom(64, 8192)), ([data, at, limit]) => {
      const limits = { maxStartLineSize: limit }
      const whole = parseChunks([data], limits)
      expect(parseChunks(splitAt(data, at), limits)).toEqual(whole)
      expect(parseChunks(byteByByte(data), limits)).toEqual(whole)
      if (whole.error === "InvalidMethod") {
        // the complete line (when within the limit) is refused for the same reason
        const complete = Uint8Array.from([...data, 0x0d, 0x0a, 0x0d, 0x0a])
        expect(parseChunks([complete], limits).error).toBe("InvalidMethod")
      }
    }, 500)
  })

  it("property: lines with CR, LF and garbage anywhere (complete, bare-LF ended, over the limit) split any way agree", () => {
    const piece = fc.oneof(
      fc.constantFrom(
        "GET",
        "G",
        " ",
        "/",
        "\r",
        "\n",
        "\r\n",
        "HTTP/1.1",
        "A".repeat(70),
        "\x16\x03",
        "\x00",
        "\t",
        "Host: a"
      ),
      fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b))
    )
    const input = fc.array(piece, { maxLength: 20 }).map((parts) => bytes(parts.join("")))
    property(fc.tuple(input, cuts, fc.constantFrom(64, 8192)), ([data, at, limit]) => {
      const limits = { maxStartLineSize: limit, maxHeaderSectionSize: 256 }
      const whole = parseChunks([data], limits)
      expect(parseChunks(splitAt(data, at), limits)).toEqual(whole)
      expect(parseChunks(byteByByte(data), limits)).toEqual(whole)
    }, 1000)
  })
})
