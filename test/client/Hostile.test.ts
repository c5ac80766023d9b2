// Regressions from the hostile-server suite (test/e2e/hostile-client.test.ts),
// kept here under TestClock where the exact timing and bytes can be asserted.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { describe as describeError, printable } from "../../src/client/exitCodes.ts"
import { InvalidTarget } from "../../src/client/Target.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import { defaults, readRequest, requestReader, runAgainst } from "./helpers.ts"

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** Reads the request, writes each piece in turn, then holds the connection open. */
const sendAndHold = (...pieces: ReadonlyArray<Uint8Array | string>) => (peer: Peer) =>
  Effect.gen(function*() {
    yield* readRequest(peer)
    for (const piece of pieces) yield* peer.write(piece)
    yield* Effect.never
  })

const follow = { ...defaults.fetch, followRedirects: true }

describe("a reply that is not HTTP/1.x", () => {
  // Each is refused at the first byte that differs from "HTTP/", with the
  // connection still open: no waiting for a line break, the close or --max-time.
  const replies: ReadonlyArray<[string, Uint8Array | string]> = [
    ["an HTTP/0.9 body without a line break", "<html>hello"],
    ["an HTTP/2 SETTINGS frame", Uint8Array.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100])],
    ["the HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["a lower-case name (HTTP-name is case-sensitive)", "http/1.1 200 OK\r\n\r\n"],
    ["an SSH greeting", "SSH-2.0-OpenSSH_9.2\r\n"],
    ["binary noise", Uint8Array.from([0xff, 0xfe, 0, 1, 2])]
  ]
  for (const [name, reply] of replies) {
    it.effect(`${name}: 1 at once (curl's "HTTP/0.9 when not allowed")`, () =>
      Effect.gen(function*() {
        const result = yield* runAgainst({ "a.test:80": sendAndHold(reply) }, ["http://a.test/"], { maxTime: 5000 })
        expect(result).toMatchObject({ code: 1, stdout: "", elapsed: 0 })
        expect(result.stderr).toBe(
          "fiberhttp: http://a.test/: not an HTTP response: not an HTTP/1.x response (the reply does not begin with \"HTTP/\")\n"
        )
      }))
  }

  it.effect("the check spans reads: 'HT' then 'XP' fails on the second; 'H' then the rest is a response", () =>
    Effect.gen(function*() {
      const split = yield* runAgainst({ "a.test:80": sendAndHold("HT", "XP/1.1 200 OK\r\n\r\n") }, ["http://a.test/"])
      expect(split.code).toBe(1)
      expect(split.stderr).toContain("not an HTTP/1.x response")
      const ok = yield* runAgainst(
        { "a.test:80": sendAndHold("H", "T", "TP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") },
        ["http://a.test/"],
        { mode: "body" }
      )
      expect(ok).toMatchObject({ code: 0, stdout: "ok", stderr: "" })
    }))
})

describe("101 Switching Protocols", () => {
  const switching = sendAndHold(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"
  )

  it.effect("to a request that asked for no upgrade: 8, not a silent success", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": switching }, ["http://a.test/"])
      expect(result).toMatchObject({ code: 8, stdout: "" })
      expect(result.stderr).toBe(
        "fiberhttp: http://a.test/: malformed response (InvalidStatusLine): 101 Switching Protocols to a request without Upgrade\n"
      )
    }))

  it.effect("to a request with -H Upgrade: the head is the answer", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": switching }, ["http://a.test/"], {
        fetch: {
          ...defaults.fetch,
          spec: { method: "GET", headers: [["Upgrade", "websocket"], ["Connection", "Upgrade"]], body: undefined }
        }
      })
      expect(result).toMatchObject({
        code: 0,
        stderr: "",
        stdout: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      })
    }))
})

describe("a close in the middle of the head", () => {
  it.effect("is 18, and says the head was cut (not '0 body bytes')", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              yield* peer.write("HTTP/1.1 200 OK\r\nContent-Le")
            })
        },
        ["http://a.test/"]
      )
      expect(result).toMatchObject({ code: 18, stdout: "" })
      expect(result.stderr).toBe("fiberhttp: http://a.test/: connection closed in the middle of the response head\n")
    }))
})

describe("bytes above 0x7F in the head", () => {
  it.effect("the status line, fields and trailers print as the bytes that arrived", () =>
    Effect.gen(function*() {
      // raw UTF-8 in a field (common), a Latin-1 byte in the reason, obs-text in a trailer
      const wire = latin1(
        "HTTP/1.1 200 D\xe9j\xe0 vu\r\nContent-Disposition: attachment; filename=\"caf\xc3\xa9.txt\"\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Note: \xff\xfe\r\n\r\n"
      )
      const result = yield* runAgainst({ "a.test:80": sendAndHold(wire) }, ["http://a.test/"])
      expect(result.code).toBe(0)
      const expected = latin1(
        "HTTP/1.1 200 D\xe9j\xe0 vu\r\nContent-Disposition: attachment; filename=\"caf\xc3\xa9.txt\"\r\n" +
          "Transfer-Encoding: chunked\r\n\r\nok\r\nX-Note: \xff\xfe\r\n"
      )
      expect(Array.from(result.stdoutBytes)).toEqual(Array.from(expected))
    }))
})

