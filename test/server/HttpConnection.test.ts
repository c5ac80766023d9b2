import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { Headers } from "../../src/http/Headers.ts"
import { makePipe, toPeer } from "../../src/net/MemoryPipe.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import { ConnectionState, serveConnection } from "../../src/server/HttpConnection.ts"
import type * as ServerResponse from "../../src/server/ServerResponse.ts"
import { makeWatchdogs } from "../../src/server/Watchdog.ts"
import { get, tick, until } from "./harness.ts"

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
    return { state, peer: toPeer(client), fiber, log }
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
