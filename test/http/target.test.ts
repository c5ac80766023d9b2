import { describe, expect, it } from "@effect/vitest"
import { isHostPort, isTargetFor } from "../../src/http/target.ts"

/**
 * The request-target forms (RFC 9112 section 3.2) and Host's
 * `uri-host [":" port]` (RFC 3986 section 3.2.2), character by character.
 */

const uriChars = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => /[A-Za-z0-9\-._~:/?[\]@!$&'()*+,;=%]/.test(c))
const isLetter = (c: string) => /[A-Za-z]/.test(c)
const isRegName = (c: string) => /[A-Za-z0-9\-._~!$&'()*+,;=]/.test(c)

describe("absolute-form: a scheme, then ://", () => {
  it("a scheme starts with a letter: every other URI character is refused there", () => {
    for (const c of uriChars) {
      if (c === "/" || c === "*") continue
      expect(isTargetFor("GET", `${c}ttp://a/`), c).toBe(isLetter(c))
    }
  })

  it("after its first letter a scheme takes letters, digits, + - and . only", () => {
    for (const c of uriChars) {
      const ok = isLetter(c) || /[0-9+\-.]/.test(c)
      expect(isTargetFor("GET", `h${c}p://a/`), c).toBe(ok)
    }
  })

  it("no scheme, or no :// after it, is no absolute form", () => {
    for (const target of ["://a/", "http:/a", "http:a", "http//a", "http", "h:", ":", "1://a"]) {
      expect(isTargetFor("GET", target), target).toBe(false)
    }
    for (const target of ["h://", "http://a", "coap+tcp://a/", "A.B-C://x"]) {
      expect(isTargetFor("GET", target), target).toBe(true)
    }
  })

  it("asterisk-form is OPTIONS alone, and the asterisk alone", () => {
    expect(isTargetFor("OPTIONS", "*")).toBe(true)
    expect(isTargetFor("GET", "*")).toBe(false)
    expect(isTargetFor("OPTIONS", "**")).toBe(false)
    expect(isTargetFor("OPTIONS", "/")).toBe(true)
  })
})

describe("uri-host [: port]", () => {
  it("a reg-name character is part of the host; any other ends it", () => {
    for (const c of uriChars) {
      if (c === "%" || c === "[" || c === ":") continue
      expect(isHostPort(`a${c}b`, false), c).toBe(isRegName(c))
    }
  })

  it("percent-escapes need two hex digits", () => {
    for (const c of uriChars) {
      const hex = /[0-9A-Fa-f]/.test(c)
      expect(isHostPort(`a%${c}1`, false), c).toBe(hex)
      expect(isHostPort(`a%1${c}`, false), c).toBe(hex)
    }
    expect(isHostPort("a%4", false)).toBe(false)
    expect(isHostPort("a%", false)).toBe(false)
    expect(isHostPort("%41", false)).toBe(true)
  })

  it("an IP literal is bracketed, not empty, of reg-name characters and colons", () => {
    for (const value of ["[::1]", "[v1.x]", "[a:b]:80", "[::]"]) expect(isHostPort(value, false), value).toBe(true)
    for (const value of ["[]", "[::1", "[::1]x", "[:/:]", "[a%41]", "[::1]]", "x[::1]", "[::1@", "[a@:80", "[::1/"]) {
      expect(isHostPort(value, false), value).toBe(false)
    }
  })

  it("a port is digits; authority-form needs one that is not empty", () => {
    for (const value of ["a:80", "a:", "a:0", "[::1]:65535", ""]) expect(isHostPort(value, false), value).toBe(true)
    for (const value of ["a:8x", "a:80:80", "a:-1", "a: 80", "a:+1"]) {
      expect(isHostPort(value, false), value).toBe(false)
    }
    for (const value of ["a:80", "[::1]:1", ":1"]) expect(isHostPort(value, true), value).toBe(true)
    for (const value of ["a", "a:", "[::1]", "[::1]:", ""]) expect(isHostPort(value, true), value).toBe(false)
    expect(isTargetFor("CONNECT", "a:443")).toBe(true)
    expect(isTargetFor("CONNECT", "a")).toBe(false)
  })
})
