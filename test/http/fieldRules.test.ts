import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { FIELD_VALUE, latin1, latin1Portable, TextWindow } from "../../src/http/chars.ts"
import { RequestParser } from "../../src/http/RequestParser.ts"
import { ResponseParser } from "../../src/http/ResponseParser.ts"
import { allBytes, bytes, cuts, feed, parseRequest, parseRequestChunks, property, splitAt } from "./support.ts"

/**
 * Rules of field lines that the framing and the connection depend on: only
 * the exact names (any case) act, and a line ends in CRLF whatever came
 * before the LF. Heads longer than the decoder's window read back intact.
 */

const POST = "POST / HTTP/1.1\r\nHost: a\r\n"

const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

/** A token of `name`'s length that is not `name` in any case. */
const sameLengthOther = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    // one character changed: the nearest misses
    fc.tuple(fc.nat({ max: name.length - 1 }), fc.constantFrom(...tchars)).map(([at, c]) =>
      name.slice(0, at) + c + name.slice(at + 1)
    ),
    fc.string({ unit: fc.constantFrom(...tchars), minLength: name.length, maxLength: name.length })
  ).filter((other) => other.toLowerCase() !== name)

/** `name` with each letter's case chosen at random. */
const anyCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) =>
    Array.from(name, (c, i) => (upper[i] ? c.toUpperCase() : c)).join("")
  )

describe("field names: only the framing names themselves act", () => {
  it("a name as long as Content-Length is not Content-Length: no body is framed", () => {
    expect(parseRequest(`${POST}X-Custom-Head1: 5\r\n\r\n`).messages[0]?.head.framing).toEqual({ _tag: "None" })
    property(fc.tuple(sameLengthOther("content-length"), fc.nat({ max: 20 })), ([name, n]) => {
      const outcome = parseRequest(`${POST}${name}: ${n}\r\n\r\n`)
      expect(outcome.error).toBeUndefined()
      expect(outcome.messages[0]?.head.framing).toEqual({ _tag: "None" })
    }, 100)
  })

  it("a name as long as Transfer-Encoding is not Transfer-Encoding", () => {
    property(sameLengthOther("transfer-encoding"), (name) => {
      const outcome = parseRequest(`${POST}${name}: chunked\r\n\r\n`)
      expect(outcome.error).toBeUndefined()
      expect(outcome.messages[0]?.head.framing).toEqual({ _tag: "None" })
    }, 100)
  })

  it("a name as long as Connection is not Connection: the connection persists", () => {
    property(sameLengthOther("connection"), (name) => {
      const outcome = parseRequest(`${POST}${name}: close\r\n\r\n`)
      expect(outcome.messages[0]?.head.keepAlive).toBe(true)
      const old = parseRequest(`POST / HTTP/1.0\r\n${name}: keep-alive\r\n\r\n`)
      expect(old.messages[0]?.head.keepAlive).toBe(false)
    }, 100)
  })

  it("a name as long as Host is not Host: HTTP/1.1 without Host is refused", () => {
    property(sameLengthOther("host"), (name) => {
      expect(parseRequest(`GET / HTTP/1.1\r\n${name}: a\r\n\r\n`).error).toBe("MissingHost")
    }, 100)
  })

  it("the framing names act in any case", () => {
    property(
      fc.tuple(anyCase("content-length"), anyCase("transfer-encoding"), anyCase("connection"), anyCase("host")),
      ([length, coding, connection, host]) => {
        const byLength = parseRequest(`POST / HTTP/1.1\r\n${host}: a\r\n${length}: 3\r\n\r\nabc`)
        expect(byLength.messages[0]?.head.framing).toEqual({ _tag: "ContentLength", length: 3 })
        expect(byLength.messages[0]?.body).toBe("abc")
        const byCoding = parseRequest(`${POST}${coding}: chunked\r\n${connection}: close\r\n\r\n1\r\nx\r\n0\r\n\r\n`)
        expect(byCoding.messages[0]?.head.framing).toEqual({ _tag: "Chunked" })
        expect(byCoding.messages[0]?.head.keepAlive).toBe(false)
        expect(parseRequest(`GET / HTTP/1.1\r\n${host}: a\r\n${host}: b\r\n\r\n`).error).toBe("DuplicateHost")
      },
      100
    )
  })
})

