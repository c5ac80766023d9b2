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

  it("without the field no coding is accepted; codings not named are not accepted", () => {
    expect(acceptedCodings("deflate, zstd, compress", both)).toEqual([])
    expect(chooseCoding("deflate, zstd", both)).toBe("identity")
    expect(chooseCoding("deflate, zstd, identity;q=0", both)).toBe(undefined)
  })

  it("equal weights keep the server's order, whatever the client's order", () => {
    expect(acceptedCodings("gzip, br", both)).toEqual(["br", "gzip"])
    expect(acceptedCodings("gzip;q=0.5, br;q=0.5", ["gzip", "br"])).toEqual(["gzip", "br"])
    expect(chooseCoding("gzip;q=0.5, br;q=0.5", ["gzip", "br"])).toBe("gzip")
  })
})

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
// weight = OWS ";" OWS "q=" qvalue. An element whose q does not read as one is
// ignored, as if the coding were not named.
describe("qvalues", () => {
  it("reads 0 and 1 with up to three decimals", () => {
    for (const q of ["0", "0.", "0.0", "0.00", "0.000"]) {
      expect(acceptedCodings(`br;q=${q}, gzip`, both), q).toEqual(["gzip"])
    }
    for (const q of ["1", "1.", "1.0", "1.00", "1.000"]) {
      expect(acceptedCodings(`br;q=${q}, gzip;q=0.999`, both), q).toEqual(["br", "gzip"])
      expect(chooseCoding(`gzip;q=0.999, br;q=${q}`, ["gzip", "br"]), q).toBe("br")
    }
    expect(acceptedCodings("br;q=0.5, gzip;q=0.25", both)).toEqual(["br", "gzip"])
    expect(acceptedCodings("br;q=0.125, gzip;q=0.12", both)).toEqual(["br", "gzip"])
    expect(acceptedCodings("br;q=0.001, gzip;q=0.002", both)).toEqual(["gzip", "br"])
  })

  it("ignores an element whose q is not a qvalue", () => {
    // each would outrank gzip;q=0.1 if it were read as a number
    const notQvalues = "1.001 1.0001 0.1234 0.9999 10 01 2 00.5 0.5x x0.5 .5 +1 1e0 0x1 -0".split(" ")
    for (const q of [...notQvalues, "", "1 1"]) {
      expect(chooseCoding(`br;q=${q}, gzip;q=0.1`, both), q).toBe("gzip")
      expect(acceptedCodings(`br;q=${q}, gzip;q=0.1`, both), q).toEqual(["gzip"])
    }
  })

  it("an ignored element is not named: `*` or identity decides for its coding", () => {
    expect(acceptedCodings("*;q=0.5, br;q=2", both)).toEqual(["br", "gzip"])
    expect(chooseCoding("*;q=0.5, br;q=1.5", both)).toBe("br")
    expect(acceptedCodings("br;q=0.5, br;q=7", both)).toEqual(["br"])
  })

  it("q and Q alike, with OWS around `;` and `=`; other parameters leave the weight alone", () => {
    expect(acceptedCodings("br\t;\tQ=0.2 , gzip ; q = 0.3", both)).toEqual(["gzip", "br"])
    expect(acceptedCodings("\tbr\t,\tgzip;q=0.5\t", both)).toEqual(["br", "gzip"])
    for (const param of ["level=5", "q", "qx", "q ", "x=0", "qq=0"]) {
      expect(acceptedCodings(`br;${param}, gzip;q=0.5`, both), param).toEqual(["br", "gzip"])
    }
  })

  it("`*` rates identity as well as the codings not named", () => {
    expect(chooseCoding("br;q=0.5, gzip;q=0.5, *", both)).toBe("identity")
    expect(chooseCoding("br;q=0.5, *;q=0.4", both)).toBe("br")
    expect(chooseCoding("br;q=0.5, identity;q=0.5", both)).toBe("br")
    expect(chooseCoding("*;q=0, br;q=0.1", both)).toBe("br")
  })
})
