import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import * as net from "node:net"
import * as NodeSendQueues from "../../src/net/NodeSendQueues.ts"
import { fromSocket, makeBufferedSocket } from "../../src/net/NodeStreamConnection.ts"
import { makeWriteTurns } from "../../src/net/WriteTurns.ts"
import { readAtLeast, socketPair, text } from "./helpers.ts"

const sendQueues = NodeSendQueues.make()

/** Writes from the raw client until its own buffer backs up, up to `limit` bytes. */
const flood = (socket: net.Socket, limit: number) =>
  Effect.async<number>((resume) => {
    const chunk = Buffer.alloc(64 * 1024, 97)
    let sent = 0
    const pump = () => {
      while (sent < limit) {
        sent += chunk.length
        if (!socket.write(chunk)) {
          // Give the kernel a moment to move what it can, then see if 'drain' comes.
          const timer = setTimeout(() => {
            socket.off("drain", pump)
            resume(Effect.succeed(sent))
          }, 300)
          socket.once("drain", () => {
            clearTimeout(timer)
            pump()
          })
          return
        }
      }
      resume(Effect.succeed(sent))
    }
    pump()
  })

describe("NodeStreamConnection", () => {
  it.scopedLive("a connection that is not read keeps at most about one high-water mark buffered", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      const sent = yield* flood(client, 256 * 1024 * 1024)
      expect(sent).toBeLessThan(64 * 1024 * 1024)
      // Node stops reading from the kernel once its buffer reaches the high-water
      // mark; one more read of up to 64 KiB may land on top.
      expect(serverSocket.readableLength).toBeLessThanOrEqual(serverSocket.readableHighWaterMark + 64 * 1024)
      expect(serverSocket.isPaused() || serverSocket.readableFlowing !== true).toBe(true)
      const first = yield* connection.read
      expect(Option.isSome(first)).toBe(true)
    }))

  it.scopedLive("readWith serves each arrival in the socket's callback, answers included, until consume returns", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      let received = ""
      let answers = 0
      const served = yield* Effect.fork(connection.readWith((chunk) => {
        if (Option.isNone(chunk)) return received
        received += text(chunk.value)
        // the answer goes out from the callback, taken by the kernel at once
        while (answers < received.split(";").length - 1) {
          answers++
          expect(Exit.isExit(connection.writeNow(Buffer.from("ok;")))).toBe(true)
        }
        return undefined
      }))
      const replies = yield* Effect.async<string>((resume) => {
        let got = ""
        client.on("data", (data) => {
          got += data.toString()
          if (got === "ok;") client.write("two;")
          if (got === "ok;ok;") {
            client.end()
            resume(Effect.succeed(got))
          }
        })
        client.write("one;")
      })
      expect(replies).toBe("ok;ok;")
      expect(yield* Fiber.join(served)).toBe("one;two;")
    }))

  it.scopedLive("read takes what is buffered first and ends with None after the peer's FIN", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      client.end("hello")
      expect(yield* readAtLeast(connection, 5)).toBe("hello")
      expect(yield* connection.read).toEqual(Option.none())
      expect(yield* connection.read).toEqual(Option.none())
      // Half-open: the answer still reaches the peer.
      const answer = Effect.async<string>((resume) => {
        let got = ""
        client.on("data", (d: Buffer) => (got += text(d)))
        client.on("end", () => resume(Effect.succeed(got)))
      })
      const reader = yield* Effect.fork(answer)
      yield* connection.write(new TextEncoder().encode("world"))
      yield* connection.end
      expect(yield* Fiber.join(reader)).toBe("world")
    }))

  it.scopedLive("a pending read is interruptible; after destroy, reads fail with Closed even with bytes buffered", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      const pending = yield* Effect.fork(connection.read)
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(pending)
      // Bytes that arrived but were never read are dropped by destroy.
      client.write("unread")
      yield* Effect.sleep("50 millis")
      expect(serverSocket.readableLength).toBe(6)
      yield* connection.destroy
      const error = yield* Effect.flip(connection.read)
      expect(error.reason).toBe("Closed")
      expect((yield* Effect.flip(connection.end)).reason).toBe("Closed")
    }))
})

/** Everything the raw socket receives, and how its side ended: FIN ("end") or an error such as a reset. */
const receiveAll = (socket: net.Socket) =>
  Effect.async<{ readonly got: string; readonly ended: string }>((resume) => {
    let got = ""
    socket.on("data", (d: Buffer) => (got += text(d)))
    socket.on("end", () => resume(Effect.succeed({ got, ended: "end" })))
    socket.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed({ got, ended: error.code ?? "error" })))
  })