describe("field lines end in CRLF: a bad byte before LF never passes", () => {
  it("any byte then a bare LF ends no field line", () => {
    for (const b of allBytes) {
      // CR then LF is the line end itself; a second line keeps the parser reading
      if (b === "\r") continue
      const outcome = parseRequest(`${POST}X: a${b}\nY: 1\r\n\r\n`)
      expect(outcome.error, JSON.stringify(b)).toBe("BareLF")
    }
  })

  it("a byte outside the field-value set before CRLF is refused, whatever it is", () => {
    for (const b of allBytes) {
      const outcome = parseRequest(`${POST}X: a${b}\r\n\r\n`)
      if (FIELD_VALUE[b.charCodeAt(0)] === 1) {
        expect(outcome.error, JSON.stringify(b)).toBeUndefined()
      } else {
        const expected = b === "\r" ? "BareCR" : b === "\n" ? "BareLF" : "InvalidHeaderValue"
        expect(outcome.error, JSON.stringify(b)).toBe(expected)
      }
    }
  })

  it("a line without a colon is no field, however it ends", () => {
    for (const line of ["X-A", "X-A ", "X-A\t", "X-A 1", "X-A\x00", "X-A=1"]) {
      expect(parseRequest(`${POST}${line}\r\n\r\n`).error, JSON.stringify(line)).toBe("InvalidHeaderName")
      expect(parseRequest(`${POST}${line}\r\nY: 1\r\n\r\n`).error, JSON.stringify(line)).toBe("InvalidHeaderName")
    }
  })

  it("a name byte outside the token set is refused, whatever it is", () => {
    for (const b of allBytes) {
      if (tchars.includes(b) || b === ":") continue
      const outcome = parseRequest(`${POST}X${b}Y: a\r\n\r\n`)
      expect(outcome.error, JSON.stringify(b)).toMatch(/^(InvalidHeaderName|BareCR|BareLF|WhitespaceBeforeColon)$/)
    }
  })
})

