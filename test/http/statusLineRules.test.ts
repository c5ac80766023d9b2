import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { REASON } from "../../src/http/chars.ts"
import type { ResponseHead } from "../../src/http/message.ts"
import { ResponseParser } from "../../src/http/ResponseParser.ts"
import { allBytes, bytes, feed, type Outcome, property } from "./support.ts"

/**
 * The status line is `HTTP-version SP 3DIGIT [SP reason] CRLF` byte for byte:
 * every byte of it is checked, so a line wrong in any one byte is refused or
 * read as what it then says, never as the line it resembles.
 */

const parse = (raw: string): Outcome<ResponseHead> => {
  const parser = new ResponseParser()
  const data = bytes(raw)
  const whole = feed(parser, (input) => parser.execute(input), [data], undefined, () => parser.finish())
  const bytewise = new ResponseParser()
  expect(
    feed(
      bytewise,
      (input) => bytewise.execute(input),
      Array.from(data, (_, i) => data.subarray(i, i + 1)),
      undefined,
      () => bytewise.finish()
    )
  ).toEqual(whole)
  return whole
}

const LINE = "HTTP/1.1 234 Fine"
/** A final response after the line under test, so that an interim one is followed by something. */
const REST = "\r\nContent-Length: 0\r\n\r\nHTTP/1.1 299 Final\r\nContent-Length: 0\r\n\r\n"
const refused = /^(InvalidVersion|InvalidStatusLine|BareCR|BareLF)$/

const isDigit = (b: string) => b >= "0" && b <= "9"

describe("a status line wrong in one byte", () => {
  it("in the version: refused, unless it is still a version", () => {
    for (let at = 0; at < 8; at++) {
      for (const b of allBytes) {
        if (b === LINE[at]) continue
        const outcome = parse(LINE.slice(0, at) + b + LINE.slice(at + 1) + REST)
        if ((at === 5 || at === 7) && isDigit(b)) {
          if (at === 5) expect(outcome.error).toBe("VersionNotSupported")
          else expect(outcome.messages[0]?.head.version).toEqual({ major: 1, minor: Number(b) })
        } else {
          expect(outcome.error, JSON.stringify(b) + " at " + at).toMatch(refused)
        }
      }
    }
  })

  it("in the SP after the version or after the code: refused", () => {
    for (const at of [8, 12]) {
      for (const b of allBytes) {
        if (b === " ") continue
        const outcome = parse(LINE.slice(0, at) + b + LINE.slice(at + 1) + REST)
        expect(outcome.error, JSON.stringify(b) + " at " + at).toMatch(refused)
      }
    }
  })

  it("in the status code: refused unless a digit, and then read as that code", () => {
    for (let at = 9; at < 12; at++) {
      for (const b of allBytes) {
        const line = LINE.slice(0, at) + b + LINE.slice(at + 1)
        const outcome = parse(line + REST)
        if (!isDigit(b) || (at === 9 && b === "0")) {
          expect(outcome.error, JSON.stringify(line)).toMatch(refused)
          continue
        }
        const status = Number(line.slice(9, 12))
        expect(outcome.error, line).toBeUndefined()
        const interim = status < 200 && status !== 101
        expect(outcome.messages[0]?.head.status, line).toBe(interim ? 299 : status)
      }
    }
  })

  it("in the reason: read when a reason byte, refused otherwise", () => {
    for (const b of allBytes) {
      const outcome = parse(`HTTP/1.1 234 F${b}ne${REST}`)
      if (REASON[b.charCodeAt(0)] === 1) expect(outcome.messages[0]?.head.reason).toBe(`F${b}ne`)
      else expect(outcome.error, JSON.stringify(b)).toMatch(refused)
    }
  })

  it("any three-digit code from 100 to 999 is read as itself", () => {
    property(fc.integer({ min: 100, max: 999 }), (status) => {
      const outcome = parse(`HTTP/1.1 ${status} X${REST}`)
      const interim = status < 200 && status !== 101
      expect(outcome.messages[0]?.head.status).toBe(interim ? 299 : status)
    }, 200)
  })
})

describe("a CR inside the status line is a bare CR, whichever check refuses the line", () => {
  it("in a line too short, in place of a SP, in the code, after it", () => {
    for (
      const line of [
        "HTTP/1.1\r",
        "HTTP/1.1 2\r0",
        "HTTP/1.1\r200 OK",
        "HTT\rP/1.1 200 OK",
        "HTTP/1.1 2\r0 OK",
        "HTTP/1.1 20\r OK",
        "HTTP/1.1 200\rOK"
      ]
    ) {
      expect(parse(`${line}${REST}`).error, JSON.stringify(line)).toBe("BareCR")
    }
  })

  it("without a CR the same lines are malformed, not bare CRs", () => {
    for (const line of ["HTTP/1.1", "HTTP/1.1 2x0", "HTTP/1.1\t200 OK", "HTTP/1.1 20x OK", "HTTP/1.1 200\tOK"]) {
      expect(parse(`${line}${REST}`).error, JSON.stringify(line)).toBe("InvalidStatusLine")
    }
  })
})