describe("Location from a hostile or sloppy server (-L)", () => {
  it.effect("raw UTF-8 in a Location is sent percent-encoded as the server's bytes", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              const requests = requestReader(peer)
              seen.push((yield* requests.next).pipe((o) => (o._tag === "Some" ? o.value : "")))
              yield* peer.write(
                latin1("HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9 menu?q=\xe9\r\nContent-Length: 0\r\n\r\n")
              )
              seen.push((yield* requests.next).pipe((o) => (o._tag === "Some" ? o.value : "")))
              yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmenu")
            })
        },
        ["http://a.test/"],
        { mode: "body", fetch: follow }
      )
      expect(result).toMatchObject({ code: 0, stdout: "menu", stderr: "" })
      expect(seen[1]).toMatch(/^GET \/caf%C3%A9%20menu\?q=%E9 HTTP\/1\.1\r\n/)
    }))

  it.effect("a redirect to another scheme is 3, named as a redirect", () =>
    Effect.gen(function*() {
      for (
        const [location, cause] of [
          ["ftp://a.test/file", "unsupported scheme \"ftp\" (only http and https)"],
          ["file:///etc/passwd", "unsupported scheme \"file\" (only http and https)"],
          ["javascript:alert(1)", "not a URL (expected http://host[:port]/path)"],
          ["http://[::1", "malformed Location header"]
        ] as const
      ) {
        const result = yield* runAgainst(
          { "a.test:80": sendAndHold(`HTTP/1.1 301 Moved\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`) },
          ["http://a.test/"],
          { mode: "body", fetch: follow }
        )
        expect(result.code).toBe(3)
        expect(result.stderr).toBe(`fiberhttp: http://a.test/: redirect to a bad URL "${location}": ${cause}\n`)
      }
    }))

  it.effect("an enormous Location is cut in the error line", () =>
    Effect.gen(function*() {
      const location = `gopher://a.test/${"x".repeat(20_000)}`
      const result = yield* runAgainst(
        { "a.test:80": sendAndHold(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`) },
        ["http://a.test/"],
        { mode: "body", fetch: follow }
      )
      expect(result.code).toBe(3)
      expect(result.stderr).toBe(
        `fiberhttp: http://a.test/: redirect to a bad URL "${
          location.slice(0, 200)
        }... (${location.length} characters)": unsupported scheme "gopher" (only http and https)\n`
      )
    }))
})

describe("error text is one printable line", () => {
  it("control characters (C0, DEL, C1) are escaped; long text is cut with its length", () => {
    expect(printable("a\r\nb\x1b[31m\x7f\x9b\x00")).toBe("a\\x0d\\x0ab\\x1b[31m\\x7f\\x9b\\x00")
    expect(printable("é ✓ plain")).toBe("é ✓ plain")
    expect(printable("y".repeat(201))).toBe(`${"y".repeat(200)}... (201 characters)`)
    const line = describeError(new InvalidTarget({ input: "http://h/\x1b]0;pwned\x07", message: "malformed URL" }))
    expect(line).toBe("bad URL \"http://h/\\x1b]0;pwned\\x07\": malformed URL")
  })
})

describe("floods end at --max-time", () => {
  it.effect("an endless stream of 100 Continue: 28 on time, nothing printed", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              while (true) {
                yield* peer.write("HTTP/1.1 100 Continue\r\n\r\n".repeat(50))
                yield* Effect.sleep(1)
              }
            })
        },
        ["http://a.test/"],
        { maxTime: 150 }
      )
      expect(result).toMatchObject({ code: 28, stdout: "", elapsed: 150 })
      expect(result.stderr).toBe("fiberhttp: http://a.test/: no complete response within 0.15 s (--max-time)\n")
    }))

  it.effect("an endless chunked body: 28 on time, what arrived is printed", () =>
    Effect.gen(function*() {
      let sent = 0
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              yield* peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
              while (true) {
                yield* peer.write("4\r\nabcd\r\n")
                sent += 4
                yield* Effect.sleep(1)
              }
            })
        },
        ["http://a.test/"],
        { maxTime: 200, mode: "body" }
      )
      expect(result).toMatchObject({ code: 28, elapsed: 200 })
      expect(result.stdout.length).toBeGreaterThan(100)
      expect(result.stdout).toBe("abcd".repeat(result.stdout.length / 4))
      expect(result.stderr).toBe("fiberhttp: http://a.test/: no complete response within 0.2 s (--max-time)\n")
      expect(sent).toBeGreaterThanOrEqual(result.stdout.length)
    }))
})

