import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import { defaults, readRequest, requestReader, runAgainst } from "./helpers.ts"

/** A server that reads one request and answers with `response` after `delay` ms. */
const answer = (response: string, delay = 0) => (peer: Peer) =>
  Effect.gen(function*() {
    yield* readRequest(peer)
    if (delay > 0) yield* Effect.sleep(delay)
    yield* peer.write(response)
  })

/** Writes, then keeps the connection open: the client must finish on framing alone. */
const answerAndHold = (response: string) => (peer: Peer) => Effect.zipRight(answer(response)(peer), Effect.never)

describe("client framing", () => {
  it.effect("Content-Length: prints status line, headers, blank line, body", () =>
    Effect.gen(function*() {
      let request = ""
      const result = yield* runAgainst(
        {
          "a.test:8080": (peer) =>
            Effect.gen(function*() {
              request = yield* readRequest(peer)
              yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Case: Kept\r\n\r\nhel")
              yield* peer.write("lo")
              yield* Effect.never
            })
        },
        ["a.test/index.html", "8080"]
      )
      expect(result).toMatchObject({ code: 0, stderr: "" })
      expect(result.stdout).toBe("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Case: Kept\r\n\r\nhello")
      expect(request).toBe(
        "GET /index.html HTTP/1.1\r\nHost: a.test:8080\r\nUser-Agent: fiberhttp/dev\r\nAccept: */*\r\n\r\n"
      )
    }))

  it.effect("chunked with extensions and trailers, split at awkward places", () =>
    Effect.gen(function*() {
      const wire =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              for (let i = 0; i < wire.length; i += 3) yield* peer.write(wire.slice(i, i + 3))
              yield* Effect.never
            })
        },
        ["http://a.test/"]
      )
      expect(result.code).toBe(0)
      expect(result.stdout).toBe("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello world\r\nX-Sum: 42\r\n")
    }))

  it.effect("a body delimited by the close", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        { "a.test:80": answer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the very end") },
        ["http://a.test/"],
        { mode: "body" }
      )
      expect(result).toMatchObject({ code: 0, stdout: "until the very end" })
    }))

  it.effect("interim 1xx responses are shown before the final one, as curl -i does", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        {
          "a.test:80": answerAndHold(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
          )
        },
        ["http://a.test/"]
      )
      expect(result).toMatchObject({
        code: 0,
        stdout:
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      })
    }))

  it.effect("HEAD, 204 and 304 have no body whatever the headers say", () =>
    Effect.gen(function*() {
      const head = yield* runAgainst(
        { "a.test:80": answerAndHold("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") },
        ["http://a.test/"],
        { fetch: { ...defaults.fetch, spec: { ...defaults.fetch.spec, method: "HEAD" } } }
      )
      expect(head).toMatchObject({ code: 0, stdout: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" })
      for (const status of ["204 No Content", "304 Not Modified"]) {
        const result = yield* runAgainst(
          { "a.test:80": answerAndHold(`HTTP/1.1 ${status}\r\nETag: "x"\r\n\r\n`) },
          ["http://a.test/"]
        )
        expect(result).toMatchObject({ code: 0, stdout: `HTTP/1.1 ${status}\r\nETag: "x"\r\n\r\n` })
      }
    }))

  it.effect("binary bodies pass through unchanged", () =>
    Effect.gen(function*() {
      const body = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256)
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              yield* peer.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
              yield* peer.write(body.subarray(0, 100))
              yield* peer.write(body.subarray(100))
            })
        },
        ["http://a.test/"],
        { mode: "body" }
      )
      expect(result.code).toBe(0)
      expect(result.stdoutBytes).toEqual(body)
    }))
})

