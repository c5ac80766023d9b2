import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { formatHttpDate } from "../../src/http/date.ts"
import { Headers } from "../../src/http/Headers.ts"
import { makePipe, toPeer } from "../../src/net/MemoryPipe.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import { ConnectionState, serveConnection } from "../../src/server/HttpConnection.ts"
import type * as ServerResponse from "../../src/server/ServerResponse.ts"
import { makeWatchdogs } from "../../src/server/Watchdog.ts"
import { get, startServer, tick, until } from "./harness.ts"

const address = { address: "127.0.0.1", port: 1 }
const limits = { headerTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, writeTimeoutMs: 30_000, maxRequests: 100 }

/** One connection served over an in-memory pipe, its state observable from the test. */
const serveOne = (handler: ServerResponse.Handler) =>
  Effect.gen(function*() {
    const [server, client] = makePipe({ window: 64 * 1024, now: () => 0n, server: address, client: address })
    const state = new ConnectionState()
    const watchdogs = yield* makeWatchdogs
    const log = AccessLog.memory({ format: "text", quiet: false, trace: false })
    const fiber = yield* serveConnection(server.connection, {
      limits,
      watchdogs,
      handler,
      fiber: "#1",
      parent: "test",
      state,
      draining: () => false
    }).pipe(Effect.provide(log.layer), Effect.fork)
    return { state, peer: toPeer(client), fiber, log, server, client }
  })

describe("HttpConnection: observable state", () => {
  it.scoped("goes idle, head, responding (with the bytes taken so far), idle, then closing", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const chunk = new Uint8Array(4096).fill(97)
      const { fiber, peer, state } = yield* serveOne(() =>
        Effect.succeed(
          {
            status: 200,
            headers: new Headers(),
            body: {
              _tag: "Stream",
              length: 2 * chunk.length,
              // the second chunk waits for the test: the state is seen mid-body
              stream: Stream.concat(Stream.succeed(chunk), Stream.fromEffect(Effect.as(Deferred.await(release), chunk)))
            }
          } satisfies ServerResponse.ServerResponse
        )
      )
      yield* tick
      expect(state.phase).toBe("idle")
      expect(state.begunAt).toBeUndefined()
      yield* peer.write("GET /a HTTP/1.1\r\nHo")
      yield* until(() => state.phase === "head", "the head phase")
      expect(state.begunAt).toBeDefined()
      expect(state.requests).toBe(0)
      yield* peer.write("st: t\r\n\r\n")
      yield* until(() => state.bytesSent === chunk.length, "the first chunk taken")
      expect(state.phase).toBe("responding")
      expect(state.requestLine).toBe("GET /a HTTP/1.1")
      expect(state.status).toBe(200)
      expect(state.requests).toBe(1)
      yield* Deferred.succeed(release, undefined)
      const all = yield* Effect.fork(peer.readAll)
      yield* until(() => state.phase === "idle", "idle after the response")
      expect(state.bytesSent).toBe(2 * chunk.length)
      expect(state.requestLine).toBeUndefined()
      yield* peer.write(get("/b").replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n"))
      expect(yield* Fiber.join(fiber)).toBe("not persistent")
      expect(state.phase).toBe("closing")
      expect(state.requests).toBe(2)
      yield* peer.destroy
      yield* Fiber.interrupt(all)
    }))
})

describe("HttpConnection: responses answered at once", () => {
  const page = new TextEncoder().encode("shared\n")
  /** One response object handed out for every request, as a cached file's is. */
  const shared: ServerResponse.ServerResponse = {
    status: 200,
    headers: new Headers([["Content-Type", "text/plain"]]),
    body: { _tag: "Bytes", bytes: page }
  }

  it.scoped("a response handed out again gets the Date of its own second, its own Connection, and a log line", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handler: () => Effect.succeed(shared) })
      const client = yield* server.connect()
      yield* client.send(get("/a") + get("/b"))
      const first = (yield* client.response())!
      const second = (yield* client.response())!
      expect(first.text).toBe("shared\n")
      expect(second.text).toBe("shared\n")
      expect(first.headers.get("date")).toBe(formatHttpDate(0))
      yield* TestClock.adjust(Duration.millis(1500))
      yield* client.send(get("/c"))
      const later = (yield* client.response())!
      expect(later.headers.get("date")).toBe(formatHttpDate(1000))
      expect(later.headers.has("connection")).toBe(false)
      // the same response to a request that closes the connection, and to HEAD
      yield* client.send("HEAD /d HTTP/1.1\r\nHost: t\r\n\r\n" + get("/e", "Connection: close\r\n"))
      const headOnly = (yield* client.response({ head: true }))!
      expect(headOnly.headers.get("content-length")).toBe(String(page.length))
      expect(headOnly.text).toBe("")
      const closing = (yield* client.response())!
      expect(closing.headers.get("connection")).toBe("close")
      expect(closing.text).toBe("shared\n")
      expect(yield* client.untilClosed).toBe("")
      yield* until(() => server.log.out.length === 5, "five access lines")
      expect(server.log.out.map((line) => / "(GET|HEAD) (\/\w) HTTP\/1\.1" 200 (\d+) /.exec(line)?.slice(1))).toEqual([
        ["GET", "/a", "7"],
        ["GET", "/b", "7"],
        ["GET", "/c", "7"],
        ["HEAD", "/d", "0"],
        ["GET", "/e", "7"]
      ])
    }))
})

