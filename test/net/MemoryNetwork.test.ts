import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, TestClock } from "effect"
import { MemoryNetwork } from "../../src/net/MemoryNetwork.ts"
import * as Memory from "../../src/net/MemoryNetwork.ts"
import { SocketServer } from "../../src/net/SocketServer.ts"
import { bytes, readAll, text } from "./helpers.ts"

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("MemoryNetwork", () => {
  it.scoped("a byte-by-byte exchange, half-close, then the server ends and closes", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      expect(listener.port).toBe(40000)
      const peer = yield* (yield* MemoryNetwork).connect(listener.port, { remoteAddress: "192.0.2.7" })
      const server = yield* listener.accept
      expect(server.remoteAddress).toBe("192.0.2.7")
      expect(server.localPort).toBe(listener.port)
      expect(server.id).not.toBe(peer.id)

      for (const byte of "GET /") yield* peer.write(byte)
      yield* peer.end
      const received: Array<string> = []
      while (true) {
        const chunk = yield* server.read
        if (Option.isNone(chunk)) break
        received.push(text(chunk.value))
      }
      expect(received).toEqual(["G", "E", "T", " ", "/"])

      expect(yield* peer.status).toEqual({ ended: false, destroyed: false })
      yield* server.write(bytes("HTTP/1.1 200 OK\r\n\r\n"))
      yield* server.end
      expect(yield* peer.status).toEqual({ ended: true, destroyed: false })
      yield* server.destroy
      expect(yield* peer.status).toEqual({ ended: true, destroyed: true })
      yield* peer.closed
      expect(yield* peer.readAllText).toBe("HTTP/1.1 200 OK\r\n\r\n")
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("a peer that never reads blocks the server's writes beyond its window", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port, { window: 8 })
      const server = yield* listener.accept

      yield* server.write(bytes("12345678"))
      const blocked = yield* Effect.fork(server.write(bytes("9")))
      yield* settle
      expect(yield* Fiber.poll(blocked)).toEqual(Option.none())

      // Reading makes room: the write completes, and the bytes arrive in order.
      expect(Option.map(yield* peer.read, text)).toEqual(Option.some("12345678"))
      yield* Fiber.join(blocked)
      expect(Option.map(yield* peer.read, text)).toEqual(Option.some("9"))
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("bytesFlushed counts what the peer's window has taken, also during one pending write", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port, { window: 4096 })
      const server = yield* listener.accept
      expect(server.bytesFlushed()).toBe(0)

      yield* server.write(bytes("hello"))
      expect(server.bytesFlushed()).toBe(5)
      // one write far beyond the window: taken as the peer reads, a kilobyte at a time
      const big = new Uint8Array(64 * 1024)
      const writing = yield* Effect.fork(server.write(big))
      yield* settle
      // what the window took the moment the write was issued is not progress made while it waits
      expect(server.bytesFlushed()).toBe(5)
      expect(Option.map(yield* peer.readUpTo(1024), (c) => c.length)).toEqual(Option.some(5))
      expect(server.bytesFlushed()).toBe(10)
      const seen: Array<number> = []
      for (let i = 0; i < 4; i++) {
        expect(Option.map(yield* peer.readUpTo(1024), (c) => c.length)).toEqual(Option.some(1024))
        seen.push(server.bytesFlushed())
        expect(yield* Fiber.poll(writing)).toEqual(Option.none())
      }
      expect(seen).toEqual([10 + 1024, 10 + 2048, 10 + 3072, 10 + 4096])
      let rest = 0
      while (rest < big.length - 4096) {
        const chunk = yield* peer.readUpTo(1000)
        rest += Option.getOrThrow(chunk).length
      }
      yield* Fiber.join(writing)
      expect(server.bytesFlushed()).toBe(5 + big.length)
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("a stalled write can be timed out with TestClock and interrupted", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      yield* (yield* MemoryNetwork).connect(listener.port, { window: 0 })
      const server = yield* listener.accept
      const write = yield* Effect.fork(server.write(bytes("x")).pipe(Effect.timeoutOption("30 seconds")))
      yield* TestClock.adjust("29 seconds")
      expect(yield* Fiber.poll(write)).toEqual(Option.none())
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(write)).toEqual(Option.none())
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("destroy closes like node's socket.destroy(): FIN when nothing is left unread, a reset otherwise", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })

      // The peer closes with nothing unread: the server's pending read ends (FIN); its writes fail with Reset.
      const first = yield* network.connect(listener.port)
      const firstServer = yield* listener.accept
      const reading = yield* Effect.fork(firstServer.read)
      yield* settle
      yield* first.destroy
      expect(yield* Fiber.join(reading)).toEqual(Option.none())
      expect((yield* Effect.flip(firstServer.write(bytes("late")))).reason).toBe("Reset")
      expect((yield* Effect.flip(first.read)).reason).toBe("Closed")

      // The server closes mid-response: the peer reads what was sent, then the end.
      const second = yield* network.connect(listener.port)
      const secondServer = yield* listener.accept
      yield* secondServer.write(bytes("partial"))
      yield* secondServer.destroy
      yield* secondServer.destroy
      expect(yield* second.status).toEqual({ ended: true, destroyed: true })
      expect(Option.map(yield* second.read, text)).toEqual(Option.some("partial"))
      expect(yield* second.read).toEqual(Option.none())
      expect((yield* Effect.flip(second.write("more"))).reason).toBe("Reset")
      expect((yield* Effect.flip(secondServer.read)).reason).toBe("Closed")

      // The server closes with the peer's bytes unread: a reset, as the kernel sends one.
      const third = yield* network.connect(listener.port)
      const thirdServer = yield* listener.accept
      yield* third.write("unread")
      yield* thirdServer.write(bytes("partial"))
      yield* thirdServer.destroy
      expect(Option.map(yield* third.read, text)).toEqual(Option.some("partial"))
      expect((yield* Effect.flip(third.read)).reason).toBe("Reset")
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("closeNow: at once (an Exit) when the window took every write, else after the peer made room", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })

      const first = yield* network.connect(listener.port, { window: 8 })
      const firstServer = yield* listener.accept
      yield* firstServer.write(bytes("response"))
      expect(Exit.isExit(firstServer.closeNow())).toBe(true)
      expect(yield* first.status).toEqual({ ended: true, destroyed: true })
      expect(yield* first.readAllText).toBe("response")

      const second = yield* network.connect(listener.port, { window: 8 })
      const secondServer = yield* listener.accept
      yield* Effect.fork(secondServer.write(bytes("more than eight")))
      yield* settle
      const closed = secondServer.closeNow()
      expect(Exit.isExit(closed)).toBe(false)
      const closing = yield* Effect.fork(closed)
      yield* settle
      // the FIN is queued behind the bytes; the connection stays until the peer took them
      expect(yield* second.status).toEqual({ ended: true, destroyed: false })
      expect(yield* second.readAllText).toBe("more than eight")
      yield* Fiber.join(closing)
      expect(yield* second.status).toEqual({ ended: true, destroyed: true })
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("a peer's reset: the server's pending read and its writes fail with Reset", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port)
      const server = yield* listener.accept
      const reading = yield* Effect.fork(server.read)
      yield* settle
      yield* peer.reset
      expect((yield* Effect.flip(Fiber.join(reading))).reason).toBe("Reset")
      expect((yield* Effect.flip(server.write(bytes("late")))).reason).toBe("Reset")
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("destroy frees a write blocked on a full window", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port, { window: 0 })
      const server = yield* listener.accept
      const blocked = yield* Effect.fork(server.write(bytes("x")))
      yield* settle
      yield* server.destroy
      expect((yield* Effect.flip(Fiber.join(blocked))).reason).toBe("Closed")
      yield* peer.closed
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("ports: in use, refused, and released when the listener closes", () =>
    Effect.gen(function*() {
      const sockets = yield* SocketServer
      const network = yield* MemoryNetwork
      const listener = yield* sockets.listen({ host: "::", port: 8080 })
      const error = yield* Effect.flip(sockets.listen({ host: "::", port: 8080 }))
      expect(error._tag).toBe("ListenError")
      expect(error.reason).toBe("AddressInUse")
      expect(error.port).toBe(8080)
      expect((yield* Effect.flip(network.connect(9999))).reason).toBe("Refused")

      // A connection never taken is closed when the listener closes (a reset
      // if it had sent something, as node's destroy); waiting accepts fail.
      const untaken = yield* network.connect(8080)
      const talking = yield* network.connect(8080)
      yield* talking.write("GET")
      yield* listener.close
      yield* untaken.closed
      expect(yield* untaken.read).toEqual(Option.none())
      expect((yield* Effect.flip(talking.read)).reason).toBe("Reset")
      expect((yield* Effect.flip(listener.accept)).reason).toBe("Closed")
      expect((yield* Effect.flip(network.connect(8080))).reason).toBe("Refused")
      expect(yield* network.ports).toEqual([])
      const again = yield* sockets.listen({ host: "::", port: 8080 })
      expect(again.port).toBe(8080)
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("closing the listener's scope releases its port and closes untaken connections", () =>
    Effect.gen(function*() {
      const sockets = yield* SocketServer
      const network = yield* MemoryNetwork
      const listenerScope = yield* Scope.make()
      const listener = yield* sockets.listen({ host: "127.0.0.1", port: 8080 }).pipe(Scope.extend(listenerScope))
      const untaken = yield* network.connect(listener.port)
      yield* Scope.close(listenerScope, Exit.void)
      yield* untaken.closed
      expect(yield* network.ports).toEqual([])
      expect((yield* sockets.listen({ host: "127.0.0.1", port: 8080 })).port).toBe(8080)
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("the server reads a request, answers it, and the peer gets everything", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port)
      const server = yield* listener.accept
      yield* peer.write("ping")
      yield* peer.end
      expect(yield* readAll(server)).toBe("ping")
      yield* server.write(bytes("pong"))
      yield* server.end
      expect(yield* peer.readAllText).toBe("pong")
    }).pipe(Effect.provide(Memory.layer)))
})

describe("Connection.readWith", () => {
  it.scoped("hands chunks over in the writer's call, answering there, until consume returns; then reads wait", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port)
      const server = yield* listener.accept
      const seen: Array<string> = []
      const consuming = yield* Effect.fork(server.readWith((chunk) => {
        if (Option.isNone(chunk)) return "end"
        seen.push(text(chunk.value))
        // an answer written from inside the callback wakes this same reader: the loop running takes it
        expect(Exit.isExit(server.writeNow(bytes(`ok ${text(chunk.value)};`)))).toBe(true)
        return text(chunk.value) === "stop" ? "stopped" : undefined
      }))
      yield* settle
      yield* peer.write("a")
      // consumed within the write: nothing else ran
      expect(seen).toEqual(["a"])
      yield* peer.write("b")
      yield* peer.write("stop")
      yield* peer.write("after")
      expect(yield* Fiber.join(consuming)).toBe("stopped")
      expect(seen).toEqual(["a", "b", "stop"])
      // what came after is left for the next read
      expect(Option.map(yield* server.read, text)).toEqual(Option.some("after"))
      yield* peer.end
      expect(yield* server.readWith((chunk) => (Option.isNone(chunk) ? "end" : undefined))).toBe("end")
      yield* server.end
      expect(yield* peer.readAllText).toBe("ok a;ok b;ok stop;")
    }).pipe(Effect.provide(Memory.layer)))

  it.scoped("a throw in consume fails the effect as a defect; the writer's call goes on", () =>
    Effect.gen(function*() {
      const listener = yield* (yield* SocketServer).listen({ host: "127.0.0.1", port: 0 })
      const peer = yield* (yield* MemoryNetwork).connect(listener.port)
      const server = yield* listener.accept
      const consuming = yield* Effect.fork(server.readWith(() => {
        throw new Error("boom")
      }))
      yield* settle
      yield* peer.write("a")
      const exit = yield* Fiber.await(consuming)
      expect(Exit.isFailure(exit) ? String(exit.cause) : "").toContain("boom")
    }).pipe(Effect.provide(Memory.layer)))
})
