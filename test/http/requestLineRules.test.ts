import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { TOKEN, URI } from "../../src/http/chars.ts"
import { commonMethod } from "../../src/http/RequestParser.ts"
import { HTTP_1_0, HTTP_1_1, parseVersion } from "../../src/http/version.ts"
import { allBytes, parseRequest, property } from "./support.ts"

/**
 * The request line is `method SP request-target SP HTTP-version CRLF` byte
 * for byte: a single SP and nothing else separates the parts, a method is
 * read exactly as sent (never taken for a common one it resembles), and the
 * version is exactly "HTTP/" DIGIT "." DIGIT.
 */

const HOST = "\r\nHost: a\r\n\r\n"
const isToken = (b: string) => TOKEN[b.charCodeAt(0)] === 1
const isUri = (b: string) => URI[b.charCodeAt(0)] === 1

describe("only a single SP separates the parts of the request line", () => {
  it("any other byte in place of the SP after the target is refused", () => {
    for (const b of allBytes) {
      if (b === " " || isUri(b)) continue
      const outcome = parseRequest(`GET /a${b}HTTP/1.1${HOST}`)
      expect(outcome.error, JSON.stringify(b)).toMatch(/^(InvalidTarget|InvalidRequestLine|BareCR|BareLF)$/)
    }
  })

  it("any other byte in place of the SP after the method is refused", () => {
    for (const b of allBytes) {
      if (b === " " || isToken(b)) continue
      const outcome = parseRequest(`GET${b}/a HTTP/1.1${HOST}`)
      expect(outcome.error, JSON.stringify(b)).toMatch(/^(InvalidMethod|InvalidRequestLine|BareCR|BareLF)$/)
    }
  })

  it("a CR inside the method or the target is a bare CR", () => {
    for (const line of ["GE\rT / HTTP/1.1", "GET\r/ HTTP/1.1", "GET /a\rb HTTP/1.1", "GET /\r HTTP/1.1"]) {
      expect(parseRequest(`${line}${HOST}`).error, JSON.stringify(line)).toBe("BareCR")
    }
  })

  it("a byte outside the URI set ends no target, and one inside it is part of it", () => {
    for (const b of allBytes) {
      const outcome = parseRequest(`GET /a${b}b HTTP/1.1${HOST}`)
      if (isUri(b) && b !== "#") expect(outcome.messages[0]?.head.target, JSON.stringify(b)).toBe(`/a${b}b`)
      else expect(outcome.error, JSON.stringify(b)).toBeDefined()
    }
  })
})

describe("a method is read exactly as sent", () => {
  const common = ["GET", "PUT", "HEAD", "POST"]
  const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

  it("near misses of the common methods: one byte changed, cut short or extended", () => {
    const misses = new Set<string>()
    for (const method of common) {
      for (let at = 0; at < method.length; at++) {
        for (const c of tchars) misses.add(method.slice(0, at) + c + method.slice(at + 1))
        misses.add(method.slice(0, at) + method.slice(at + 1))
      }
      misses.add(method + "S")
      misses.add("X" + method)
      misses.add(method.toLowerCase())
    }
    for (const method of misses) {
      const outcome = parseRequest(`${method} / HTTP/1.1${HOST}`)
      expect(outcome.messages[0]?.head.method).toBe(method)
      // and the shortcut for the common ones does not claim them
      if (!common.includes(method)) {
        expect(commonMethod(new TextEncoder().encode(method), 0, method.length), method).toBeUndefined()
      }
    }
  })

  it("the shortcut names each common method by its bytes, wherever the line starts in the input", () => {
    for (const method of common) {
      for (const before of ["", "\r\n", "GET / HTTP/1.1\r\n\r\n"]) {
        const bytes = new TextEncoder().encode(`${before}${method} / HTTP/1.1\r\n`)
        expect(commonMethod(bytes, before.length, before.length + method.length), method).toBe(method)
      }
    }
  })

  it("any token method comes back as sent", () => {
    property(fc.string({ unit: fc.constantFrom(...tchars), minLength: 1, maxLength: 8 }), (method) => {
      const target = method === "CONNECT" ? "a:1" : "/"
      expect(parseRequest(`${method} ${target} HTTP/1.1${HOST}`).messages[0]?.head.method).toBe(method)
    }, 200)
  })
})

describe("the version is exactly HTTP/DIGIT.DIGIT", () => {
  const version = "HTTP/1.1"

  it("a version wrong in any one byte is refused", () => {
    for (let at = 0; at < version.length; at++) {
      for (const b of allBytes) {
        if (b === version[at]) continue
        const wrong = version.slice(0, at) + b + version.slice(at + 1)
        const outcome = parseRequest(`GET / ${wrong}${HOST}`)
        const digit = at === 5 || at === 7
        if (digit && b >= "0" && b <= "9") {
          // still a version: another major is not supported, another minor is 1.x
          if (at === 5) expect(outcome.error, wrong).toBe("VersionNotSupported")
          else expect(outcome.messages[0]?.head.version, wrong).toEqual({ major: 1, minor: Number(b) })
        } else {
          expect(outcome.error, JSON.stringify(wrong)).toMatch(/^(InvalidVersion|InvalidTarget|BareCR|BareLF)$/)
        }
      }
    }
  })

  it("1.0 and 1.1 come back as the shared constants (no allocation per message), a later 1.x as itself", () => {
    const read = (text: string) => parseVersion(new TextEncoder().encode(text), 0, text.length)
    expect(read("HTTP/1.1")).toBe(HTTP_1_1)
    expect(read("HTTP/1.0")).toBe(HTTP_1_0)
    expect(HTTP_1_0).toEqual({ major: 1, minor: 0 })
    expect(HTTP_1_1).toEqual({ major: 1, minor: 1 })
    for (const minor of [2, 9]) expect(read(`HTTP/1.${minor}`)).toEqual({ major: 1, minor })
  })

  it("a version with a byte dropped or added is refused", () => {
    for (let at = 0; at < version.length; at++) {
      const dropped = version.slice(0, at) + version.slice(at + 1)
      expect(parseRequest(`GET / ${dropped}${HOST}`).error, dropped).toBe("InvalidVersion")
      for (const b of ["1", "x", "/", "."]) {
        const added = version.slice(0, at) + b + version.slice(at)
        expect(parseRequest(`GET / ${added}${HOST}`).error, added).toBe("InvalidVersion")
      }
    }
  })
})
