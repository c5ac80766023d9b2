import { describe, expect, it } from "@effect/vitest"
import { formatHttpDate } from "../../src/http/date.ts"
import { Headers } from "../../src/http/Headers.ts"
import { noneMatch, notModified, rangeStillValid } from "../../src/server/conditional.ts"

const etag = "\"1f-18c2a1b3e00\""
// an mtime with milliseconds: HTTP dates carry whole seconds only
const mtime = new Date(Date.UTC(2026, 11, 5, 10, 20, 30, 700))
const file = { mtime }
const lastModified = formatHttpDate(mtime)
const secondsLater = (n: number) => formatHttpDate(mtime.getTime() + n * 1000)
const request = (fields: Record<string, string>) => ({ headers: new Headers(Object.entries(fields)) })

describe("If-None-Match (weak comparison, RFC 9110 13.1.2)", () => {
  it("matches the tag itself, its weak form, or * alone", () => {
    expect(noneMatch(etag, etag)).toBe(true)
    expect(noneMatch(`W/${etag}`, etag)).toBe(true)
    expect(noneMatch("*", etag)).toBe(true)
    expect(noneMatch(" \t* ", etag)).toBe(true)
  })

  it("matches any member of a list, with SP/HTAB around the commas", () => {
    expect(noneMatch(`"a", W/"b",${etag}`, etag)).toBe(true)
    expect(noneMatch(`${etag} ,"a"`, etag)).toBe(true)
    expect(noneMatch(`"a",\t W/${etag}\t`, etag)).toBe(true)
  })

  it("matches no other tag: not a prefix, not another list, not * inside a list", () => {
    expect(noneMatch("\"other\"", etag)).toBe(false)
    expect(noneMatch("\"a\", \"b\"", etag)).toBe(false)
    expect(noneMatch(etag.slice(0, -2) + "\"", etag)).toBe(false)
    expect(noneMatch(`W/W/${etag}`, etag)).toBe(false)
    expect(noneMatch(etag.slice(1, -1), etag)).toBe(false)
    expect(noneMatch("\"a\", *", etag)).toBe(false)
    expect(noneMatch("", etag)).toBe(false)
    expect(noneMatch(`\u00a0${etag}`, etag)).toBe(false)
  })
})

describe("notModified: 304 or not", () => {
  it("no precondition: the whole answer", () => {
    expect(notModified(request({}), file, etag)).toBe(false)
  })

  it("If-Modified-Since: 304 when the file is not newer, to the second", () => {
    expect(notModified(request({ "If-Modified-Since": lastModified }), file, etag)).toBe(true)
    expect(notModified(request({ "If-Modified-Since": secondsLater(1) }), file, etag)).toBe(true)
    expect(notModified(request({ "If-Modified-Since": secondsLater(-1) }), file, etag)).toBe(false)
  })

  it("If-Modified-Since that is not a date is ignored", () => {
    for (const value of ["yesterday", "", "0", "Sat, 05 Dec 2026 10:20:30"]) {
      expect(notModified(request({ "If-Modified-Since": value }), file, etag), value).toBe(false)
    }
  })

  it("If-None-Match decides alone when present, whatever If-Modified-Since says", () => {
    const fresh = { "If-Modified-Since": lastModified }
    expect(notModified(request({ "If-None-Match": "\"other\"", ...fresh }), file, etag)).toBe(false)
    expect(notModified(request({ "If-None-Match": etag, "If-Modified-Since": secondsLater(-60) }), file, etag)).toBe(
      true
    )
  })
})

describe("rangeStillValid (If-Range, RFC 9110 13.1.5)", () => {
  it("no If-Range: the Range applies", () => {
    expect(rangeStillValid(request({}), file, etag)).toBe(true)
  })

  it("an ETag: only the same strong tag", () => {
    expect(rangeStillValid(request({ "If-Range": etag }), file, etag)).toBe(true)
    expect(rangeStillValid(request({ "If-Range": ` ${etag}\t` }), file, etag)).toBe(true)
    expect(rangeStillValid(request({ "If-Range": `W/${etag}` }), file, etag)).toBe(false)
    expect(rangeStillValid(request({ "If-Range": "\"old\"" }), file, etag)).toBe(false)
    expect(rangeStillValid(request({ "If-Range": "*" }), file, etag)).toBe(false)
  })

  it("a date: only the file's Last-Modified second, not an earlier or later one", () => {
    expect(rangeStillValid(request({ "If-Range": lastModified }), file, etag)).toBe(true)
    expect(rangeStillValid(request({ "If-Range": secondsLater(1) }), file, etag)).toBe(false)
    expect(rangeStillValid(request({ "If-Range": secondsLater(-1) }), file, etag)).toBe(false)
    expect(rangeStillValid(request({ "If-Range": "yesterday" }), file, etag)).toBe(false)
  })
})