describe("HttpConnection: requests served as their bytes arrive", () => {
  const page = new TextEncoder().encode("kept\n")
  const kept: ServerResponse.ServerResponse = {
    status: 200,
    headers: new Headers([["Content-Type", "text/plain"]]),
    body: { _tag: "Bytes", bytes: page }
  }
  const encode = (text: string) => new TextEncoder().encode(text)

  it.scoped("are answered in the transport's callback, each re-arming the keep-alive timeout from its response", () =>
    Effect.gen(function*() {
      const { client, fiber, log, server, state } = yield* serveOne(() => Effect.succeed(kept))
      yield* tick
      /** Sends a request and says how many response bytes the server wrote before the send returned. */
      const sendAndSeeAnswer = (request: string) =>
        Effect.sync(() => {
          const before = Option.getOrElse(Effect.runSync(server.connection.unacknowledged), () => 0)
          const sent = client.connection.writeNow(encode(request))
          expect(Exit.isExit(sent)).toBe(true)
          return Option.getOrElse(Effect.runSync(server.connection.unacknowledged), () => 0) - before
        })
      // answered within the peer's write call: no step of the connection's fiber in between
      expect(yield* sendAndSeeAnswer(get("/a"))).toBeGreaterThan(page.length)
      expect(state.phase).toBe("idle")
      yield* TestClock.adjust(Duration.millis(4000))
      expect(yield* sendAndSeeAnswer(get("/b") + get("/c"))).toBeGreaterThan(2 * page.length)
      expect(state.requests).toBe(3)
      // 5 s after the last response, not after the first
      yield* TestClock.adjust(Duration.millis(4000))
      yield* tick
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.millis(1001))
      expect(yield* Fiber.join(fiber)).toBe("idle")
      expect(log.out.map((line) => / "GET (\/\w) HTTP\/1\.1" 200 5 /.exec(line)?.[1])).toEqual(["/a", "/b", "/c"])
    }))

  it.scoped("a partial request arriving in the callback starts the header timeout; a close is seen there", () =>
    Effect.gen(function*() {
      const { client, fiber, log, state } = yield* serveOne(() => Effect.succeed(kept))
      yield* tick
      yield* Effect.sync(() => client.connection.writeNow(encode(get("/a") + "GET /b HTTP/1.1\r\nHo")))
      expect(state.requests).toBe(1)
      expect(state.phase).toBe("head")
      yield* TestClock.adjust(Duration.millis(29_999))
      yield* tick
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(Duration.millis(1))
      yield* until(() => log.out.length === 2, "the 408's line")
      expect(log.out[1]).toMatch(/ "GET \/b HTTP\/1\.1" 408 /)
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* Fiber.join(fiber)).toBe("header timeout")

      const other = yield* serveOne(() => Effect.succeed(kept))
      yield* tick
      yield* Effect.sync(() => other.client.connection.writeNow(encode(get("/a"))))
      yield* other.client.connection.end
      expect(yield* Fiber.join(other.fiber)).toBe("peer closed")
      expect(other.log.out).toHaveLength(1)
    }))

  it.scoped("a handler that throws in the callback is a defect of the connection's fiber, not of the transport", () =>
    Effect.gen(function*() {
      const { client, fiber } = yield* serveOne(() => {
        throw new Error("boom")
      })
      yield* tick
      yield* Effect.sync(() => client.connection.writeNow(encode(get("/a"))))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) ? String(exit.cause) : "").toContain("boom")
    }))
})
