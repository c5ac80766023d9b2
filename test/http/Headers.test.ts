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

  it("set, append and remove return new lists", () => {
    expect(headers.set("x-tag", "c").getAll("X-Tag")).toEqual(["c"])
    expect(headers.append("X-Tag", "c").getAll("x-tag")).toEqual(["a", "b", "c"])
    expect(headers.remove("X-TAG").has("x-tag")).toBe(false)
    expect(headers.getAll("x-tag")).toEqual(["a", "b"])
  })
})
