import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { allBytes, parseRequest, property } from "./support.ts"

/**
 * The chunked coding's bounds, at and one past each: a chunk size has at most
 * 16 hex digits (leading zeros count), the chunk sizes of a body sum to at
 * most maxBodySize, and the chunk extensions of a message, ";" included,
 * total at most maxChunkExtensionSize.
 */

const chunked = (body: string) => `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`

describe("chunk sizes have at most 16 hex digits", () => {
  it("exactly 16 digits are read, 17 are refused, leading zeros included", () => {
    expect(parseRequest(chunked(`${"0".repeat(15)}3\r\nabc\r\n0\r\n\r\n`)).messages[0]?.body).toBe("abc")
    expect(parseRequest(chunked(`${"0".repeat(16)}3\r\nabc\r\n0\r\n\r\n`)).error).toBe("ChunkSizeOverflow")
    expect(parseRequest(chunked(`${"0".repeat(16)}\r\n\r\n`)).messages[0]?.body).toBe("")
    expect(parseRequest(chunked(`${"0".repeat(17)}\r\n\r\n`)).error).toBe("ChunkSizeOverflow")
  })

  it("a size digit is a hex digit of either case, any other byte ends or breaks the size", () => {
    const hex = "0123456789abcdefABCDEF"
    for (const b of allBytes) {
      const outcome = parseRequest(chunked(`1${b}\r\n${"x".repeat(0x1f)}\r\n0\r\n\r\n`))
      if (hex.includes(b)) {
        const size = 16 + parseInt(b, 16)
        if (size === 0x1f) expect(outcome.messages[0]?.body, JSON.stringify(b)).toBe("x".repeat(0x1f))
        else expect(outcome.error, JSON.stringify(b)).toMatch(/^(InvalidChunkTerminator|BareLF|BareCR)$/)
      } else if (b === ";") {
        expect(outcome.error, JSON.stringify(b)).toBe("InvalidChunkTerminator")
      } else {
        expect(outcome.error, JSON.stringify(b)).toMatch(/^(InvalidChunkSize|BareLF|BareCR)$/)
      }
    }
  })

  it("any number of digits: up to 16 the size is read, past 16 it overflows", () => {
    property(fc.tuple(fc.nat({ max: 24 }), fc.integer({ min: 1, max: 40 }), fc.boolean()), ([zeros, size, upper]) => {
      const digits = size.toString(16)
      const hex = "0".repeat(zeros) + (upper ? digits.toUpperCase() : digits)
      const data = "x".repeat(size)
      const outcome = parseRequest(chunked(`${hex}\r\n${data}\r\n0\r\n\r\n`))
      if (hex.length <= 16) expect(outcome.messages[0]?.body).toBe(data)
      else expect(outcome.error).toBe("ChunkSizeOverflow")
    }, 200)
  })

  it("the largest sizes: 2^53 - 1 passes the size check, 2^53 overflows", () => {
    // the body limit then refuses it, but not as an overflow
    expect(parseRequest(chunked("1fffffffffffff\r\n")).error).toBe("BodyTooLarge")
    expect(parseRequest(chunked("20000000000000\r\n")).error).toBe("ChunkSizeOverflow")
    expect(parseRequest(chunked("20000000000001\r\n")).error).toBe("ChunkSizeOverflow")
    expect(parseRequest(chunked("2000000000000f\r\n")).error).toBe("ChunkSizeOverflow")
    expect(parseRequest(chunked("001fffffffffffff\r\n")).error).toBe("BodyTooLarge")
    expect(parseRequest(chunked("0020000000000000\r\n")).error).toBe("ChunkSizeOverflow")
  })
})

/** Chunk data sizes and extensions of one body. */
const chunks = fc.array(
  fc.record({
    size: fc.integer({ min: 1, max: 12 }),
    ext: fc.constantFrom("", ";", ";a", ";a=b", ";abc", "; q=\"x\"")
  }),
  { minLength: 1, maxLength: 5 }
)
const lastExt = fc.constantFrom("", ";", ";end")

const wire = (list: ReadonlyArray<{ size: number; ext: string }>, last: string) =>
  list.map(({ ext, size }, i) => `${size.toString(16)}${ext}\r\n${String.fromCharCode(97 + i).repeat(size)}\r\n`)
    .join("") + `0${last}\r\n\r\n`

describe("a chunked body is bounded by the sum of its chunk sizes", () => {
  it("a body of exactly maxBodySize is read; one byte more is refused", () => {
    expect(parseRequest(chunked("4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n"), { maxBodySize: 10 }).messages[0]?.body)
      .toBe("abcdefghij")
    expect(parseRequest(chunked("4\r\nabcd\r\n7\r\nefghijk\r\n0\r\n\r\n"), { maxBodySize: 10 }).error)
      .toBe("BodyTooLarge")
  })

  it("any chunk list: read whole when its sizes sum to the limit or less, refused when more", () => {
    property(fc.tuple(chunks, fc.integer({ min: -2, max: 2 })), ([list, offset]) => {
      const total = list.reduce((n, c) => n + c.size, 0)
      const maxBodySize = Math.max(0, total + offset)
      const outcome = parseRequest(chunked(wire(list, "")), { maxBodySize })
      if (total <= maxBodySize) expect(outcome.messages[0]?.body.length).toBe(total)
      else expect(outcome.error).toBe("BodyTooLarge")
    }, 200)
  })
})

describe("chunk extensions are bounded by their total, ';' included", () => {
  it("extensions that sum to exactly the limit pass, ending in a bare ';' too", () => {
    const body = chunked("1;aaa\r\nx\r\n1;\r\ny\r\n0\r\n\r\n")
    expect(parseRequest(body, { maxChunkExtensionSize: 5 }).messages[0]?.body).toBe("xy")
    expect(parseRequest(body, { maxChunkExtensionSize: 4 }).error).toBe("ChunkExtensionTooLong")
    expect(parseRequest(chunked("1;\r\nx\r\n0\r\n\r\n"), { maxChunkExtensionSize: 1 }).messages[0]?.body).toBe("x")
    expect(parseRequest(chunked("1;\r\nx\r\n0\r\n\r\n"), { maxChunkExtensionSize: 0 }).error).toBe(
      "ChunkExtensionTooLong"
    )
  })

  it("any extensions: accepted when their total is at most the limit, refused past it", () => {
    property(fc.tuple(chunks, lastExt, fc.integer({ min: -2, max: 2 })), ([list, last, offset]) => {
      const total = list.reduce((n, c) => n + c.ext.length, 0) + last.length
      const maxChunkExtensionSize = Math.max(0, total + offset)
      const outcome = parseRequest(chunked(wire(list, last)), { maxChunkExtensionSize })
      if (total <= maxChunkExtensionSize) expect(outcome.error).toBeUndefined()
      else expect(outcome.error).toBe("ChunkExtensionTooLong")
    }, 200)
  })
})
