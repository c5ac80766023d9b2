import { describe, expect, it } from "@effect/vitest"
import { parseRange } from "../../src/server/Range.ts"

describe("parseRange", () => {
  const size = 1000
  const cases: ReadonlyArray<readonly [string, ReturnType<typeof parseRange>]> = [
    ["bytes=0-99", { _tag: "Single", start: 0, end: 99 }],
    ["bytes=100-", { _tag: "Single", start: 100, end: 999 }],
    ["bytes=-100", { _tag: "Single", start: 900, end: 999 }],
    ["bytes=-5000", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=990-5000", { _tag: "Single", start: 990, end: 999 }],
    ["Bytes = 5-5", { _tag: "Single", start: 5, end: 5 }],
    ["bytes=999-999", { _tag: "Single", start: 999, end: 999 }],
    ["bytes=1000-", { _tag: "Unsatisfiable" }],
    ["bytes=5000-6000", { _tag: "Unsatisfiable" }],
    ["bytes=-0", { _tag: "Unsatisfiable" }],
    ["bytes=0-1,5-6", { _tag: "None" }],
    ["bytes=9-5", { _tag: "None" }],
    ["bytes=-", { _tag: "None" }],
    ["bytes=a-b", { _tag: "None" }],
    ["items=0-5", { _tag: "None" }],
    ["bytes0-5", { _tag: "None" }],
    ["bytes=", { _tag: "None" }],
    // OWS is SP and HTAB only: other white space leaves the header malformed
    ["bytes=\t0-4 , ", { _tag: "Single", start: 0, end: 4 }],
    ["bytes=0-4\u00a0", { _tag: "None" }],
    ["\u00a0bytes=0-4", { _tag: "None" }],
    ["bytes=\u20000-4", { _tag: "None" }],
    // the unit is "bytes", case-insensitive, with SP/HTAB OWS around it; nothing else
    [" \tBYTES \t=0-4", { _tag: "Single", start: 0, end: 4 }],
    ["xbytes=0-4", { _tag: "None" }],
    ["bytesx=0-4", { _tag: "None" }],
    ["byte=0-4", { _tag: "None" }],
    ["0-4", { _tag: "None" }],
    // SP/HTAB around the dash
    ["bytes=5 -\t9", { _tag: "Single", start: 5, end: 9 }],
    ["bytes=5 \t- 9", { _tag: "Single", start: 5, end: 9 }],
    ["bytes=-\t10", { _tag: "Single", start: 990, end: 999 }],
    ["bytes=5x-9", { _tag: "None" }],
    ["bytes=5-9x", { _tag: "None" }],
    ["bytes=5--9", { _tag: "None" }],
    // the first and the last byte of the file
    ["bytes=0-0", { _tag: "Single", start: 0, end: 0 }],
    ["bytes=0-", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=999-", { _tag: "Single", start: 999, end: 999 }],
    ["bytes=998-999", { _tag: "Single", start: 998, end: 999 }],
    ["bytes=0-999", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=0-1000", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=-1", { _tag: "Single", start: 999, end: 999 }],
    ["bytes=-999", { _tag: "Single", start: 1, end: 999 }],
    ["bytes=-1000", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=-1001", { _tag: "Single", start: 0, end: 999 }],
    ["bytes=6-5", { _tag: "None" }],
    // several ranges, even the same twice, or empty list members around one
    ["bytes=0-4,0-4", { _tag: "None" }],
    ["bytes=,0-4,", { _tag: "Single", start: 0, end: 4 }],
    ["bytes=, ,", { _tag: "None" }]
  ]
  it.each(cases)("%s", (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected)
  })

  it("a range on an empty file is ignored: the whole (empty) file, as nginx and python answer", () => {
    for (const header of ["bytes=0-", "bytes=-1", "bytes=0-0", "bytes=5-9", "bytes=-0"]) {
      expect(parseRange(header, 0), header).toEqual({ _tag: "None" })
    }
  })
})
