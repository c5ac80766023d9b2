import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { posix, win32 } from "node:path"
import { decodeUrlPath, type UrlPathResult } from "../../src/files/urlPath.ts"

const hidden = { dotfiles: false }
const shown = { dotfiles: true }

const path = (segments: ReadonlyArray<string>, trailingSlash: boolean, encoded: string): UrlPathResult => ({
  _tag: "Path",
  segments,
  trailingSlash,
  encoded
})

describe("decodeUrlPath", () => {
  describe("plain paths", () => {
    it.each<[string, UrlPathResult]>([
      ["/", path([], true, "/")],
      ["/index.html", path(["index.html"], false, "/index.html")],
      ["/a/b.txt", path(["a", "b.txt"], false, "/a/b.txt")],
      ["/docs/", path(["docs"], true, "/docs")],
      ["/docs?x=1", path(["docs"], false, "/docs")],
      ["/docs/?x=/../..", path(["docs"], true, "/docs")],
      ["/a?", path(["a"], false, "/a")],
      ["/%C3%A9t%C3%A9.txt", path(["été.txt"], false, "/%C3%A9t%C3%A9.txt")],
      ["/%e2%82%ac", path(["€"], false, "/%e2%82%ac")],
      ["/%F0%9F%98%80", path(["😀"], false, "/%F0%9F%98%80")],
      ["/a%20b", path(["a b"], false, "/a%20b")],
      ["/a+b", path(["a+b"], false, "/a+b")],
      ["/50%25", path(["50%"], false, "/50%25")],
      // a BOM is a character of the name, not something to strip
      ["/%EF%BB%BFa", path(["\uFEFFa"], false, "/%EF%BB%BFa")]
    ])("%s", (input, expected) => {
      expect(decodeUrlPath(input, hidden)).toEqual(expected)
    })
  })

  describe("normalization", () => {
    it.each<[string, UrlPathResult]>([
      ["//", path([], true, "/")],
      ["//a//b", path(["a", "b"], false, "/a/b")],
      ["/a//", path(["a"], true, "/a")],
      ["/./a/./b", path(["a", "b"], false, "/a/b")],
      ["/a/.", path(["a"], true, "/a")],
      ["/a/b/..", path(["a"], true, "/a")],
      ["/a/b/../c", path(["a", "c"], false, "/a/c")],
      ["/a/%2e%2E/c", path(["c"], false, "/c")],
      ["/a/%2e/c", path(["a", "c"], false, "/a/c")],
      // "//host" must never come back as a protocol-relative redirect target
      ["//evil.example/x", path(["evil.example", "x"], false, "/evil.example/x")]
    ])("%s", (input, expected) => {
      expect(decodeUrlPath(input, hidden)).toEqual(expected)
    })
  })

  describe("traversal and separators are refused (404)", () => {
    it.each<[string, string]>([
      ["/..", "Traversal"],
      ["/../etc/passwd", "Traversal"],
      ["/a/../../etc/passwd", "Traversal"],
      ["/%2e%2e", "Traversal"],
      ["/%2e%2e/etc/passwd", "Traversal"],
      ["/%2E%2e/", "Traversal"],
      ["/.%2e/x", "Traversal"],
      ["/a/./../..", "Traversal"],
      ["//../x", "Traversal"],
      ["/..%2f", "EncodedSeparator"],
      ["/..%2fetc%2fpasswd", "EncodedSeparator"],
      ["/a%2fb", "EncodedSeparator"],
      ["/%2f", "EncodedSeparator"],
      ["/%2F%2Fevil.example", "EncodedSeparator"],
      ["/a%2f%5cb", "EncodedSeparator"],
      ["/\\", "Backslash"],
      ["/..\\..\\x", "Backslash"],
      ["/a\\b", "Backslash"],
      ["/a%5c\\b", "Backslash"]
    ])("%s", (input, reason) => {
      // the same with dotfiles allowed: they are refused for their own reason
      expect(decodeUrlPath(input, hidden)).toEqual({ _tag: "Refused", reason })
      expect(decodeUrlPath(input, shown)).toEqual({ _tag: "Refused", reason })
    })
  })

  describe("a decoded \"\\\" is a byte of a name on POSIX, refused where it separates (Windows)", () => {
    it.each<[string, ReadonlyArray<string>]>([
      ["/back%5Cslash.txt", ["back\\slash.txt"]],
      ["/%5c", ["\\"]],
      ["/..%5c..%5cwindows", ["..\\..\\windows"]],
      ["/a/%5C..", ["a", "\\.."]]
    ])("%s", (input, segments) => {
      const result = decodeUrlPath(input, shown)
      expect(result._tag === "Path" && result.segments).toEqual(segments)
      expect(result._tag === "Path" && result.encoded).toBe(input)
      expect(decodeUrlPath(input, { dotfiles: true, backslashIsSeparator: true })).toEqual({
        _tag: "Refused",
        reason: "Backslash"
      })
    })
  })

  describe("double encoding decodes once: the result is a literal name", () => {
    it.each<[string, ReadonlyArray<string>]>([
      ["/%252e%252e", ["%2e%2e"]],
      ["/%252e%252e/%252e%252e/etc", ["%2e%2e", "%2e%2e", "etc"]],
      ["/a%252fb", ["a%2fb"]],
      ["/%255c", ["%5c"]],
      ["/%2500", ["%00"]]
    ])("%s", (input, segments) => {
      const result = decodeUrlPath(input, hidden)
      expect(result._tag).toBe("Path")
      if (result._tag === "Path") expect(result.segments).toEqual(segments)
    })
  })

  describe("undecodable paths are invalid (400)", () => {
    it.each([
      "/%00",
      "/a%00.txt",
      "/%",
      "/%2",
      "/%zz",
      "/%2g",
      "/a%",
      "/%ff",
      "/%c3",
      "/%c3%28",
      "/%c0%ae",
      "/%c0%ae%c0%ae/etc",
      "/%e0%80%ae",
      "/%ed%a0%80",
      "/%f4%90%80%80",
      "/../%ff",
      "/a b",
      "/a\u0000b",
      "/\u00e9",
      "/a\tb",
      "/a\u007f",
      "",
      "a/b",
      "*",
      "http://example.com/"
    ])("%j", (input) => {
      expect(decodeUrlPath(input, hidden)._tag).toBe("Invalid")
    })
  })

  describe("an escape is \"%\" and two hex digits, of either case", () => {
    const visible = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i))
    const hex = (c: string) => ("0123456789abcdef".includes(c.toLowerCase()) ? parseInt(c, 16) : -1)

    it("any visible character as the second digit: decoded when a hex digit, else invalid", () => {
      for (const c of visible) {
        const result = decodeUrlPath(`/a%4${c}b`, hidden)
        if (hex(c) >= 0) {
          expect(result, c).toEqual(path([`a${String.fromCharCode(0x40 + hex(c))}b`], false, `/a%4${c}b`))
        } else expect(result._tag, c).toBe("Invalid")
      }
    })

    it("any visible character as the first digit: decoded when a hex digit, else invalid", () => {
      for (const c of visible) {
        // the escape %c9 is one byte; below 8 it is ASCII, from 8 on half a UTF-8 sequence
        const result = decodeUrlPath(`/a%${c}9b`, hidden)
        const byte = hex(c) * 16 + 9
        if (hex(c) >= 0 && byte < 0x80) {
          expect(result, c).toEqual(path([`a${String.fromCharCode(byte)}b`], false, `/a%${c}9b`))
        } else {
          expect(result._tag, c).toBe("Invalid")
        }
      }
    })

    it("an escape cut short by the end of its segment, its path or the query is invalid", () => {
      for (const input of ["/a%", "/a%4", "/a%4/b", "/a%/b", "/%4?x=1", "/a%%41", "/a%4%41"]) {
        expect(decodeUrlPath(input, hidden)._tag, input).toBe("Invalid")
      }
      expect(decodeUrlPath("/a%41", hidden)).toEqual(path(["aA"], false, "/a%41"))
      expect(decodeUrlPath("/%41%42/%43", hidden)).toEqual(path(["AB", "C"], false, "/%41%42/%43"))
    })

    it("an invalid path says why: the escape, NUL, UTF-8, a raw character, the missing slash", () => {
      expect(decodeUrlPath("/a%z1b", hidden)).toEqual({
        _tag: "Invalid",
        message: "malformed percent-escape at \"%z1\""
      })
      expect(decodeUrlPath("/a%2", hidden)).toEqual({ _tag: "Invalid", message: "malformed percent-escape at \"%2\"" })
      expect(decodeUrlPath("/a%00", hidden)).toEqual({ _tag: "Invalid", message: "NUL in path" })
      expect(decodeUrlPath("/a%ff", hidden)).toEqual({ _tag: "Invalid", message: "path is not valid UTF-8" })
      expect(decodeUrlPath("/a b", hidden)).toEqual({
        _tag: "Invalid",
        message: "path contains a character that must be percent-encoded"
      })
      expect(decodeUrlPath("a", hidden)).toEqual({ _tag: "Invalid", message: "path must start with \"/\"" })
    })

    it("every visible ASCII character may stand raw, \"~\" and \"!\" at the ends of the range too", () => {
      expect(decodeUrlPath("/a~b!", hidden)).toEqual(path(["a~b!"], false, "/a~b!"))
    })

    it("with backslashIsSeparator, names without a backslash still decode", () => {
      const windows = { dotfiles: false, backslashIsSeparator: true }
      expect(decodeUrlPath("/a/b.txt", windows)).toEqual(path(["a", "b.txt"], false, "/a/b.txt"))
      expect(decodeUrlPath("/a%5Cb", windows)._tag).toBe("Refused")
    })

    it("malformed escapes: %2:, %2X, %z0, %:0, %G0, %g0", () => {
      for (
        const escape of ["%2:", "%2X", "%z0", "%:0", "%G0", "%g0", "%/0", "%@0", "%`0", "%2G", "%2g", "%2@", "%2`"]
      ) {
        expect(decodeUrlPath(`/a${escape}`, hidden)._tag, escape).toBe("Invalid")
      }
    })
  })

  describe("length is bounded", () => {
    it("a path over 16 KiB is refused before it is split or decoded", () => {
      const MB = 1024 * 1024
      for (
        const input of [
          "/" + "a/".repeat(MB / 2),
          "/" + "a".repeat(MB),
          "/" + "%41".repeat(MB / 3),
          "/" + "./".repeat(MB / 2)
        ]
      ) {
        expect(decodeUrlPath(input, hidden)).toEqual({ _tag: "Refused", reason: "TooLong" })
      }
    })

    it("up to 16 KiB the path is decoded; a long query does not count", () => {
      const long = "/" + "a/../".repeat(3200) + "x"
      expect(long.length).toBe(16 * 1024 - 382)
      expect(decodeUrlPath(long, hidden)).toEqual(path(["x"], false, "/x"))
      expect(decodeUrlPath("/x?" + "q".repeat(1024 * 1024), hidden)).toEqual(path(["x"], false, "/x"))
      expect(decodeUrlPath("/" + "a".repeat(16 * 1024 - 1), hidden)._tag).toBe("Path")
      expect(decodeUrlPath("/" + "a".repeat(16 * 1024), hidden)).toEqual({ _tag: "Refused", reason: "TooLong" })
    })
  })

  describe("dotfiles", () => {
    it.each(["/.git", "/.git/config", "/a/.env", "/%2egit", "/...", "/.well-known/x", "/a/.b/c"])("%s", (input) => {
      expect(decodeUrlPath(input, hidden)).toEqual({ _tag: "Refused", reason: "Dotfile" })
      expect(decodeUrlPath(input, shown)._tag).toBe("Path")
    })

    it("a name with a dot inside is not a dotfile", () => {
      expect(decodeUrlPath("/a.b/c.d.", hidden)._tag).toBe("Path")
    })

    it("a dot segment removed by normalization does not count", () => {
      expect(decodeUrlPath("/.hidden/../a", hidden)).toEqual(path(["a"], false, "/a"))
    })
  })

  describe("properties", () => {
    const root = "/srv/root"

    it("any input: never throws, and a decoded path stays under the root", () => {
      const pathLike = fc.array(
        fc.oneof(
          fc.constantFrom(
            "/",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "%5c",
            "\\",
            "%",
            "%25",
            "%00",
            "%c0",
            "%ae",
            "%ff",
            "?"
          ),
          fc.string({ maxLength: 4 }),
          fc.string({ unit: "binary", maxLength: 3 })
        ),
        { maxLength: 12 }
      ).map((parts) => "/" + parts.join(""))
      fc.assert(
        fc.property(pathLike, fc.boolean(), fc.boolean(), (input, dotfiles, backslashIsSeparator) => {
          const result = decodeUrlPath(input, { dotfiles, backslashIsSeparator })
          if (result._tag !== "Path") return
          for (const segment of result.segments) {
            expect(segment).not.toBe("")
            expect(segment).not.toBe(".")
            expect(segment).not.toBe("..")
            expect(segment).not.toMatch(backslashIsSeparator ? /[/\\\u0000]/ : /[/\u0000]/)
            if (!dotfiles) expect(segment.startsWith(".")).toBe(false)
          }
          const joined = posix.join(root, ...result.segments)
          expect(joined === root || joined.startsWith(root + "/")).toBe(true)
          if (backslashIsSeparator) {
            const onWindows = win32.join("C:\\srv", ...result.segments)
            expect(onWindows === "C:\\srv" || onWindows.startsWith("C:\\srv\\")).toBe(true)
          }
          expect(result.encoded.startsWith("//")).toBe(false)
        }),
        { numRuns: 2000 }
      )
    })

    const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 })
      .filter((s) => !s.includes("/") && !s.includes("\\") && !s.includes("\u0000") && !s.startsWith("."))
      .filter((s) => !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")))

    it("names encoded once come back exactly, encoded form kept", () => {
      fc.assert(
        fc.property(fc.array(name, { maxLength: 6 }), fc.boolean(), (names, slash) => {
          const encoded = "/" + names.map(encodeURIComponent).join("/")
          const input = slash && names.length > 0 ? encoded + "/" : encoded
          expect(decodeUrlPath(input, hidden)).toEqual(path(names, slash || names.length === 0, encoded))
        })
      )
    })

    it("names encoded twice decode once, to their single encoding", () => {
      fc.assert(
        fc.property(fc.array(name, { minLength: 1, maxLength: 4 }), (names) => {
          const input = "/" + names.map((n) => encodeURIComponent(encodeURIComponent(n))).join("/")
          const result = decodeUrlPath(input, shown)
          expect(result._tag).toBe("Path")
          if (result._tag === "Path") expect(result.segments).toEqual(names.map(encodeURIComponent))
        })
      )
    })

    it("arbitrary percent-encoded bytes: valid UTF-8 without NUL decodes, anything else is invalid", () => {
      const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), (bytes) => {
          const input = "/x" + Array.from(bytes, (b) => "%" + b.toString(16).padStart(2, "0")).join("")
          const result = decodeUrlPath(input, hidden)
          let expected: string | undefined
          try {
            expected = bytes.includes(0) ? undefined : strict.decode(bytes)
          } catch {
            expected = undefined
          }
          if (expected === undefined) {
            expect(result._tag).toBe("Invalid")
          } else if (expected.includes("/")) {
            expect(result).toEqual({ _tag: "Refused", reason: "EncodedSeparator" })
          } else {
            expect(result._tag === "Path" && result.segments[0]).toBe("x" + expected)
          }
        }),
        { numRuns: 2000 }
      )
    })
  })
})
