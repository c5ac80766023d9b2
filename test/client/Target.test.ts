import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { parseTargets, parseUrl, resolveLocation, type Target } from "../../src/client/Target.ts"

const targets = (...args: Array<string>): ReadonlyArray<Target> => {
  const parsed = parseTargets(args)
  if (Either.isLeft(parsed)) throw new Error(`rejected: ${parsed.left.message}`)
  return parsed.right
}

const rejection = (...args: Array<string>) => {
  const parsed = parseTargets(args)
  if (Either.isRight(parsed)) throw new Error(`accepted: ${JSON.stringify(parsed.right)}`)
  return parsed.left
}

describe("parseTargets", () => {
  it("takes the seed's host-then-port form", () => {
    expect(targets("www.bbc.com", "80")).toEqual([
      { scheme: "http", host: "www.bbc.com", port: 80, path: "/", authority: "www.bbc.com", url: "http://www.bbc.com/" }
    ])
    expect(targets("localhost/index.html", "8080")[0]).toMatchObject({
      host: "localhost",
      port: 8080,
      path: "/index.html",
      authority: "localhost:8080",
      url: "http://localhost:8080/index.html"
    })
  })

  it("pairs several hosts with as many ports, or one port with all", () => {
    expect(targets("a.test", "b.test/x", "81", "82").map((t) => t.url)).toEqual([
      "http://a.test:81/",
      "http://b.test:82/x"
    ])
    expect(targets("a.test", "b.test", "8080").map((t) => t.port)).toEqual([8080, 8080])
    expect(targets("a.test").map((t) => t.port)).toEqual([80])
    expect(rejection("a.test", "b.test", "c.test", "1", "2")._tag).toBe("UsageError")
  })

  it("takes URLs, with query, default and explicit ports", () => {
    expect(targets("http://example.test:8080/a/b?q=1#frag")[0]).toMatchObject({
      host: "example.test",
      port: 8080,
      path: "/a/b?q=1",
      authority: "example.test:8080"
    })
    expect(targets("https://example.test")[0]).toMatchObject({
      scheme: "https",
      port: 443,
      path: "/",
      authority: "example.test"
    })
    expect(targets("HTTPS://Example.TEST:443/")[0]).toMatchObject({
      scheme: "https",
      host: "example.test",
      authority: "example.test"
    })
  })

  it("takes IPv6 literals, bracketed in Host but not for connecting", () => {
    expect(targets("http://[::1]:8080/")[0]).toMatchObject({
      host: "::1",
      port: 8080,
      authority: "[::1]:8080",
      url: "http://[::1]:8080/"
    })
  })

  it("mixes URLs and the seed form, keeping the order", () => {
    expect(targets("http://a.test/", "b.test", "9000", "https://c.test/").map((t) => t.url)).toEqual([
      "http://a.test/",
      "http://b.test:9000/",
      "https://c.test/"
    ])
  })

  it("rejects ports outside 1..65535 and unknown schemes as bad URLs", () => {
    for (const bad of ["http://a.test:0/", "http://a.test:65536/", "http://a.test:99999999/", "http://a.test:x/"]) {
      expect(rejection(bad)._tag).toBe("InvalidTarget")
    }
    expect(rejection("a.test", "0")).toMatchObject({ _tag: "InvalidTarget", input: "a.test 0" })
    expect(rejection("a.test", "70000").message).toContain("1 to 65535")
    expect(rejection("ftp://a.test/").message).toContain("unsupported scheme \"ftp\"")
    expect(rejection("http://").message).toMatch(/malformed|no host/)
    expect(rejection("http://user:pw@a.test/").message).toContain("credentials")
  })

  it("rejects what @effect/cli passed through as positionals: unknown flags, stray ports", () => {
    const flag = rejection("--verbos", "http://a.test/")
    expect(flag._tag).toBe("UsageError")
    expect(flag.message).toContain("--verbos")
    expect(rejection("8080")._tag).toBe("UsageError")
    expect(rejection("http://a.test/", "8080")._tag).toBe("UsageError")
  })
})

describe("resolveLocation", () => {
  // built inside each test: a throw while the file is collected would fail no test
  const base = () => Either.getOrThrow(parseUrl("http://a.test:8080/dir/page?x=1"))
  it("resolves relative and absolute locations", () => {
    expect(Either.getOrThrow(resolveLocation(base(), "other")).url).toBe("http://a.test:8080/dir/other")
    expect(Either.getOrThrow(resolveLocation(base(), "/root")).url).toBe("http://a.test:8080/root")
    expect(Either.getOrThrow(resolveLocation(base(), "//b.test/x")).url).toBe("http://b.test/x")
    expect(Either.getOrThrow(resolveLocation(base(), "https://c.test/")).scheme).toBe("https")
  })
  it("rejects a redirect to another scheme", () => {
    expect(Either.isLeft(resolveLocation(base(), "ftp://c.test/"))).toBe(true)
  })
})

describe("parseTargets: usage errors that say what is wrong", () => {
  it("refuses http:/host (one slash) as a bad URL instead of looking up a host named http", () => {
    expect(rejection("http:/127.0.0.1:8080/x")).toMatchObject({ _tag: "InvalidTarget" })
    expect(rejection("https:example.com")).toMatchObject({ _tag: "InvalidTarget" })
  })

  it("says that the [ of an IPv6 literal is not closed", () => {
    expect(rejection("http://[::1").message).toContain("[ of the IPv6 address is not closed")
    expect(targets("http://[::1]:8080/")[0]).toMatchObject({ host: "::1", port: 8080 })
  })

  it("refuses a target that names a port followed by another port", () => {
    const error = rejection("localhost:8080/x", "9090")
    expect(error).toMatchObject({ _tag: "UsageError" })
    expect(error.message).toContain("localhost:8080/x already names a port")
  })

  it("says that a word after a host is not a port", () => {
    const error = rejection("127.0.0.1", "abc")
    expect(error).toMatchObject({ _tag: "UsageError" })
    expect(error.message).toContain("\"abc\" is not a port")
    expect(targets("127.0.0.1", "localhost")).toHaveLength(2)
    expect(targets("abc")[0]).toMatchObject({ host: "abc", port: 80 })
  })
})
