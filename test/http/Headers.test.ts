import { describe, expect, it } from "@effect/vitest"
import { Headers } from "../../src/http/Headers.ts"

describe("Headers", () => {
  const headers = new Headers([["Content-Type", "text/html"], ["X-Tag", "a"], ["x-tag", "b"], [
    "Connection",
    "Keep-Alive, Upgrade"
  ]])

  it("looks names up ignoring case, keeping order and original case", () => {
    expect(headers.get("content-type")).toBe("text/html")
    expect(headers.get("CONTENT-TYPE")).toBe("text/html")
    expect(headers.get("Content-Typ")).toBeUndefined()
    expect(headers.getAll("X-TAG")).toEqual(["a", "b"])
    expect(headers.entries.map(([n]) => n)).toEqual(["Content-Type", "X-Tag", "x-tag", "Connection"])
  })

  it("only folds ASCII letters", () => {
    const odd = new Headers([["X-\u00c9", "1"], ["X-[", "2"]])
    expect(odd.get("x-\u00c9")).toBe("1")
    expect(odd.get("x-\u00e9")).toBeUndefined()
    expect(odd.get("x-{")).toBeUndefined()
    // the neighbours of A-Z and a-z fold to nothing
    const edges = new Headers([["@[", "1"], ["`{", "2"]])
    expect(edges.get("`{")).toBe("2")
    expect(edges.get("@{")).toBeUndefined()
    expect(edges.get("`[")).toBeUndefined()
    expect(new Headers([["AZ", "1"]]).get("az")).toBe("1")
    expect(new Headers([["az", "1"]]).get("AZ")).toBe("1")
  })

  it("finds tokens in list fields", () => {
    expect(headers.hasToken("connection", "upgrade")).toBe(true)
    expect(headers.hasToken("connection", "close")).toBe(false)
    expect(new Headers([["Expect", " 100-Continue\t,x"]]).hasToken("expect", "100-continue")).toBe(true)
  })

  it("list elements are trimmed of OWS only, and only letters fold", () => {
    expect(new Headers([["Expect", "100-continue\xa0"]]).hasToken("Expect", "100-continue")).toBe(false)
    expect(new Headers([["Connection", "\xa0close"]]).hasToken("Connection", "close")).toBe(false)
    expect(new Headers([["X", "a^b"]]).hasToken("X", "a~b")).toBe(false)
    expect(new Headers([["X", "A^B"]]).hasToken("X", "a^b")).toBe(true)
  })

  it("a name matches only a name of the same length: no prefix of either matches", () => {
    const short = new Headers([["X-Tag", "a"], ["Content-Type", "text/html"]])
    for (const name of ["X-Tags", "X-Ta", "X-Tag-", "Content-Type2", "Content-Typ", "Content", ""]) {
      expect(short.get(name), name).toBeUndefined()
      expect(short.getAll(name), name).toEqual([])
      expect(short.hasToken(name, "a"), name).toBe(false)
    }
  })

  it("set and remove act on the named field alone, keeping the others in order", () => {
    expect(headers.set("X-Tag", "c").entries).toEqual([
      ["Content-Type", "text/html"],
      ["Connection", "Keep-Alive, Upgrade"],
      ["X-Tag", "c"]
    ])
    expect(headers.remove("x-TAG").entries).toEqual([["Content-Type", "text/html"], [
      "Connection",
      "Keep-Alive, Upgrade"
    ]])
    expect(headers.set("X-New", "1").entries).toEqual([...headers.entries, ["X-New", "1"]])
    expect(headers.remove("X-Absent").entries).toEqual(headers.entries)
    expect(Headers.fromRecord({ A: "1", b: "2" }).entries).toEqual([["A", "1"], ["b", "2"]])
    expect(headers.size).toBe(4)
    expect(new Headers().size).toBe(0)
    expect(headers.has("x-tag")).toBe(true)
    expect(headers.has("x-other")).toBe(false)
  })

  it("set, append and remove return new lists", () => {
    expect(headers.set("x-tag", "c").getAll("X-Tag")).toEqual(["c"])
    expect(headers.append("X-Tag", "c").getAll("x-tag")).toEqual(["a", "b", "c"])
    expect(headers.remove("X-TAG").has("x-tag")).toBe(false)
    expect(headers.getAll("x-tag")).toEqual(["a", "b"])
  })
})
