import { describe, expect, it } from "@effect/vitest"
import { isOws, trimOws } from "../../src/http/ows.ts"

// RFC 9110 5.6.3: OWS = *( SP / HTAB ). Nothing else is whitespace on the wire.
describe("OWS", () => {
  it("is SP or HTAB and no other code", () => {
    const ows: Array<number> = []
    for (let c = 0; c <= 0xffff; c++) if (isOws(c)) ows.push(c)
    expect(ows).toEqual([0x09, 0x20])
  })

  it("trimOws strips SP and HTAB at both ends and keeps the inside", () => {
    expect(trimOws("a")).toBe("a")
    expect(trimOws(" a")).toBe("a")
    expect(trimOws("a ")).toBe("a")
    expect(trimOws("\t \ta b\t c \t ")).toBe("a b\t c")
    expect(trimOws("  bytes=0-1  ")).toBe("bytes=0-1")
  })

  it("trimOws of nothing or only OWS is empty", () => {
    expect(trimOws("")).toBe("")
    expect(trimOws(" ")).toBe("")
    expect(trimOws("\t")).toBe("")
    expect(trimOws(" \t  \t")).toBe("")
  })

  it("trimOws leaves other spaces and line breaks in place", () => {
    for (const other of ["\u00a0", "\r", "\n", "\v", "\f", "\u2003", "\ufeff"]) {
      expect(trimOws(`${other}a${other}`)).toBe(`${other}a${other}`)
      expect(trimOws(` ${other} `)).toBe(other)
    }
  })
})
