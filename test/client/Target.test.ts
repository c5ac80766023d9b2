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

describe("parseUrl: the port", () => {
  const port = (url: string) => Either.getOrThrow(parseUrl(url)).port
  const refusal = (url: string) => {
    const parsed = parseUrl(url)
    if (Either.isRight(parsed)) throw new Error(`accepted: ${url}`)
    return parsed.left.message
  }

  it("1 to 65535, both ends included, up to five digits with leading zeros", () => {
    expect(port("http://a.test:1/")).toBe(1)
    expect(port("http://a.test:65535/")).toBe(65535)
    expect(port("http://a.test:00080/")).toBe(80)
    expect(port("https://a.test:0443")).toBe(443)
  })

  it("no port, or a colon with none after it, is the scheme's default", () => {
    expect(port("http://a.test/")).toBe(80)
    expect(port("https://a.test/")).toBe(443)
    expect(port("http://a.test:/")).toBe(80)
    expect(port("https://[::1]:/")).toBe(443)
  })

  it("decimal digits only: no sign, exponent, hex, space or sixth digit", () => {
    for (const text of ["0", "65536", "000080", "1e3", "0x50", "+80", "8O", " 80", "80 "]) {
      expect(refusal(`http://a.test:${text}/`), text).toBe(`port ${text} is not a number from 1 to 65535`)
    }
  })

  it("the default port is left out of the Host authority, any other is written", () => {
    expect(Either.getOrThrow(parseUrl("http://a.test:80/x")).authority).toBe("a.test")
    expect(Either.getOrThrow(parseUrl("https://a.test:443/x")).url).toBe("https://a.test/x")
    expect(Either.getOrThrow(parseUrl("http://a.test:443/x")).url).toBe("http://a.test:443/x")
    expect(Either.getOrThrow(parseUrl("http://[::1]:8080/x")).authority).toBe("[::1]:8080")
  })
})

describe("parseUrl: what is not a usable URL says why", () => {
  const refusal = (url: string) => {
    const parsed = parseUrl(url)
    if (Either.isRight(parsed)) throw new Error(`accepted: ${url}`)
    expect(parsed.left).toMatchObject({ _tag: "InvalidTarget", input: url })
    return parsed.left.message
  }

  it("a scheme is a letter, then letters, digits, + . -, then ://", () => {
    for (const url of ["1http://a.test/", "a.test/x", "://a.test/", "http:/a.test/", " http://a.test/"]) {
      expect(refusal(url), url).toBe("not a URL (expected http://host[:port]/path)")
    }
    expect(refusal("ftp://a.test/")).toBe("unsupported scheme \"ftp\" (only http and https)")
    expect(refusal("git+ssh://a.test/")).toBe("unsupported scheme \"git+ssh\" (only http and https)")
    expect(refusal("httpx://a.test/")).toBe("unsupported scheme \"httpx\" (only http and https)")
    expect(Either.getOrThrow(parseUrl("HTTPS://a.test/")).scheme).toBe("https")
    expect(Either.getOrThrow(parseUrl("Http://a.test/")).url).toBe("http://a.test/")
  })

  it("credentials: a user name alone, a password alone, or both", () => {
    for (const url of ["http://user@a.test/", "http://:pw@a.test/", "http://user:pw@a.test/"]) {
      expect(refusal(url), url).toBe("credentials in the URL are not supported")
    }
    // an @ in the path is no credential
    expect(Either.getOrThrow(parseUrl("http://a.test/x@y")).path).toBe("/x@y")
  })

  it("an IPv6 literal is closed before the path; what the WHATWG parser refuses is malformed", () => {
    expect(refusal("http://[::1/x]")).toBe("the [ of the IPv6 address is not closed")
    expect(refusal("http://[::1?]")).toBe("the [ of the IPv6 address is not closed")
    expect(refusal("http://a b/")).toBe("malformed URL")
    expect(refusal("http://[zz]/")).toBe("malformed URL")
    // a [ after the host is the path's
    expect(Either.getOrThrow(parseUrl("http://a.test/[x")).path).toBe("/[x")
  })
})