describe("client failures (typed errors, exit codes, one line on stderr)", () => {
  const failing = (script: (peer: Peer) => Effect.Effect<void, unknown>) =>
    runAgainst({ "a.test:80": script }, ["http://a.test/"])

  it.effect("malformed status line: 8", () =>
    Effect.gen(function*() {
      const result = yield* failing(answer("HTTP/1.1 2OO OK\r\n\r\n"))
      expect(result.code).toBe(8)
      expect(result.stderr).toMatch(/^fiberhttp: http:\/\/a\.test\/: malformed response \(InvalidStatusLine\): .+\n$/)
    }))

  it.effect("Content-Length with Transfer-Encoding: 8", () =>
    Effect.gen(function*() {
      const result = yield* failing(
        answer("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
      )
      expect(result.code).toBe(8)
      expect(result.stderr).toContain("ContentLengthWithTransferEncoding")
    }))

  it.effect("truncated body: 18, what arrived is printed", () =>
    Effect.gen(function*() {
      const result = yield* failing(answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"))
      expect(result.code).toBe(18)
      expect(result.stdout).toBe("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
      expect(result.stderr).toBe(
        "fiberhttp: http://a.test/: connection closed before the response ended (4 body bytes received)\n"
      )
    }))

  it.effect("truncated head and truncated chunked body: 18", () =>
    Effect.gen(function*() {
      expect((yield* failing(answer("HTTP/1.1 200 OK\r\nContent-Le"))).code).toBe(18)
      expect((yield* failing(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"))).code).toBe(18)
    }))

  it.effect("closed without a byte: 52", () =>
    Effect.gen(function*() {
      const result = yield* failing((peer) => Effect.asVoid(readRequest(peer)))
      expect(result.code).toBe(52)
      expect(result.stderr).toBe(
        "fiberhttp: http://a.test/: empty reply from server (connection closed without a response)\n"
      )
    }))

  it.effect("reset mid-response: 56", () =>
    Effect.gen(function*() {
      const result = yield* failing((peer) =>
        Effect.gen(function*() {
          yield* readRequest(peer)
          yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
          yield* Effect.sleep(5)
          yield* peer.reset
        })
      )
      expect(result.code).toBe(56)
      expect(result.stderr).toMatch(/^fiberhttp: http:\/\/a\.test\/: receive failure: .*reset/)
    }))

  it.effect("a server that answers before the body is sent and closes: its answer is shown, as curl does; with no answer, 55", () =>
    Effect.gen(function*() {
      const body = new Uint8Array(256 * 1024).fill(97)
      const upload = {
        ...defaults.fetch,
        spec: {
          method: "POST",
          headers: [],
          body: { length: body.length, chunks: Stream.make(body), contentType: undefined }
        }
      }
      // Reads the head only, then answers (or not) and closes: the body never fits in its small window.
      const rejecting = (response: string) => ({
        window: 1024,
        script: (peer: Peer) =>
          Effect.gen(function*() {
            let head = ""
            while (!head.includes("\r\n\r\n")) {
              const chunk = yield* peer.read
              if (Option.isNone(chunk)) return
              head += new TextDecoder().decode(chunk.value)
            }
            if (response !== "") yield* peer.write(response)
          })
      })
      const answered = yield* runAgainst(
        {
          "a.test:80": rejecting(
            "HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n"
          )
        },
        ["http://a.test/"],
        { fetch: upload }
      )
      expect(answered).toMatchObject({
        code: 0,
        stdout: "HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n",
        stderr: ""
      })
      const silent = yield* runAgainst({ "a.test:80": rejecting("") }, ["http://a.test/"], { fetch: upload })
      expect(silent.code).toBe(55)
      expect(silent.stderr).toMatch(/^fiberhttp: http:\/\/a\.test\/: send failure: .+\n$/)
    }))

  it.effect("unknown host: 6; refused: 7; unreachable: 7", () =>
    Effect.gen(function*() {
      const unknown = yield* runAgainst({}, ["http://nowhere.test/"])
      expect(unknown.code).toBe(6)
      expect(unknown.stderr).toBe(
        "fiberhttp: http://nowhere.test/: cannot resolve nowhere.test: name not found (ENOTFOUND)\n"
      )
      const refused = yield* runAgainst({ "a.test:80": { connect: "refuse" } }, ["http://a.test/"])
      expect(refused.code).toBe(7)
      expect(refused.stderr).toContain("connection refused")
      const unreachable = yield* runAgainst({ "a.test:80": { connect: "unreachable" } }, ["http://a.test/"])
      expect(unreachable.code).toBe(7)
    }))

  it.effect("--connect-timeout against a server that never completes the handshake: 28, on time", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": { connect: "hang" } }, ["http://a.test/"], {
        fetch: { ...defaults.fetch, connectTimeout: 1500 }
      })
      expect(result.code).toBe(28)
      expect(result.elapsed).toBe(1500)
      expect(result.stderr).toBe(
        "fiberhttp: http://a.test/: connection not established within 1.5 s (--connect-timeout)\n"
      )
    }))

  it.effect("--max-time against a server that never answers: 28, on time", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": (peer) => Effect.zipRight(readRequest(peer), Effect.never) }, [
        "http://a.test/"
      ], {
        maxTime: 250
      })
      expect(result.code).toBe(28)
      expect(result.elapsed).toBe(250)
      expect(result.stderr).toBe("fiberhttp: http://a.test/: no complete response within 0.25 s (--max-time)\n")
    }))

  it.effect("--retry after a --max-time timeout: waits 1 s, then 2 s, and the next try answers", () =>
    Effect.gen(function*() {
      let connections = 0
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              if (++connections <= 2) return yield* Effect.never
              yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
              yield* Effect.never
            })
        },
        ["http://a.test/"],
        { maxTime: 250, retry: 3, mode: "body" }
      )
      expect(result).toMatchObject({ code: 0, stdout: "ok" })
      // two timeouts of 250 ms, waits of 1 s and 2 s
      expect(result.elapsed).toBe(3500)
      expect(result.stderr).toBe(
        "fiberhttp: http://a.test/: no complete response within 0.25 s (--max-time); retrying in 1 s (3 retries left)\n" +
          "fiberhttp: http://a.test/: no complete response within 0.25 s (--max-time); retrying in 2 s (2 retries left)\n"
      )
    }))

  it.effect("TLS: an untrusted certificate fails with 60 (curl's number) unless --insecure", () =>
    Effect.gen(function*() {
      const server = { script: answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), tls: { untrusted: true } }
      const strict = yield* runAgainst({ "a.test:443": server }, ["https://a.test/"])
      expect(strict.code).toBe(60)
      expect(strict.stderr).toBe(
        "fiberhttp: https://a.test/: certificate verification failed for a.test: self-signed certificate\n"
      )
      const insecure = yield* runAgainst({ "a.test:443": server }, ["https://a.test/"], {
        mode: "body",
        fetch: { ...defaults.fetch, insecure: true }
      })
      expect(insecure).toMatchObject({ code: 0, stdout: "ok" })
    }))
})