describe("stdout's reader goes away (`client URL | head`)", () => {
  const endlessBody = (peer: Peer) =>
    Effect.gen(function*() {
      yield* readRequest(peer)
      yield* peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
      while (true) {
        yield* peer.write("4\r\nabcd\r\n")
        yield* Effect.sleep(1)
      }
    })

  it.effect("an endless body stops being fetched: 23 at once, not at --max-time or never", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": endlessBody }, ["http://a.test/"], { mode: "body" }, {
        stdoutClosesAfter: 10
      })
      expect(result.code).toBe(23)
      expect(result.stdout).toBe("abcdabcdab")
      expect(result.elapsed).toBeLessThan(10)
      expect(result.stderr).toBe("fiberhttp: http://a.test/: could not write stdout: the reader has gone (EPIPE)\n")
    }))

  it.effect("several targets: each stops once stdout is gone", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        { "a.test:80": endlessBody, "b.test:80": endlessBody },
        ["http://a.test/", "http://b.test/"],
        { mode: "body", maxTime: 5000 },
        { stdoutClosesAfter: 100 }
      )
      expect(result.code).toBe(23)
      expect(result.elapsed).toBeLessThan(1000)
      expect(result.stderr.split("\n").filter((line) => line.includes("could not write stdout"))).toHaveLength(2)
    }))

  it.effect("--count stops after the round that found stdout gone", () =>
    Effect.gen(function*() {
      let requests = 0
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              const reader = requestReader(peer)
              while ((yield* reader.next)._tag === "Some") {
                requests++
                yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
              }
            })
        },
        ["http://a.test/"],
        { count: 1000, interval: 10 },
        { stdoutClosesAfter: 1 }
      )
      expect(result.code).toBe(23)
      expect(requests).toBe(1)
      expect(result.stderr).toBe("fiberhttp: http://a.test/: could not write stdout: the reader has gone (EPIPE)\n")
    }))
})

describe("an answer while the upload is still going out", () => {
  const upload = (size: number) => ({
    ...defaults.fetch,
    spec: {
      method: "PUT",
      headers: [],
      body: { length: size, chunks: Stream.make(new Uint8Array(size).fill(120)), contentType: undefined }
    }
  })
  /** Reads until the end of the request head, and no further. */
  const readHead = (peer: Peer) =>
    Effect.gen(function*() {
      let head = ""
      while (!head.includes("\r\n\r\n")) {
        const chunk = yield* peer.read
        if (Option.isNone(chunk)) return head
        head += new TextDecoder().decode(chunk.value)
      }
      return head
    })

  it.effect("a 413 from a server that then reads no more and keeps the connection: shown at once, exit 0, the upload stopped", () =>
    Effect.gen(function*() {
      let connections = 0
      const result = yield* runAgainst(
        {
          "a.test:80": {
            window: 1024,
            script: (peer) =>
              Effect.gen(function*() {
                connections++
                yield* readHead(peer)
                yield* peer.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big\n")
                yield* Effect.never
              })
          }
        },
        ["http://a.test/"],
        { fetch: upload(1024 * 1024), count: 2, interval: 0 }
      )
      expect(result.code).toBe(0)
      expect(result.elapsed).toBe(0)
      expect(result.stdout).toMatch(/^1: 413 Content Too Large {2}8 bytes {2}TCP connect /)
      // the half-sent request left the connection unusable: the second round opened another
      expect(result.stdout).toMatch(/\n2: 413 Content Too Large {2}8 bytes {2}TCP connect /)
      expect(connections).toBe(2)
    }))

  it.effect("a 200 head before the body is read: the upload goes on, the body follows, the connection is kept", () =>
    Effect.gen(function*() {
      let received = 0
      const size = 256 * 1024
      const result = yield* runAgainst(
        {
          "a.test:80": {
            window: 4096,
            script: (peer) =>
              Effect.gen(function*() {
                const head = yield* readHead(peer)
                received = new TextEncoder().encode(head.slice(head.indexOf("\r\n\r\n") + 4)).length
                yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
                while (received < size) {
                  const chunk = yield* peer.read
                  if (Option.isNone(chunk)) break
                  received += chunk.value.length
                }
                yield* peer.write(`got ${received / 1024}K`.padEnd(8))
                yield* Effect.never
              })
          }
        },
        ["http://a.test/"],
        { fetch: upload(size), mode: "body" }
      )
      expect(result).toMatchObject({ code: 0, stdout: "got 256K", stderr: "" })
      expect(received).toBe(size)
    }))
})
