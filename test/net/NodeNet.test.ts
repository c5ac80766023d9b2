import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import * as net from "node:net"
import { Connector } from "../../src/net/Connector.ts"
import { ListenError, SocketError } from "../../src/net/errors.ts"
import * as NodeConnector from "../../src/net/NodeConnector.ts"
import * as NodeSocketServer from "../../src/net/NodeSocketServer.ts"
import { SocketServer } from "../../src/net/SocketServer.ts"
import { bytes, countAll, readAll, readAtLeast, writeUntilStalled } from "./helpers.ts"

const NodeNet = Layer.merge(NodeSocketServer.layer, NodeConnector.layer)

/** Opens a client connection to host:port through the node connector. */
const dial = (host: string, port: number) =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const { addresses: [address] } = yield* connector.resolve(host)
    return (yield* connector.connect(address!, port, host)).connection
  })

/** A raw node client that never reads: its receive window fills up. */
const stalledPeer = (port: number) =>
  Effect.acquireRelease(
    Effect.async<net.Socket>((resume) => {
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.pause()
      socket.on("error", () => {})
      socket.once("connect", () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** Whether something can bind host:port right now. */
const canBind = (host: string, port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = net.createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen({ host, port }, () => probe.close(() => resume(Effect.succeed(true))))
  })

const chunk64k = new Uint8Array(64 * 1024).fill(120)

describe("node:net SocketServer and Connector", () => {
  for (const host of ["127.0.0.1", "::1"]) {
    it.scopedLive(`round trip with half-close on ${host}, port 0`, () =>
      Effect.gen(function*() {
        const listener = yield* (yield* SocketServer).listen({ host, port: 0 })
        expect(listener.port).toBeGreaterThan(0)
        expect(listener.host).toBe(host)

        const client = yield* dial(host, listener.port)
        const server = yield* listener.accept
        expect(server.id).toMatch(/^c\d+$/)
        expect(client.id).not.toBe(server.id)
        expect(server.localPort).toBe(listener.port)
        expect(server.remotePort).toBe(client.localPort)
        expect(client.remoteAddress).toBe(host)

        yield* client.write(bytes("GET / HTTP/1.1\r\n\r\n"))
        yield* client.end
        // The peer's FIN ends the request, and the response still goes out after it.
        expect(yield* readAll(server)).toBe("GET / HTTP/1.1\r\n\r\n")
        expect(yield* server.read).toEqual(Option.none())
        yield* server.write(bytes("HTTP/1.1 200 OK\r\n"))
        yield* server.write(bytes("\r\n"))
        yield* server.end
        expect(yield* readAll(client)).toBe("HTTP/1.1 200 OK\r\n\r\n")
        yield* server.destroy
        yield* server.destroy
      }).pipe(Effect.provide(NodeNet)))
  }

  it.scopedLive("a second listener on a used port fails with ListenError naming the port", () =>
    Effect.gen(function*() {
      const sockets = yield* SocketServer
      const first = yield* sockets.listen({ host: "127.0.0.1", port: 0 })
      const error = yield* Effect.flip(sockets.listen({ host: "127.0.0.1", port: first.port }))
      expect(error).toBeInstanceOf(ListenError)
      expect(error.reason).toBe("AddressInUse")
      expect(error.port).toBe(first.port)
      expect(error.host).toBe("127.0.0.1")
      expect(error.message).toContain(`127.0.0.1:${first.port}`)
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("an unusable address fails with ListenError", () =>
    Effect.gen(function*() {
      // TEST-NET-1 (RFC 5737) is assigned to no local interface.
      const error = yield* Effect.flip((yield* SocketServer).listen({ host: "192.0.2.1", port: 0 }))
      expect(error.reason).toBe("AddressNotAvailable")
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("writes and end to a peer that never reads stay pending, are interruptible, and fail once destroyed", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      yield* stalledPeer(listener.port)
      const server = yield* listener.accept

      const { written, stalled } = yield* writeUntilStalled(server, chunk64k, 256 * 1024 * 1024)
      expect(stalled).toBe(true)
      // Bounded by kernel buffers plus one high-water mark, far below the limit.
      expect(written).toBeLessThan(64 * 1024 * 1024)

      // A write stays pending until destroy frees it with a SocketError.
      const pending = yield* Effect.fork(server.write(chunk64k))
      yield* Effect.sleep("100 millis")
      expect(yield* Fiber.poll(pending)).toEqual(Option.none())
      // `end` cannot flush either: it waits, and a timeout interrupts it.
      expect(yield* server.end.pipe(Effect.timeoutOption("100 millis"))).toEqual(Option.none())
      yield* server.destroy
      const exit = yield* Fiber.await(pending)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(server.write(chunk64k))
      expect(error).toBeInstanceOf(SocketError)
      expect(error.reason).toBe("Closed")
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("a server that does not read pauses the socket: the client's writes stall, nothing is lost", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const client = yield* dial("127.0.0.1", listener.port)
      const server = yield* listener.accept
      const heapBefore = process.memoryUsage().arrayBuffers

      const { written, stalled } = yield* writeUntilStalled(client, chunk64k, 256 * 1024 * 1024)
      expect(stalled).toBe(true)
      expect(written).toBeLessThan(64 * 1024 * 1024)
      // Neither side buffers what the kernel would not take.
      expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(32 * 1024 * 1024)

      // The stalled write is still queued; once the server reads, everything arrives in order.
      const reader = yield* Effect.fork(countAll(server))
      yield* client.end
      expect(yield* Fiber.join(reader)).toBe(written + chunk64k.length)
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("read returns a reset as SocketError Reset", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* stalledPeer(listener.port)
      const server = yield* listener.accept
      const reading = yield* Effect.fork(server.read)
      yield* Effect.sync(() => peer.resetAndDestroy())
      const error = yield* Effect.flip(Fiber.join(reading))
      expect(error.reason).toBe("Reset")
    }).pipe(Effect.provide(NodeNet)))

  it.live("closing the scope releases the port at once, with a stalled peer and an untaken connection", () =>
    Effect.gen(function*() {
      const { port, untaken } = yield* Effect.scoped(
        Effect.gen(function*() {
          const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
          yield* stalledPeer(listener.port)
          const server = yield* Effect.acquireRelease(listener.accept, (c) => c.destroy)
          yield* Effect.forkScoped(Effect.forever(server.write(chunk64k)))
          yield* Effect.sleep("100 millis")
          // Accepted by the kernel, never taken by `accept`.
          const untaken = yield* Effect.sync(() => net.connect({ host: "127.0.0.1", port: listener.port }))
          untaken.on("error", () => {})
          yield* Effect.async<void>((resume) => void untaken.once("connect", () => resume(Effect.void)))
          yield* Effect.sleep("50 millis")
          return { port: listener.port, untaken }
        })
      ).pipe(Effect.timeout("2 seconds"))
      expect(yield* canBind("127.0.0.1", port)).toBe(true)
      const closed = yield* Effect.async<boolean>((resume) => {
        if (untaken.destroyed) return resume(Effect.succeed(true))
        untaken.once("close", () => resume(Effect.succeed(true)))
        untaken.resume()
      }).pipe(Effect.timeoutTo({ duration: "1 second", onSuccess: () => true, onTimeout: () => false }))
      expect(closed).toBe(true)
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("close stops accepting: pending and later accepts fail with SocketError Closed", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const waiting = yield* Effect.fork(listener.accept)
      yield* Effect.sleep("20 millis")
      yield* listener.close
      yield* listener.close
      expect((yield* Effect.flip(Fiber.join(waiting))).reason).toBe("Closed")
      expect((yield* Effect.flip(listener.accept)).reason).toBe("Closed")
      expect(yield* canBind("127.0.0.1", listener.port)).toBe(true)
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("IPv6 any address accepts IPv6 loopback connections", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "::", port: 0 })
      const client = yield* dial("::1", listener.port)
      const server = yield* listener.accept
      yield* client.write(bytes("ping"))
      expect(yield* readAtLeast(server, 4)).toBe("ping")
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("connecting to a closed port fails with ConnectError Refused", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(
        Effect.map((yield* SocketServer).listen({ host: "127.0.0.1", port: 0 }), (l) => l.port)
      )
      const error = yield* Effect.flip(dial("127.0.0.1", port))
      expect(error._tag).toBe("ConnectError")
      if (error._tag !== "ConnectError") return
      expect(error.reason).toBe("Refused")
      expect(error.port).toBe(port)
      expect(error.message).toContain("refused")
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("arguments node:net throws on (a port out of range) fail with ConnectError, not a defect", () =>
    Effect.gen(function*() {
      const connector = yield* Connector
      const exit = yield* Effect.exit(connector.connect({ address: "127.0.0.1", family: 4 }, 70000, "127.0.0.1"))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause) ? exit.cause.error._tag : exit).toBe("ConnectError")
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("a connect attempt is interruptible (connect timeout)", () =>
    Effect.gen(function*() {
      const connector = yield* Connector
      // TEST-NET-1: either unroutable at once or silently dropped until the timeout.
      const result = yield* connector.connect({ address: "192.0.2.1", family: 4 }, 80, "192.0.2.1").pipe(
        Effect.timeoutOption("300 millis"),
        Effect.either,
        Effect.timed
      )
      expect(Duration.toMillis(result[0])).toBeLessThan(2000)
      const outcome = result[1]
      if (outcome._tag === "Left") expect(outcome.left._tag).toBe("ConnectError")
      else expect(outcome.right).toEqual(Option.none())
    }).pipe(Effect.provide(NodeNet)))

  it.effect("resolve: an unknown name fails with ResolveError; literals and localhost resolve", () =>
    Effect.gen(function*() {
      const connector = yield* Connector
      const error = yield* Effect.flip(connector.resolve("does-not-exist.invalid"))
      expect(error._tag).toBe("ResolveError")
      expect(error.host).toBe("does-not-exist.invalid")
      expect(error.message).toContain("does-not-exist.invalid")
      // IP literals are their own address: no lookup
      expect(yield* connector.resolve("127.0.0.1")).toEqual({
        addresses: [{ address: "127.0.0.1", family: 4 }],
        lookup: undefined
      })
      expect(yield* connector.resolve("::1")).toEqual({ addresses: [{ address: "::1", family: 6 }], lookup: undefined })
      const local = yield* connector.resolve("localhost")
      expect(local.addresses.some(({ address }) => address === "127.0.0.1" || address === "::1")).toBe(true)
      expect(local.lookup!.endedAt).toBeGreaterThanOrEqual(local.lookup!.startedAt)
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("many chunks both ways arrive intact and in order", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const client = yield* dial("127.0.0.1", listener.port)
      const server = yield* listener.accept
      const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`)
      const echo = Effect.gen(function*() {
        while (true) {
          const chunk = yield* server.read
          if (Option.isNone(chunk)) return yield* server.end
          yield* server.write(chunk.value)
        }
      })
      yield* Effect.fork(echo)
      const received = yield* Effect.fork(readAll(client))
      for (const line of lines) yield* client.write(bytes(line))
      yield* client.end
      expect(yield* Fiber.join(received)).toBe(lines.join(""))
    }).pipe(Effect.provide(NodeNet)))

  it.scopedLive("a first flight goes out from the connect callback; the answer waits for the reply", () =>
    Effect.gen(function*() {
      // a raw server that answers 40 ms after the request arrived
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", (data) => setTimeout(() => socket.end(`got ${data.length}`), 40))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const { port } = server.address() as net.AddressInfo
      const connector = yield* Connector
      const address = { address: "127.0.0.1", family: 4 } as const
      const request = bytes("GET / HTTP/1.1\r\n\r\n")

      const waited = yield* connector.connect(address, port, "127.0.0.1", { bytes: request, awaitReplyFor: 5000 })
      const answeredAt = waited.connection.now()
      expect(waited.sent).toBeDefined()
      expect(waited.sent!.startedAt).toBeGreaterThanOrEqual(waited.handshake.endedAt)
      expect(waited.sent!.endedAt).toBeGreaterThanOrEqual(waited.sent!.startedAt)
      // the reply had begun to arrive when connect answered: its instant is before the answer
      const reply = yield* waited.connection.read
      expect(new TextDecoder().decode(Option.getOrThrow(reply))).toBe(`got ${request.length}`)
      expect(waited.connection.receivedAt()).toBeLessThanOrEqual(answeredAt)
      expect(Number(answeredAt - waited.sent!.endedAt) / 1e6).toBeGreaterThanOrEqual(30)

      // with no wait, connect answers once the bytes are out, long before the reply
      const quick = yield* connector.connect(address, port, "127.0.0.1", { bytes: request, awaitReplyFor: 0 })
      const quickAt = quick.connection.now()
      yield* quick.connection.read
      expect(quick.connection.receivedAt()).toBeGreaterThan(quickAt)
      expect(Number(quick.connection.receivedAt() - quickAt) / 1e6).toBeGreaterThanOrEqual(30)
    }).pipe(Effect.provide(NodeConnector.layer)))
})
