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
    ["bytes=\u20000-4", { _tag: "None" }]
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
