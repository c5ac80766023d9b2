import { type Duration, Effect, Option } from "effect"
import * as net from "node:net"
import type { Connection } from "../../src/net/Connection.ts"
import type { SocketError } from "../../src/net/errors.ts"

const decoder = new TextDecoder()
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
export const text = (chunk: Uint8Array): string => decoder.decode(chunk)

/** Reads until the peer's FIN and returns everything as one string. */
export const readAll = (connection: Connection): Effect.Effect<string, SocketError> =>
  Effect.gen(function*() {
    let out = ""
    while (true) {
      const chunk = yield* connection.read
      if (Option.isNone(chunk)) return out
      out += text(chunk.value)
    }
  })

/** Reads until at least `size` bytes arrived (or FIN) and returns them as a string. */
export const readAtLeast = (connection: Connection, size: number): Effect.Effect<string, SocketError> =>
  Effect.gen(function*() {
    let out = ""
    while (out.length < size) {
      const chunk = yield* connection.read
      if (Option.isNone(chunk)) break
      out += text(chunk.value)
    }
    return out
  })

/** Counts bytes until the peer's FIN. */
export const countAll = (connection: Connection): Effect.Effect<number, SocketError> =>
  Effect.gen(function*() {
    let total = 0
    while (true) {
      const chunk = yield* connection.read
      if (Option.isNone(chunk)) return total
      total += chunk.value.length
    }
  })

/**
 * Writes `chunk` again and again until one write has not completed within
 * `patience` or `limit` bytes were written. Returns the bytes whose write
 * completed and whether the writer stalled.
 */
export const writeUntilStalled = (
  connection: Connection,
  chunk: Uint8Array,
  limit: number,
  patience: Duration.DurationInput = "300 millis"
): Effect.Effect<{ readonly written: number; readonly stalled: boolean }, SocketError> =>
  Effect.gen(function*() {
    let written = 0
    while (written < limit) {
      const done = yield* connection.write(chunk).pipe(Effect.timeoutOption(patience))
      if (Option.isNone(done)) return { written, stalled: true }
      written += chunk.length
    }
    return { written, stalled: false }
  })

/** A connected pair of raw sockets on loopback: [server side, client side]. */
export const socketPair = Effect.acquireRelease(
  Effect.async<readonly [net.Socket, net.Socket]>((resume) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
      server.close()
      resume(Effect.succeed([accepted, client] as const))
    })
    let client: net.Socket
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      client = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port })
      client.on("error", () => {})
    })
  }),
  ([a, b]) =>
    Effect.sync(() => {
      a.destroy()
      b.destroy()
    })
)