describe("NodeStreamConnection closeNow", () => {
  it.scopedLive("after writes the kernel took whole, it closes at once (an Exit): the peer reads them all, then FIN", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      const received = yield* Effect.fork(receiveAll(client))
      client.write("GET / HTTP/1.1\r\n\r\n")
      expect(yield* readAtLeast(connection, 18)).toBe("GET / HTTP/1.1\r\n\r\n")
      expect(Exit.isExit(connection.writeNow(new TextEncoder().encode("response")))).toBe(true)
      const closed = connection.closeNow()
      expect(Exit.isExit(closed)).toBe(true)
      // no shutdown request left behind: the socket is closed, its FIN sent by the close
      expect(serverSocket.destroyed).toBe(true)
      expect(yield* Fiber.join(received)).toEqual({ got: "response", ended: "end" })
      expect((yield* Effect.flip(connection.read)).reason).toBe("Closed")
    }))

  it.scopedLive("with bytes still in Node's buffer it waits for them to leave, then FIN: nothing is dropped", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      // a budget per turn that never runs out: only the kernel's buffers can stop a write here
      const turns = makeWriteTurns(Number.MAX_SAFE_INTEGER, (run) => void setImmediate(run))
      const connection = fromSocket(serverSocket, { sendQueues, turns })
      client.pause()
      // the peer does not read: writes fill the kernel's buffers, then one stays in Node's
      const chunk = new Uint8Array(64 * 1024).fill(120)
      let issued = 0
      while (Exit.isExit(connection.writeNow(chunk))) issued += chunk.length
      issued += chunk.length
      expect(serverSocket.writableLength).toBeGreaterThan(0)
      const closed = connection.closeNow()
      expect(Exit.isExit(closed)).toBe(false)
      const closing = yield* Effect.fork(closed)
      let total = 0
      const ended = yield* Effect.async<string>((resume) => {
        client.on("data", (d: Buffer) => (total += d.length))
        client.on("end", () => resume(Effect.succeed("end")))
        client.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? "error")))
        client.resume()
      })
      yield* Fiber.join(closing)
      expect(ended).toBe("end")
      expect(total).toBe(issued)
      expect(serverSocket.destroyed).toBe(true)
    }))
})

describe("NodeStreamConnection progress", () => {
  it.scopedLive(
    "bytesFlushed grows while one large write is still pending on a slow reader",
    () =>
      Effect.gen(function*() {
        const [serverSocket, clientSocket] = yield* socketPair
        const server = fromSocket(serverSocket, { sendQueues })
        const client = fromSocket(clientSocket, { sendQueues })
        expect(server.bytesFlushed()).toBe(0)
        yield* server.write(new TextEncoder().encode("small"))
        yield* Effect.sleep("10 millis")
        expect(server.bytesFlushed()).toBe(5)
        // far more than the kernel buffers of both sockets hold
        const size = 64 * 1024 * 1024
        const writing = yield* Effect.fork(server.write(new Uint8Array(size)))
        yield* Effect.sleep("50 millis")
        let got = 0
        const samples: Array<number> = [server.bytesFlushed()]
        // the reader takes a few MiB at a time, pausing between
        for (let round = 1; round <= 4; round++) {
          while (got < round * 4 * 1024 * 1024) got += Option.getOrThrow(yield* client.read).length
          yield* Effect.sleep("50 millis")
          samples.push(server.bytesFlushed())
          expect(Option.isNone(yield* Fiber.poll(writing))).toBe(true)
        }
        for (let i = 1; i < samples.length; i++) expect(samples[i]).toBeGreaterThan(samples[i - 1]!)
        // the counter never runs ahead of what the reader could have been sent
        expect(samples[samples.length - 1]).toBeLessThan(size)
        while (got < size + 5) got += Option.getOrThrow(yield* client.read).length
        yield* Fiber.join(writing)
        expect(server.bytesFlushed()).toBe(size + 5)
      }),
    30_000
  )

  it.scopedLive(
    "a large write fails typed when the socket is reset mid-way, and a pending one is interruptible",
    () =>
      Effect.gen(function*() {
        const [serverSocket, clientSocket] = yield* socketPair
        const server = fromSocket(serverSocket, { sendQueues })
        const big = new Uint8Array(64 * 1024 * 1024)
        const interrupted = yield* Effect.fork(server.write(big))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(interrupted)
        const failing = yield* Effect.fork(server.write(big))
        yield* Effect.sleep("50 millis")
        clientSocket.resetAndDestroy()
        const exit = yield* Fiber.await(failing)
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(Fiber.join(failing))
        expect(error._tag).toBe("SocketError")
      }),
    10_000
  )
})