describe("parseTargets: each mistake named", () => {
  it("a lone - is a host name, not an option", () => {
    expect(targets("-")[0]).toMatchObject({ host: "-", port: 80 })
    expect(rejection("-v").message).toBe("unknown option -v (see fiberhttp client --help)")
  })

  it("an http: without // is a malformed URL wherever another http:// follows", () => {
    const message = "malformed URL: the scheme is followed by :// (http://host/path)"
    expect(rejection("http:/a.test/http://b.test/")).toMatchObject({ _tag: "InvalidTarget", message })
    expect(rejection("HTTPS:a.test")).toMatchObject({ _tag: "InvalidTarget", message })
    // http: inside a host-then-port word is no scheme
    expect(rejection("xhttp:a", "80").message).toBe("port a is not a number from 1 to 65535")
  })

  it("a URL-like word without a usable scheme is refused as a URL, not taken as a host", () => {
    expect(rejection("://a.test/")).toMatchObject({ _tag: "InvalidTarget", input: "://a.test/" })
  })

  it("a bad port is named with its host; a stray port alone", () => {
    expect(rejection("a.test", "0")).toMatchObject({ input: "a.test 0" })
    expect(rejection("a.test", "80", "0")).toMatchObject({ input: "a.test 0" })
    expect(rejection("a.test", "b.test", "80", "0")).toMatchObject({ input: "b.test 0" })
    expect(rejection("0")).toMatchObject({ _tag: "InvalidTarget", input: "0" })
    expect(rejection("80", "443")).toMatchObject({
      _tag: "UsageError",
      message: "port 80 443 does not follow a host name"
    })
  })

  it("one port for all hosts, or one per host, in order", () => {
    expect(targets("a.test", "b.test", "81").map((t) => t.port)).toEqual([81, 81])
    expect(targets("a.test", "b.test", "81", "82").map((t) => t.authority)).toEqual(["a.test:81", "b.test:82"])
    expect(rejection("a.test", "b.test", "c.test", "80", "81").message).toBe(
      "3 host names but 2 ports: give one port, or one per host"
    )
    expect(targets("a.test", "http://b.test:81/", "c.test").map((t) => t.authority)).toEqual([
      "a.test",
      "b.test:81",
      "c.test"
    ])
  })

  it("a host that names its port, even an empty one, takes no second port", () => {
    for (const host of ["localhost:8080", "localhost:", "localhost:/x", "[::1]:8080", "[::1]:8080?q"]) {
      expect(rejection(host, "80"), host).toMatchObject({
        _tag: "UsageError",
        message: `${host} already names a port: give the port once, in the target or after it`
      })
    }
    // a colon in the path is not a port
    expect(targets("a.test/b:1", "80")[0]).toMatchObject({ host: "a.test", port: 80, path: "/b:1" })
  })

  it("an unusable host is refused wherever it stands: before a port, before a URL, last", () => {
    expect(rejection("a b", "80")).toMatchObject({ _tag: "InvalidTarget", input: "a b" })
    expect(rejection("a b", "http://c.test/")).toMatchObject({ _tag: "InvalidTarget", input: "a b" })
    expect(rejection("http://c.test/", "a b")).toMatchObject({ _tag: "InvalidTarget", input: "a b" })
  })

  it("nothing at all is a usage error", () => {
    expect(rejection()).toMatchObject({ _tag: "UsageError", message: "no target given" })
  })
})

describe("resolveLocation: errors say they came from the server", () => {
  const base = () => Either.getOrThrow(parseUrl("http://a.test:8080/dir/page?x=1"))
  const failure = (location: string) => {
    const resolved = resolveLocation(base(), location)
    if (Either.isRight(resolved)) throw new Error(`accepted: ${location}`)
    return resolved.left
  }

  it("another scheme, credentials, or a Location the URL parser refuses", () => {
    expect(failure("ftp://c.test/")).toMatchObject({
      fromLocation: true,
      message: "unsupported scheme \"ftp\" (only http and https)"
    })
    expect(failure("http://u@c.test/")).toMatchObject({ fromLocation: true, input: "http://u@c.test/" })
    expect(failure("http://[")).toMatchObject({
      _tag: "InvalidTarget",
      input: "http://[",
      message: "malformed Location header",
      fromLocation: true
    })
  })

  it("bytes above 0x7F are percent-encoded as they came, in uppercase hex", () => {
    expect(Either.getOrThrow(resolveLocation(base(), "/caf\u00c3\u00a9")).path).toBe("/caf%C3%A9")
    expect(Either.getOrThrow(resolveLocation(base(), "x\u00ff")).path).toBe("/dir/x%FF")
  })
})
