import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { AcceptError } from "../../src/net/errors.ts"
import * as MemoryNet from "../../src/net/MemoryNetwork.ts"
import { MemoryNetwork } from "../../src/net/MemoryNetwork.ts"
import { SocketServer } from "../../src/net/SocketServer.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as Server from "../../src/server/Server.ts"
import * as ServerResponse from "../../src/server/ServerResponse.ts"
import { Client, get, startServer, tick, until, untilSleeping } from "./harness.ts"

describe("Server: adversarial clients", () => {
  it.scoped("slowloris: one byte every 5 s still meets the header timeout, counted from the accept", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      const request = get("/hello.txt")
      const answer = yield* Effect.fork(client.response())
      for (let i = 0; i < 5; i++) {
        yield* client.send(request[i]!)
        yield* tick
        yield* TestClock.adjust(Duration.seconds(5))
      }
      yield* tick
      expect(server.log.out).toEqual([])
      yield* TestClock.adjust(Duration.seconds(5))
      const response = (yield* Fiber.join(answer))!
      expect(response.status).toBe(408)
      expect(response.headers.get("connection")).toBe("close")
      expect(response.headers.get("date")).toMatch(/ GMT$/)
      expect(response.headers.get("server")).toMatch(/^fiberhttp\//)
    }))

  it.scoped("slowloris on a kept-alive connection: the timeout runs from the next request's first byte, not per byte", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { keepAliveTimeout: Duration.seconds(60) } })
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      expect((yield* client.response())!.status).toBe(200)
      const answer = yield* Effect.fork(client.response())
      yield* TestClock.adjust(Duration.seconds(10))
      for (let i = 0; i < 6; i++) {
        yield* client.send("GET /"[i % 5]!)
        yield* tick
        yield* TestClock.adjust(Duration.seconds(4))
      }
      // first byte at 10 s: 34 s now, still open
      yield* tick
      expect(server.log.out).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(6))
      expect((yield* Fiber.join(answer))!.status).toBe(408)
    }))

  it.scoped("slowloris in the body: a discarded request body trickling in also meets the header timeout", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
      const answer = yield* Effect.fork(client.response())
      for (let i = 0; i < 6; i++) {
        yield* client.send("x")
        yield* tick
        yield* TestClock.adjust(Duration.seconds(5))
      }
      const response = (yield* Fiber.join(answer))!
      expect(response.status).toBe(408)
      expect(response.headers.get("connection")).toBe("close")
    }))

  it.scoped("a CRLF after a request (allowed before a request line) does not turn the keep-alive wait into a 408", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc\r\n")
      expect((yield* client.response())!.status).toBe(405)
      yield* tick
      yield* TestClock.adjust(Duration.seconds(5))
      expect(yield* client.untilClosed).toBe("")
      expect(server.log.out).toHaveLength(1)
    }))

  it.scoped("pipelining: a slow first response still comes out before a fast second one", () =>
    Effect.gen(function*() {
      const handler = (head: { readonly target: string }) =>
        head.target === "/slow"
          ? Effect.as(Clock.sleep(Duration.seconds(3)), ServerResponse.html(200, "slow"))
          : Effect.succeed(ServerResponse.html(200, "fast"))
      const server = yield* startServer({ handler })
      const client = yield* server.connect()
      yield* client.send(get("/slow") + get("/fast") + get("/fast"))
      const responses = yield* Effect.fork(Effect.all([client.response(), client.response(), client.response()]))
      yield* untilSleeping()
      yield* TestClock.adjust(Duration.seconds(3))
      const texts = (yield* Fiber.join(responses)).map((r) => r!.text)
      expect(texts).toEqual(["slow", "fast", "fast"])
    }))

  it.scoped("304 on the wire: validators, no body, no Content-Length; the next request is framed right", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      const etag = (yield* client.response())!.headers.get("etag")!
      yield* client.send(get("/hello.txt", `If-None-Match: ${etag}\r\n`) + get("/style.css"))
      const raw = yield* Effect.fork(client.response())
      const notModified = (yield* Fiber.join(raw))!
      expect(notModified.status).toBe(304)
      expect(notModified.headers.get("etag")).toBe(etag)
      expect(notModified.headers.has("last-modified")).toBe(true)
      expect(notModified.headers.has("content-length")).toBe(false)
      expect(notModified.headers.has("date")).toBe(true)
      expect((yield* client.response())!.text).toBe("body{color:red}\n")
    }))

  it.scoped("a chunked request body with extensions and trailers is discarded, keeping the framing", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "4;ext=1\r\nGET \r\n6\r\n/x\r\n\r\n\r\n0\r\nTrailer-Field: y\r\n\r\n" + get("/style.css")
      )
      expect((yield* client.response())!.text).toBe("hello world\n")
      expect((yield* client.response())!.text).toBe("body{color:red}\n")
    }))

  it.scoped("a malformed request gets its error page with Date, Server and Connection: close", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send("GET /a\x1b[31m HTTP/1.1\r\nHost: t\r\n\r\n")
      const response = (yield* client.response())!
      expect(response.status).toBe(400)
      expect(response.headers.get("connection")).toBe("close")
      expect(response.headers.get("date")).toMatch(/ GMT$/)
      expect(response.headers.get("server")).toMatch(/^fiberhttp\//)
      yield* until(() => server.log.out.length === 1, "the access line")
      expect(server.log.out[0]).not.toContain("\x1b")
    }))

  it.scoped("503 past --max-connections carries Date, Server, Retry-After and Connection: close", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { maxConnections: 1 } })
      const first = yield* server.connect()
      yield* first.send(get("/hello.txt"))
      yield* first.response()
      const second = yield* server.connect()
      const refused = (yield* second.response())!
      expect(refused.status).toBe(503)
      expect(refused.headers.get("connection")).toBe("close")
      expect(refused.headers.get("retry-after")).toBe("1")
      expect(refused.headers.get("date")).toMatch(/ GMT$/)
      expect(refused.headers.get("server")).toMatch(/^fiberhttp\//)
    }))
})