describe("heads longer than the decoder's window read back intact", () => {
  /** Fields with distinct values, so a value read from the wrong place shows. */
  const longFields = fc.array(
    fc.tuple(
      fc.string({ unit: fc.constantFrom(..."abcxyz-"), minLength: 1, maxLength: 30 }).map((n) => "X-" + n),
      fc.string({ unit: fc.constantFrom(..."0123456789ABCDEF ;,=\xe9"), minLength: 1, maxLength: 300 })
        .map((v) => v.trim())
    ),
    { minLength: 8, maxLength: 40 }
  )

  it("every name and value of a head of several KiB, however it is split", () => {
    property(fc.tuple(longFields, cuts), ([fields, at]) => {
      const head = `GET / HTTP/1.1\r\nHost: a\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`
      const expected = [["Host", "a"], ...fields]
      const whole = parseRequestChunks([bytes(head)])
      expect(whole.error).toBeUndefined()
      expect(whole.messages[0]?.head.headers.entries).toEqual(expected)
      expect(parseRequestChunks(splitAt(bytes(head), at))).toEqual(whole)
    }, 100)
  })

  it("a caller may refill the same buffer: every input is read afresh", () => {
    const parser = new RequestParser()
    const buffer = bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Value: 111\r\n\r\n")
    const first = parser.execute(buffer)
    buffer.set(bytes("GET / HTTP/1.1\r\nHost: b\r\nX-Value: 222\r\n\r\n"))
    const second = parser.execute(buffer)
    const heads = [first, second].map((r) => r.events.find((e) => e._tag === "Head"))
    expect(heads.map((e) => e?._tag === "Head" && e.head.headers.get("X-Value"))).toEqual(["111", "222"])
    expect(heads.map((e) => e?._tag === "Head" && e.head.headers.get("Host"))).toEqual(["a", "b"])
  })

  it("a value that starts past the first KiB of a head", () => {
    const filler = "f".repeat(1500)
    const outcome = parseRequest(`GET / HTTP/1.1\r\nHost: a\r\nX-Filler: ${filler}\r\nX-Late: late value\r\n\r\n`)
    expect(outcome.messages[0]?.head.headers.get("X-Late")).toBe("late value")
    expect(outcome.messages[0]?.head.headers.get("X-Filler")).toBe(filler)
  })

  it("the portable Latin-1 decoder gives Node's text, for any range of any length", () => {
    const data = fc.uint8Array({ minLength: 1, maxLength: 10_000 })
    property(
      data.chain((d) => fc.tuple(fc.constant(d), fc.nat({ max: d.length }), fc.nat({ max: d.length }))),
      ([d, a, b]) => {
        const [start, end] = [Math.min(a, b), Math.max(a, b)]
        expect(latin1Portable(d, start, end)).toBe(latin1(d, start, end))
        expect(latin1Portable(d, start, end)).toBe(Buffer.from(d.subarray(start, end)).toString("latin1"))
      },
      100
    )
    const long = Uint8Array.from({ length: 9000 }, (_, i) => i % 256)
    expect(latin1Portable(long, 0, long.length)).toBe(Buffer.from(long).toString("latin1"))
    expect(latin1Portable(long, 4095, 8193)).toBe(Buffer.from(long.subarray(4095, 8193)).toString("latin1"))
  })

  it("TextWindow slices equal a direct decode, in any order, across windows", () => {
    const data = fc.uint8Array({ minLength: 1, maxLength: 5000 })
    property(
      data.chain((d) =>
        fc.tuple(
          fc.constant(d),
          fc.array(
            fc.tuple(fc.nat({ max: d.length }), fc.nat({ max: d.length })).map((
              [a, b]
            ) => [Math.min(a, b), Math.max(a, b)]),
            { minLength: 1, maxLength: 20 }
          )
        )
      ),
      ([d, ranges]) => {
        const window = new TextWindow()
        for (const [start, end] of ranges) {
          expect(window.slice(d, start!, end!)).toBe(String.fromCharCode(...d.subarray(start, end)))
        }
      },
      200
    )
  })
})

describe("a head read leniently (bare LF allowed) still reads only its own line", () => {
  /** Lines end where their LF is, whatever a longer line left in the parser's buffer past that point. */
  const lenient = (chunks: ReadonlyArray<string>) => {
    const parser = new ResponseParser({}, true)
    return feed(parser, (input) => parser.execute(input), chunks.map(bytes), undefined, () => parser.finish())
  }

  it("a line without a colon, or with nothing after its name's space, is refused after a longer line", () => {
    // the longer line leaves name characters, then a colon, past the next line's end
    expect(lenient(["HTTP/1.1 200 OK\r\nXY", "ZW: 12345\r\n", "A", "bc\n\r\n"]).error).toBe("InvalidHeaderName")
    expect(lenient(["HTTP/1.1 200 OK\r\nXY", "Z: 12345\r\n", "A", "b \n\r\n"]).error).toBe("InvalidHeaderName")
  })

  it("an empty value stays empty after a longer line", () => {
    const outcome = lenient(["HTTP/1.1 200 OK\r\nXY", ":   value\r\n", "A", "b:\nContent-Length: 0\n\n"])
    expect(outcome.error).toBeUndefined()
    expect(outcome.messages[0]?.head.headers.entries).toEqual([["XY", "value"], ["Ab", ""], ["Content-Length", "0"]])
  })

  it("a fold of only whitespace adds nothing after a longer line", () => {
    // the longer line leaves whitespace, then a value, past the fold's end
    const outcome = lenient(["HTTP/1.1 200 OK\r\nXY", ":   value\r\n", "A", "b: c\n", " ", "  \nContent-Length: 0\n\n"])
    expect(outcome.error).toBeUndefined()
    expect(outcome.messages[0]?.head.headers.entries).toEqual([["XY", "value"], ["Ab", "c"], ["Content-Length", "0"]])
  })
})
