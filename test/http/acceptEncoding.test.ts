import { describe, expect, it } from "@effect/vitest"
import { acceptedCodings, chooseCoding } from "../../src/http/acceptEncoding.ts"

const both = ["br", "gzip"] as const

describe("chooseCoding", () => {
  it("without the field: identity", () => {
    expect(chooseCoding(undefined, both)).toBe("identity")
  })

  it("a browser's list: br first, by the server's order", () => {
    expect(chooseCoding("gzip, deflate, br, zstd", both)).toBe("br")
    expect(chooseCoding("gzip, deflate", both)).toBe("gzip")
    expect(chooseCoding("x-gzip", both)).toBe("gzip")
  })

  it("q-values decide; q=0 excludes; a bad q is ignored", () => {
    expect(chooseCoding("br;q=0.5, gzip;q=0.8", both)).toBe("gzip")
    expect(chooseCoding("br;q=0, gzip", both)).toBe("gzip")
    expect(chooseCoding("br;q=0, gzip;q=0", both)).toBe("identity")
    expect(chooseCoding("br;q=2, gzip;q=0.1", both)).toBe("gzip")
    expect(chooseCoding("BR ; Q=0.9 , GZIP;q=0.3", both)).toBe("br")
  })

  it("identity;q=0 and *;q=0 are respected; a coding rated below identity loses", () => {
    expect(chooseCoding("identity;q=0", both)).toBe(undefined)
    expect(chooseCoding("gzip;q=0.2, identity;q=0", both)).toBe("gzip")
    expect(chooseCoding("*;q=0", both)).toBe(undefined)
    expect(chooseCoding("*", both)).toBe("br")
    expect(chooseCoding("gzip;q=0.5, identity", both)).toBe("identity")
    expect(chooseCoding("", both)).toBe("identity")
  })

  it("acceptedCodings lists the acceptable ones best first", () => {
    expect(acceptedCodings("gzip, br;q=0.5", both)).toEqual(["gzip", "br"])
    expect(acceptedCodings("br;q=0, gzip", both)).toEqual(["gzip"])
    expect(acceptedCodings(undefined, both)).toEqual([])
    expect(acceptedCodings("*", both)).toEqual(["br", "gzip"])
  })
})