describe("NodeStreamConnection on a long keep-alive connection", () => {
  const events = ["readable", "data", "end", "drain", "finish", "error", "close"] as const
  const listenerCounts = (socket: net.Socket) => events.map((event) => socket.listenerCount(event))

  it.scopedLive("10k request/response rounds add no listener to either socket", () =>
    Effect.gen(function*() {
      const [serverSocket, clientSocket] = yield* socketPair
      const server = fromSocket(serverSocket, { sendQueues })
      const client = fromSocket(clientSocket, { sendQueues })
      const before = [listenerCounts(serverSocket), listenerCounts(clientSocket)]
      const ping = new TextEncoder().encode("ping")
      const pong = new TextEncoder().encode("pong")
      // Each side reads its message in full before answering, so reads and
      // writes alternate and some of them wait (a read before the bytes come).
      for (let round = 0; round < 10_000; round++) {
        const reply = yield* Effect.fork(Effect.zipRight(readAtLeast(server, 4), server.write(pong)))
        yield* client.write(ping)
        expect(yield* readAtLeast(client, 4)).toBe("pong")
        yield* Fiber.join(reply)
      }
      expect([listenerCounts(serverSocket), listenerCounts(clientSocket)]).toEqual(before)
    }), 30_000)
})

describe("StreamConnection reading into its own buffers (makeBufferedSocket)", () => {
  /** A loopback server that sends `body` to whoever connects, then ends. */
  const sender = (body: Buffer) =>
    Effect.acquireRelease(
      Effect.async<net.Server>((resume) => {
        const server = net.createServer((socket) => {
          socket.on("error", () => {})
          socket.end(body)
        })
        server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.sync(() => server.close())
    )

  it.scopedLive("chunks never exceed the buffer, arrive intact, and carry the instants they arrived at", () =>
    Effect.gen(function*() {
      const body = Buffer.alloc(3 * 1024 * 1024)
      for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 12)) & 0xff
      const server = yield* sender(body)
      const { reads, socket } = makeBufferedSocket(16 * 1024, { allowHalfOpen: true })
      socket.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port })
      const connection = fromSocket(socket, { reads, sendQueues })
      const received = Buffer.alloc(body.length)
      let at = 0
      let lastArrival = 0n
      while (true) {
        const chunk = yield* connection.read
        if (Option.isNone(chunk)) break
        expect(chunk.value.length).toBeLessThanOrEqual(16 * 1024)
        received.set(chunk.value, at)
        at += chunk.value.length
        // the instant is the read callback's: never after the read returned, never before the previous one
        expect(connection.receivedAt()).toBeGreaterThanOrEqual(lastArrival)
        expect(connection.receivedAt()).toBeLessThanOrEqual(connection.now())
        lastArrival = connection.receivedAt()
      }
      expect(at).toBe(body.length)
      expect(received.equals(body)).toBe(true)
    }))

  it.scopedLive("sentAt is when the kernel took the last byte of the last write", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const connection = fromSocket(serverSocket, { sendQueues })
      client.on("data", () => {})
      expect(connection.sentAt()).toBe(0n)
      const before = connection.now()
      yield* connection.write(new TextEncoder().encode("hello"))
      expect(connection.sentAt()).toBeGreaterThanOrEqual(before)
      expect(connection.sentAt()).toBeLessThanOrEqual(connection.now())
    }))

  it.scopedLive("while the reader holds a chunk, what arrives next is read (and its arrival noted) at once", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer((socket) => {
            socket.on("error", () => {})
            socket.write("first")
            setTimeout(() => socket.end("second"), 50)
          })
          server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const { reads, socket } = makeBufferedSocket(1024, { allowHalfOpen: true })
      socket.on("error", () => {})
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port })
      const connection = fromSocket(socket, { reads, sendQueues })
      const first = yield* connection.read
      expect(Option.map(first, text)).toEqual(Option.some("first"))
      const firstAt = connection.receivedAt()
      // hold the chunk well past the second one's arrival
      yield* Effect.sleep("400 millis")
      expect(Option.map(yield* connection.read, text)).toEqual(Option.some("second"))
      const gap = Number(connection.receivedAt() - firstAt) / 1e6
      expect(gap).toBeGreaterThanOrEqual(40)
      expect(gap).toBeLessThan(350)
    }))

  it.scopedLive("writeNow is done at once within the turn's budget, and waits its turn past it, in order", () =>
    Effect.gen(function*() {
      const [serverSocket, client] = yield* socketPair
      const pending: Array<() => void> = []
      const turns = makeWriteTurns(10, (run) => void pending.push(run))
      const connection = fromSocket(serverSocket, { sendQueues, turns })
      const within = connection.writeNow(new TextEncoder().encode("1234567890"))
      expect(Exit.isExit(within)).toBe(true)
      // past the budget: issued only in a later turn, after the writes already waiting
      const past = connection.writeNow(new TextEncoder().encode("abcd"))
      expect(Exit.isExit(past)).toBe(false)
      const waiting = yield* Effect.fork(past)
      yield* Effect.sleep("20 millis")
      expect(pending).toHaveLength(1)
      pending.shift()!()
      yield* Fiber.join(waiting)
      client.resume()
      const received = yield* Effect.async<string>((resume) => {
        let seen = ""
        client.on("data", (data) => {
          seen += data.toString()
          if (seen.length >= 14) resume(Effect.succeed(seen))
        })
      })
      expect(received).toBe("1234567890abcd")
    }))
})