describe("Server: refusals in the access log", () => {
  it.scoped("a 503 the client read is logged with its body bytes, also when the client then resets or lingers", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { maxConnections: 1 } })
      const first = yield* server.connect()
      yield* first.send(get("/hello.txt"))
      yield* first.response()
      const resetting = yield* server.connect()
      const length = (yield* resetting.response())!.body.length
      expect(length).toBeGreaterThan(0)
      yield* resetting.peer.reset
      yield* until(() => server.log.out.some((l) => l.includes(" 503 ")), "the first refusal logged")
      const lingering = yield* server.connect()
      expect((yield* lingering.response())!.status).toBe(503)
      yield* untilSleeping()
      yield* TestClock.adjust(Duration.seconds(1))
      yield* until(() => server.log.out.filter((l) => l.includes(" 503 ")).length === 2, "both refusals logged")
      for (const line of server.log.out.filter((l) => l.includes(" 503 "))) expect(line).toContain(` 503 ${length} `)
    }))
})

describe("Server: shutdown, structured", () => {
  it.scoped("a connection mid-upload (request body half sent) is finalized at shutdown", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true })
      const uploading = yield* server.connect()
      yield* uploading.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + "a".repeat(5000))
      yield* until(() => server.log.out.some((l) => l.includes(" forked ")), "the connection fiber")
      yield* server.shutdown
      yield* uploading.peer.closed
      expect(server.log.out.filter((l) => l.includes(" finalized "))).toHaveLength(1)
    }))

  it.scoped("connections accepted just before shutdown are all finalized, even with no grace", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true, config: { grace: Duration.zero, maxConnections: 4 } })
      const peers = []
      for (let i = 0; i < 12; i++) peers.push(yield* server.connect())
      yield* server.shutdown
      for (const peer of peers) yield* peer.peer.closed
      const forked = server.log.out.filter((l) => l.includes(" forked ")).length
      expect(server.log.out.filter((l) => l.includes(" finalized "))).toHaveLength(forked)
    }))

  it.scoped(
    "after 3000 short connections the connection set is empty: nothing left to drain",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer({ trace: true })
        for (let i = 0; i < 3000; i++) {
          const client = yield* server.connect()
          yield* client.send(get("/hello.txt", "Connection: close\r\n"))
          yield* client.untilClosed
        }
        yield* server.shutdown
        expect(server.log.out.find((l) => l.includes(" draining "))).toContain(
          "interrupting 0 connection(s) between requests; 0 response(s) in flight"
        )
        expect(server.log.out.find((l) => l.includes(" drained "))).toContain("no response left in flight")
        expect(server.log.out.filter((l) => l.includes(" finalized "))).toHaveLength(3000)
      }),
    60_000
  )
})

describe("Server: accept errors", () => {
  it.scoped("accepts refused for want of descriptors: logged at most once a second, backing off, then accepting again", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory({ format: "text", quiet: false, trace: false })
      const context = yield* Layer.build(Layer.merge(MemoryNet.layer, log.layer))
      const sockets = Context.get(context, SocketServer)
      let failures = 0
      let attempts = 0
      const flaky = SocketServer.of({
        listen: (options) =>
          Effect.map(sockets.listen(options), (listener) => ({
            ...listener,
            accept: Effect.suspend(() => {
              attempts++
              return failures++ < 6
                ? Effect.fail(
                  new AcceptError({
                    reason: "OutOfDescriptors",
                    message: "cannot accept connections on 127.0.0.1:40000: out of file descriptors (EMFILE)"
                  })
                )
                : listener.accept
            })
          }))
      })
      const running = yield* Server.serve(
        { ...Server.defaults, ports: [0] },
        () => Effect.succeed(ServerResponse.html(200, "ok"))
      ).pipe(
        Effect.provideService(SocketServer, flaky),
        Effect.provide(context)
      )
      const network = Context.get(context, MemoryNetwork)
      const peer = yield* Effect.orDie(network.connect(running.addresses[0]!.port))
      const client = new Client(peer)
      yield* client.send(get("/"))
      const answer = yield* Effect.fork(client.response())
      // backing off, not spinning: one attempt per pause
      yield* until(() => attempts === 1, "the first accept")
      for (let i = 0; i < 20; i++) yield* tick
      expect(attempts).toBe(1)
      // pauses of 100, 200, 400, 800, 1000 and 1000 ms: refused at 0, 100, 300, 700, 1500 and 2500 ms
      yield* TestClock.adjust(Duration.millis(3499))
      expect(attempts).toBe(6)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* Fiber.join(answer))!.text).toBe("ok")
      expect(attempts).toBe(8)
      const lines = log.err.filter((l) => l.includes("EMFILE"))
      expect(lines).toHaveLength(3)
      expect(lines[0]).toContain("accepting again in 100 ms")
      expect(lines[1]).toContain("(3 more refused since the last report)")
    }))
})
