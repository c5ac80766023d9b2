import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { formatHttpDate, parseHttpDate } from "../../src/http/date.ts"
import { property } from "./support.ts"

const example = Date.UTC(1994, 10, 6, 8, 49, 37)

describe("HTTP-date", () => {
  it("formats IMF-fixdate", () => {
    expect(formatHttpDate(example)).toBe("Sun, 06 Nov 1994 08:49:37 GMT")
    expect(formatHttpDate(new Date(0))).toBe("Thu, 01 Jan 1970 00:00:00 GMT")
    expect(formatHttpDate(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe("Thu, 29 Feb 2024 23:59:59 GMT")
  })

  it("parses the three forms of RFC 9110", () => {
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")).toBe(example)
    expect(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT")).toBe(example)
    expect(parseHttpDate("Sun Nov  6 08:49:37 1994")).toBe(example)
    expect(parseHttpDate("Thu Nov 16 08:49:37 1994")).toBe(Date.UTC(1994, 10, 16, 8, 49, 37))
  })

  it("reads two-digit RFC 850 years relative to now when given", () => {
    const now = Date.UTC(2026, 0, 1)
    expect(new Date(parseHttpDate("Friday, 01-Jan-70 00:00:00 GMT", now)!).getUTCFullYear()).toBe(2070)
    expect(new Date(parseHttpDate("Friday, 01-Jan-77 00:00:00 GMT", now)!).getUTCFullYear()).toBe(1977)
    expect(new Date(parseHttpDate("Friday, 01-Jan-70 00:00:00 GMT")!).getUTCFullYear()).toBe(1970)
    expect(new Date(parseHttpDate("Friday, 01-Jan-26 00:00:00 GMT")!).getUTCFullYear()).toBe(2026)
    // "more than 50 years in the future" is the past (RFC 9110 section 5.6.7): exactly 50 is not
    expect(new Date(parseHttpDate("Friday, 01-Jan-76 00:00:00 GMT", now)!).getUTCFullYear()).toBe(2076)
    expect(new Date(parseHttpDate("Friday, 31-Dec-76 23:59:59 GMT", now)!).getUTCFullYear()).toBe(2076)
  })

  it("the last second of a minute may be 60 (a leap second), read as the next minute's first", () => {
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:60 GMT")).toBe(Date.UTC(1994, 10, 6, 8, 50, 0))
    expect(parseHttpDate("Sun Nov  6 23:59:60 1994")).toBe(Date.UTC(1994, 10, 7, 0, 0, 0))
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:61 GMT")).toBeUndefined()
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:99 GMT")).toBeUndefined()
  })

  it("returns undefined for junk and impossible dates", () => {
    for (
      const junk of [
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "1994-11-06T08:49:37Z"
      ]
    ) {
      expect(parseHttpDate(junk)).toBeUndefined()
    }
  })

  it("round-trips any whole second from year 0 to 9999", () => {
    property(fc.integer({ min: -62167219200, max: 253402300799 }), (seconds) => {
      const ms = seconds * 1000
      expect(parseHttpDate(formatHttpDate(ms))).toBe(ms)
    }, 1000)
  })

  it("never throws on arbitrary text", () => {
    property(fc.string({ maxLength: 40 }), (s) => {
      const parsed = parseHttpDate(s)
      expect(parsed === undefined || Number.isFinite(parsed)).toBe(true)
    }, 1000)
  })
})