describe("redirects", () => {
  const redirect = (status: string, location: string) =>
    answer(`HTTP/1.1 ${status}\r\nLocation: ${location}\r\nContent-Length: 4\r\n\r\nmove`)

  it.effect("-L follows a relative redirect; a kept connection the server closed is replaced", () =>
    Effect.gen(function*() {
      let connections = 0
      const result = yield* runAgainst(
        {
          // one response per connection, without "Connection: close": the
          // client finds the kept connection closed and opens another
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              connections++
              const request = yield* readRequest(peer)
              yield* peer.write(
                request.startsWith("GET /dir/start ")
                  ? "HTTP/1.1 301 Moved Permanently\r\nLocation: next\r\nContent-Length: 4\r\n\r\nmove"
                  : request.startsWith("GET /dir/next ")
                  ? "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
                  : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
              )
            })
        },
        ["http://a.test/dir/start"],
        { mode: "body", fetch: { ...defaults.fetch, followRedirects: true } }
      )
      expect(result).toMatchObject({ code: 0, stdout: "done", stderr: "" })
      expect(connections).toBe(2)
    }))

  it.effect("-L across hosts: heads of every hop, the final body only", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst(
        {
          "a.test:80": redirect("302 Found", "http://b.test:8080/there"),
          "b.test:8080": answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        },
        ["http://a.test/"],
        { fetch: { ...defaults.fetch, followRedirects: true } }
      )
      expect(result.code).toBe(0)
      expect(result.stdout).toBe(
        "HTTP/1.1 302 Found\r\nLocation: http://b.test:8080/there\r\nContent-Length: 4\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
      )
    }))

  it.effect("-L on one kept-alive connection; 303 turns a POST into a GET without body", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      let connections = 0
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              connections++
              const requests = requestReader(peer)
              seen.push(Option.getOrThrow(yield* requests.next))
              yield* peer.write("HTTP/1.1 303 See Other\r\nLocation: /result\r\nContent-Length: 0\r\n\r\n")
              seen.push(Option.getOrThrow(yield* requests.next))
              yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nresult")
            })
        },
        ["http://a.test/form"],
        {
          mode: "body",
          fetch: {
            ...defaults.fetch,
            followRedirects: true,
            spec: {
              method: "POST",
              headers: [],
              body: { length: 3, chunks: Stream.make(new TextEncoder().encode("a=1")), contentType: undefined }
            }
          }
        }
      )
      expect(result).toMatchObject({ code: 0, stdout: "result" })
      expect(connections).toBe(1)
      expect(seen).toEqual([
        "POST /form HTTP/1.1\r\nHost: a.test\r\nUser-Agent: fiberhttp/dev\r\nAccept: */*\r\nContent-Length: 3\r\n\r\na=1",
        "GET /result HTTP/1.1\r\nHost: a.test\r\nUser-Agent: fiberhttp/dev\r\nAccept: */*\r\n\r\n"
      ])
    }))

  it.effect("a -H Host goes to the first host only: a redirect to another host gets that host's own Host (as curl does)", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const answer = (response: string) => (peer: Peer) =>
        Effect.gen(function*() {
          seen.push(yield* readRequest(peer))
          yield* peer.write(response)
        })
      const result = yield* runAgainst(
        {
          "a.test:8080": (peer) =>
            Effect.zipRight(
              answer("HTTP/1.1 302 Found\r\nLocation: /same\r\nContent-Length: 0\r\n\r\n")(peer),
              answer("HTTP/1.1 302 Found\r\nLocation: http://b.test/next\r\nContent-Length: 0\r\n\r\n")(peer)
            ),
          "b.test:80": answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        },
        ["http://a.test:8080/"],
        {
          mode: "body",
          fetch: {
            ...defaults.fetch,
            followRedirects: true,
            spec: { method: "GET", headers: [["Host", "vhost.test"]], body: undefined }
          }
        }
      )
      expect(result).toMatchObject({ code: 0, stdout: "ok" })
      expect(seen.map((request) => /\r\nHost: ([^\r]*)/.exec(request)?.[1])).toEqual([
        "vhost.test",
        "vhost.test",
        "b.test"
      ])
    }))

  it.effect("more redirects than --max-redirects: 47", () =>
    Effect.gen(function*() {
      const loop = (peer: Peer) =>
        Effect.gen(function*() {
          const requests = requestReader(peer)
          while (Option.isSome(yield* requests.next)) {
            yield* peer.write("HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")
          }
        })
      const result = yield* runAgainst({ "a.test:80": loop }, ["http://a.test/"], {
        mode: "body",
        fetch: { ...defaults.fetch, followRedirects: true, maxRedirects: 2 }
      })
      expect(result.code).toBe(47)
      expect(result.stderr).toBe("fiberhttp: http://a.test/: more than 2 redirects (--max-redirects)\n")
    }))
})
