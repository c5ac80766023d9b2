import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, TestClock } from "effect"
import { Connector } from "../../src/net/Connector.ts"
import * as MemoryConnector from "../../src/net/MemoryConnector.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import { bytes, readAll, text } from "./helpers.ts"

/** Reads from the peer until the blank line that ends an HTTP head. */
const readHead = (peer: Peer) =>
  Effect.gen(function*() {
    let head = ""
    while (!head.includes("\r\n\r\n")) {
      const chunk = yield* peer.read
      if (Option.isNone(chunk)) break
      head += text(chunk.value)
    }
    return head
  })

const dial = (host: string, port: number) => Effect.map(dialTimed(host, port), ({ connection }) => connection)

const dialTimed = (host: string, port: number) =>
  Effect.gen(function*() {
    const connector = yield* Connector
    const { addresses: [address] } = yield* connector.resolve(host)
    return yield* connector.connect(address!, port, host)
  })

const ms = (nanos: bigint) => Number(nanos) / 1e6

describe("MemoryConnector", () => {
  it.scoped("a scripted server with delays: the client's timings are exact under TestClock", () =>
    Effect.gen(function*() {
      let seen = ""
      const layer = MemoryConnector.layer({
        servers: {
          "example.com:80": {
            connectDelay: "20 millis",
            script: (peer) =>
              Effect.gen(function*() {
                seen = yield* readHead(peer)
                yield* Effect.sleep("5 millis")
                yield* peer.write("HTTP/1.1 200 OK\r\n")
                yield* Effect.sleep("1 millis")
                yield* peer.write("Content-Length: 2\r\n\r\nhi")
              })
          }
        }
      })
      const client = Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const { connection, handshake } = yield* dialTimed("example.com", 80)
        const connected = (yield* Clock.currentTimeMillis) - start
        expect(connection.remoteAddress).toBe("192.0.2.1")
        expect(connection.remotePort).toBe(80)
        yield* connection.write(bytes("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        const sentAt = ms(connection.sentAt())
        const first = yield* connection.read
        const firstByte = (yield* Clock.currentTimeMillis) - start
        const firstArrived = ms(connection.receivedAt())
        const rest = yield* readAll(connection)
        const done = (yield* Clock.currentTimeMillis) - start
        return {
          connected,
          // the instants the connector reports, on the TestClock
          handshake: [ms(handshake.startedAt), ms(handshake.endedAt)],
          sentAt,
          firstArrived,
          finArrived: ms(connection.receivedAt()),
          firstByte,
          done,
          response: Option.match(first, { onNone: () => "", onSome: text }) + rest
        }
      }).pipe(Effect.provide(layer), Effect.scoped)
      const fiber = yield* Effect.fork(client)
      yield* TestClock.adjust("100 millis")
      const result = yield* Fiber.join(fiber)
      expect(result).toEqual({
        connected: 20,
        handshake: [0, 20],
        sentAt: 20,
        firstArrived: 25,
        finArrived: 26,
        firstByte: 25,
        done: 26,
        response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
      })
      expect(seen).toBe("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    }))

  it.effect("resolution: names in servers and literals resolve, others fail; a custom resolver wins", () =>
    Effect.gen(function*() {
      const byDefault = yield* Effect.provide(
        Effect.gen(function*() {
          const connector = yield* Connector
          return {
            a: yield* connector.resolve("a.test"),
            b: yield* connector.resolve("b.test"),
            v6: yield* connector.resolve("::1"),
            missing: yield* Effect.flip(connector.resolve("nowhere.invalid"))
          }
        }),
        MemoryConnector.layer({ servers: { "a.test:80": () => Effect.void, "b.test:443": () => Effect.void } })
      )
      expect(byDefault.a).toEqual({
        addresses: [{ address: "192.0.2.1", family: 4 }],
        lookup: { startedAt: 0n, endedAt: 0n }
      })
      expect(byDefault.b.addresses).toEqual([{ address: "192.0.2.2", family: 4 }])
      // an IP literal needs no lookup
      expect(byDefault.v6).toEqual({ addresses: [{ address: "::1", family: 6 }], lookup: undefined })
      expect(byDefault.missing._tag).toBe("ResolveError")
      expect(byDefault.missing.message).toContain("nowhere.invalid")

      const custom = yield* Effect.provide(
        Effect.flatMap(Connector, (c) => c.resolve("x.test")),
        MemoryConnector.layer({
          servers: {},
          resolve: (host) =>
            Effect.succeed([{ address: "::1", family: 6 as const }, {
              address: `10.0.0.${host.length}`,
              family: 4 as const
            }])
        })
      )
      expect(custom.addresses).toEqual([{ address: "::1", family: 6 }, { address: "10.0.0.6", family: 4 }])
    }))

  it.scoped("connection failures: refused, unreachable, unknown server, and a hang a timeout interrupts", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(dial("a.test", 80))
      expect(refused._tag === "ConnectError" && refused.reason).toBe("Refused")
      const unreachable = yield* Effect.flip(dial("b.test", 80))
      expect(unreachable._tag === "ConnectError" && unreachable.reason).toBe("Unreachable")
      const unknown = yield* Effect.flip(dial("a.test", 81))
      expect(unknown._tag === "ConnectError" && unknown.reason).toBe("Refused")
      expect(unknown.message).toBe("cannot connect to a.test (192.0.2.1:81): connection refused")

      const hanging = yield* Effect.fork(dial("c.test", 80).pipe(Effect.timeoutOption("3 seconds")))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(hanging)).toEqual(Option.none())
    }).pipe(
      Effect.provide(
        MemoryConnector.layer({
          servers: {
            "a.test:80": { connect: "refuse" },
            "b.test:80": { connect: "unreachable" },
            "c.test:80": { connect: "hang" }
          }
        })
      )
    ))

  it.scoped("a server that resets mid-response: the client reads what came, then SocketError Reset", () =>
    Effect.gen(function*() {
      const connection = yield* dial("10.0.0.1", 8080)
      yield* connection.write(bytes("GET / HTTP/1.1\r\n\r\n"))
      expect(Option.map(yield* connection.read, text)).toEqual(Option.some("HTTP/1.1 200 OK\r\nContent-Le"))
      expect((yield* Effect.flip(connection.read)).reason).toBe("Reset")
    }).pipe(
      Effect.provide(
        MemoryConnector.layer({
          servers: {
            "10.0.0.1:8080": (peer) =>
              Effect.gen(function*() {
                yield* readHead(peer)
                yield* peer.write("HTTP/1.1 200 OK\r\nContent-Le")
                yield* peer.reset
              })
          }
        })
      )
    ))

  it.scoped("a script that finishes ends the connection; one that fails resets it", () =>
    Effect.gen(function*() {
      const finished = yield* dial("ok.test", 80)
      expect(yield* readAll(finished)).toBe("bye")
      const failed = yield* dial("bad.test", 80)
      expect(Option.map(yield* failed.read, text)).toEqual(Option.some("half"))
      expect((yield* Effect.flip(failed.read)).reason).toBe("Reset")
    }).pipe(
      Effect.provide(
        MemoryConnector.layer({
          servers: {
            "ok.test:80": (peer) => peer.write("bye"),
            "bad.test:80": (peer) => Effect.zipRight(peer.write("half"), Effect.fail("script gave up"))
          }
        })
      )
    ))

  it.scoped("a client that never reads: the script's writes block beyond the window", () =>
    Effect.gen(function*() {
      let written = 0
      const layer = MemoryConnector.layer({
        servers: {
          "slow.test:80": {
            window: 10,
            script: (peer) => Effect.forever(Effect.zipRight(peer.write("12345"), Effect.sync(() => (written += 5))))
          }
        }
      })
      yield* Effect.gen(function*() {
        const connection = yield* dial("slow.test", 80)
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        expect(written).toBe(10)
        yield* connection.read
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        expect(written).toBe(15)
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("startTls: identity by default, untrusted certificates need verify=false, scripted failures", () =>
    Effect.gen(function*() {
      const connector = yield* Connector
      const open = (host: string, verify: boolean) =>
        Effect.gen(function*() {
          const tcp = yield* dial(host, 443)
          return (yield* connector.startTls(tcp, { servername: host, verify, ca: undefined })).connection
        })
      expect(yield* Effect.flatMap(open("good.test", true), readAll)).toBe("secret")
      const untrusted = yield* Effect.flip(open("self.test", true))
      expect(untrusted._tag).toBe("TlsError")
      expect(untrusted.message).toContain("certificate verification failed for self.test")
      expect(yield* Effect.flatMap(open("self.test", false), readAll)).toBe("secret")
      const broken = yield* Effect.flip(open("broken.test", false))
      expect(broken.message).toBe("TLS handshake failed for broken.test: handshake failure alert")
    }).pipe(
      Effect.provide(
        MemoryConnector.layer({
          servers: {
            "good.test:443": (peer) => peer.write("secret"),
            "self.test:443": { tls: { untrusted: true }, script: (peer) => peer.write("secret") },
            "broken.test:443": { tls: { fail: "handshake failure alert" } }
          }
        })
      )
    ))
})
