import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import { Either } from "effect"
import * as Output from "../../src/client/Output.ts"
import { runClient } from "../../src/client/Run.ts"
import { parseTargets } from "../../src/client/Target.ts"
import { Connector } from "../../src/net/Connector.ts"
import * as MemoryConnector from "../../src/net/MemoryConnector.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import { defaults, readRequest, requestReader, runAgainst } from "./helpers.ts"

/** TCP 3 ms, TLS 4 ms; the server thinks 5 ms, sends the head, 2 ms later the body. */
const timedServer = {
  connectDelay: "3 millis",
  tls: { delay: "4 millis" },
  script: (peer: Peer) =>
    Effect.gen(function*() {
      yield* readRequest(peer)
      yield* Effect.sleep("5 millis")
      yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
      yield* Effect.sleep("2 millis")
      yield* peer.write("body")
    })
} as const

describe("timings under TestClock", () => {
  it.effect("--json reports every phase exactly", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:443": timedServer }, ["https://a.test/"], { mode: "json" })
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({
        url: "https://a.test/",
        finalUrl: "https://a.test/",
        remoteAddress: "192.0.2.1",
        httpVersion: "1.1",
        status: 200,
        reason: "OK",
        headers: [["Content-Length", "4"]],
        interim: [],
        trailers: [],
        bodyBytes: 4,
        redirects: 0,
        timings: { dnsMs: 0, connectMs: 3, tlsMs: 4, sendMs: 0, waitMs: 5, receiveMs: 2, firstByteMs: 12, totalMs: 14 },
        hops: [{
          url: "https://a.test/",
          status: 200,
          remoteAddress: "192.0.2.1",
          reused: false,
          timings: {
            dnsMs: 0,
            connectMs: 3,
            tlsMs: 4,
            sendMs: 0,
            waitMs: 5,
            receiveMs: 2,
            firstByteMs: 12,
            totalMs: 14
          }
        }]
      })
    }))

  it.effect("--ttl prints the TCP connect time and the time to the first byte before the response", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:443": timedServer }, ["https://a.test/"], { ttl: true })
      expect(result.stdout).toBe(
        "RTT: TCP connect 3.000 ms, first byte 12.000 ms\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
      )
    }))

  it.effect("--timing draws the waterfall on stderr, stdout unchanged", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:443": timedServer }, ["https://a.test/"], {
        timing: true,
        mode: "body"
      })
      expect(result.stdout).toBe("body")
      expect(result.stderr).toBe(
        [
          "  DNS lookup          0.000 ms  |#                                       |",
          "  TCP connect         3.000 ms  |#########                               |",
          "  TLS handshake       4.000 ms  |        ###########                     |",
          "  send                0.000 ms  |                    #                   |",
          "  wait                5.000 ms  |                    ##############      |",
          "  receive             2.000 ms  |                                  ######|",
          "  first byte         12.000 ms",
          "  total              14.000 ms",
          ""
        ].join("\n")
      )
    }))
})

describe("phases from the connector's instants", () => {
  const answer = (peer: Peer) =>
    Effect.gen(function*() {
      yield* readRequest(peer)
      yield* Effect.sleep("2 millis")
      yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    })

  it.effect("an IP literal has no DNS phase, in --json and in the waterfall", () =>
    Effect.gen(function*() {
      const server = { "10.0.0.7:80": { connectDelay: "1 millis", script: answer } } as const
      const json = yield* runAgainst(server, ["http://10.0.0.7/"], { mode: "json" })
      expect(JSON.parse(json.stdout).timings).toEqual({
        connectMs: 1,
        sendMs: 0,
        waitMs: 2,
        receiveMs: 0,
        firstByteMs: 3,
        totalMs: 3
      })
      const waterfall = yield* runAgainst(server, ["http://10.0.0.7/"], { mode: "body", timing: true })
      expect(waterfall.stderr).not.toContain("DNS")
      expect(waterfall.stderr).toContain("  TCP connect         1.000 ms  |#############")
    }))

  it.effect("a slow name lookup is the DNS phase, and the clock starts with it", () =>
    Effect.gen(function*() {
      const { captured, layer } = Output.makeCapture()
      const connector = MemoryConnector.layer({
        servers: { "a.test:80": { connectDelay: "1 millis", script: answer } },
        resolve: () => Effect.as(Effect.sleep("7 millis"), [{ address: "192.0.2.9", family: 4 as const }])
      })
      const targets = Either.getOrThrow(parseTargets(["http://a.test/"]))
      const fiber = yield* Effect.fork(
        runClient({ ...defaults, mode: "json", targets }).pipe(
          Effect.provide(Layer.mergeAll(connector, layer, FileSystem.layerNoop({})))
        )
      )
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(0)
      expect(JSON.parse(captured.stdout()).timings).toEqual({
        dnsMs: 7,
        connectMs: 1,
        sendMs: 0,
        waitMs: 2,
        receiveMs: 0,
        firstByteMs: 10,
        totalMs: 10
      })
    }))

  it.effect("time the client spends between the network's events is in no phase", () =>
    Effect.gen(function*() {
      // A connector whose connect returns 5 ms after the handshake it reports
      // ended, as a slow event loop would: TCP connect stays the handshake's 1 ms,
      // and the request, sent by the connector on connecting, is answered 2 ms
      // later whatever the client does meanwhile.
      const slowToResume = Layer.effect(
        Connector,
        Effect.map(Connector, (inner) =>
          Connector.of({
            ...inner,
            connect: (...args) => Effect.tap(inner.connect(...args), () => Effect.sleep("5 millis"))
          }))
      ).pipe(
        Layer.provide(
          MemoryConnector.layer({ servers: { "10.0.0.7:80": { connectDelay: "1 millis", script: answer } } })
        )
      )
      const { captured, layer } = Output.makeCapture()
      const targets = Either.getOrThrow(parseTargets(["http://10.0.0.7/"]))
      const fiber = yield* Effect.fork(
        runClient({ ...defaults, mode: "json", targets }).pipe(
          Effect.provide(Layer.mergeAll(slowToResume, layer, FileSystem.layerNoop({})))
        )
      )
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(0)
      const { timings } = JSON.parse(captured.stdout())
      expect(timings).toEqual({ connectMs: 1, sendMs: 0, waitMs: 2, receiveMs: 0, firstByteMs: 3, totalMs: 3 })
    }))

  it.effect("-L: --json gives each hop's timings, --timing each hop's waterfall", () =>
    Effect.gen(function*() {
      const servers = {
        "a.test:80": {
          connectDelay: "1 millis",
          script: (peer: Peer) =>
            Effect.gen(function*() {
              yield* readRequest(peer)
              yield* Effect.sleep("3 millis")
              yield* peer.write("HTTP/1.1 302 Found\r\nLocation: http://b.test/\r\nContent-Length: 0\r\n\r\n")
            })
        },
        "b.test:80": { connectDelay: "2 millis", script: answer }
      } as const
      const follow = { fetch: { ...defaults.fetch, followRedirects: true } }
      const json = JSON.parse((yield* runAgainst(servers, ["http://a.test/"], { ...follow, mode: "json" })).stdout)
      expect(json.redirects).toBe(1)
      expect(json.hops).toEqual([
        {
          url: "http://a.test/",
          status: 302,
          remoteAddress: "192.0.2.1",
          reused: false,
          timings: { dnsMs: 0, connectMs: 1, sendMs: 0, waitMs: 3, receiveMs: 0, firstByteMs: 4, totalMs: 4 }
        },
        {
          url: "http://b.test/",
          status: 200,
          remoteAddress: "192.0.2.2",
          reused: false,
          timings: { dnsMs: 0, connectMs: 2, sendMs: 0, waitMs: 2, receiveMs: 0, firstByteMs: 4, totalMs: 4 }
        }
      ])
      expect(json.timings).toEqual(json.hops[1].timings)
      const timing = yield* runAgainst(servers, ["http://a.test/"], { ...follow, mode: "body", timing: true })
      expect(timing.stderr).toMatch(/^http:\/\/a\.test\/ \(302\):\n(.*\n){7}http:\/\/b\.test\/ \(200\):\n/)
    }))
})

describe("--count", () => {
  /** Keeps the connection: answers request i after delays[i] ms. */
  const keepAlive = (delays: ReadonlyArray<number>, counter: { connections: number }) => (peer: Peer) =>
    Effect.gen(function*() {
      counter.connections++
      const requests = requestReader(peer)
      for (const delay of delays) {
        if (Option.isNone(yield* requests.next)) return
        yield* Effect.sleep(delay)
        yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
      }
    })

  it.effect("repeats on one connection, prints each round trip and exact statistics", () =>
    Effect.gen(function*() {
      const counter = { connections: 0 }
      const result = yield* runAgainst(
        { "a.test:80": { connectDelay: "1 millis", script: keepAlive([2, 4, 6, 8], counter) } },
        ["http://a.test/"],
        { count: 4, interval: 100 }
      )
      expect(result.code).toBe(0)
      expect(counter.connections).toBe(1)
      // round 1 pays the TCP connect (1 ms); the others reuse the connection
      expect(result.stdout).toBe(
        [
          "1: 200 OK  2 bytes  TCP connect 1.000 ms  first byte 3.000 ms  total 3.000 ms",
          "2: 200 OK  2 bytes  reused  first byte 4.000 ms  total 4.000 ms",
          "3: 200 OK  2 bytes  reused  first byte 6.000 ms  total 6.000 ms",
          "4: 200 OK  2 bytes  reused  first byte 8.000 ms  total 8.000 ms",
          "--- http://a.test/: 4 requests, 4 answered, 0 failed ---",
          "round trip min/avg/max/stddev = 3.000/5.250/8.000/1.920 ms",
          "percentiles p50/p90/p99 = 5.000/7.400/7.940 ms",
          ""
        ].join("\n")
      )
      // 3 + 4 + 6 + 8 ms of round trips and 3 intervals of 100 ms
      expect(result.elapsed).toBe(321)
    }))

  it.effect("a failed round is reported, the others counted; the exit code is the failure's", () =>
    Effect.gen(function*() {
      let connection = 0
      const result = yield* runAgainst(
        {
          "a.test:80": (peer) =>
            Effect.gen(function*() {
              connection++
              yield* readRequest(peer)
              // the second connection's answer is malformed
              yield* peer.write(
                connection === 2
                  ? "HTTP/1.1 OK\r\n\r\n"
                  : "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
              )
            })
        },
        ["http://a.test/"],
        { count: 3, interval: 0 }
      )
      expect(result.code).toBe(8)
      const lines = result.stdout.split("\n")
      expect(lines[1]).toMatch(/^2: malformed response \(InvalidStatusLine\)/)
      expect(lines[3]).toBe("--- http://a.test/: 3 requests, 2 answered, 1 failed ---")
    }))

  it.effect("a kept connection the server dropped: the request goes again on a new one, a POST too (as curl)", () =>
    Effect.gen(function*() {
      const oneAnswerPerConnection = (counter: { connections: number }) => (peer: Peer) =>
        Effect.gen(function*() {
          counter.connections++
          yield* readRequest(peer)
          yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        })
      const gets = { connections: 0 }
      const get = yield* runAgainst({ "a.test:80": oneAnswerPerConnection(gets) }, ["http://a.test/"], { count: 2 })
      expect(get.code).toBe(0)
      expect(gets.connections).toBe(2)
      expect(get.stdout.split("\n")[1]).toMatch(/^2: 200 OK {2}2 bytes {2}TCP connect /)

      const posts = { connections: 0 }
      const post = yield* runAgainst({ "a.test:80": oneAnswerPerConnection(posts) }, ["http://a.test/"], {
        count: 2,
        fetch: { ...defaults.fetch, spec: { method: "POST", headers: [], body: undefined } }
      })
      expect(post.code).toBe(0)
      expect(posts.connections).toBe(2)
      expect(post.stdout.split("\n")[1]).toMatch(/^2: 200 OK {2}2 bytes {2}TCP connect /)
    }))

  it.effect("a reply cut short on a kept connection: GET goes again, POST does not (the server may have acted)", () =>
    Effect.gen(function*() {
      // answers a connection's first request; of its second, only the start of a head, then a reset
      const cutsTheSecond = (counter: { connections: number }) => (peer: Peer) =>
        Effect.gen(function*() {
          counter.connections++
          yield* readRequest(peer)
          yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
          yield* readRequest(peer)
          yield* peer.write("HTTP/1.1 200 OK\r\nContent-")
          yield* peer.reset
        })
      const gets = { connections: 0 }
      const get = yield* runAgainst({ "a.test:80": cutsTheSecond(gets) }, ["http://a.test/"], { count: 2 })
      expect(get.code).toBe(0)
      expect(gets.connections).toBe(2)

      const posts = { connections: 0 }
      const post = yield* runAgainst({ "a.test:80": cutsTheSecond(posts) }, ["http://a.test/"], {
        count: 2,
        fetch: { ...defaults.fetch, spec: { method: "POST", headers: [], body: undefined } }
      })
      expect(post.code).toBe(56)
      expect(posts.connections).toBe(1)
      expect(post.stdout.split("\n")[1]).toMatch(/^2: /)
      expect(post.stdout.split("\n")[1]).not.toMatch(/^2: 200/)
    }))

  it.effect("--timing: each figure's statistics over the rounds, with the same names", () =>
    Effect.gen(function*() {
      const counter = { connections: 0 }
      const result = yield* runAgainst(
        { "a.test:80": { connectDelay: "1 millis", script: keepAlive([2, 4, 6], counter) } },
        ["http://a.test/"],
        { count: 3, timing: true }
      )
      expect(result.code).toBe(0)
      expect(result.stderr).toBe(
        [
          "per phase, min/avg/max/p50 in ms:",
          "  DNS lookup     0.000/0.000/0.000/0.000  (1 round)",
          "  TCP connect    1.000/1.000/1.000/1.000  (1 round)",
          "  send           0.000/0.000/0.000/0.000  (3 rounds)",
          "  wait           2.000/4.000/6.000/4.000  (3 rounds)",
          "  receive        0.000/0.000/0.000/0.000  (3 rounds)",
          "  first byte     3.000/4.333/6.000/4.000  (3 rounds)",
          "  total          3.000/4.333/6.000/4.000  (3 rounds)",
          ""
        ].join("\n")
      )
    }))

  it.effect("--json: the rounds and the statistics in one object", () =>
    Effect.gen(function*() {
      const counter = { connections: 0 }
      const result = yield* runAgainst({ "a.test:80": keepAlive([1, 3], counter) }, ["http://a.test/"], {
        count: 2,
        mode: "json"
      })
      const json = JSON.parse(result.stdout)
      expect(json.requests).toBe(2)
      expect(json.rounds.map((r: { reused: boolean; timings: { totalMs: number } }) => [r.reused, r.timings.totalMs]))
        .toEqual([
          [false, 1],
          [true, 3]
        ])
      expect(json.stats).toMatchObject({ count: 2, min: 1, max: 3, avg: 2, stddev: 1 })
    }))
})

describe("several targets", () => {
  it.effect("run concurrently, print in the order given, exit with the first failure's code", () =>
    Effect.gen(function*() {
      const body = (text: string, delay: number) => (peer: Peer) =>
        Effect.gen(function*() {
          yield* readRequest(peer)
          yield* Effect.sleep(delay)
          yield* peer.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`)
        })
      const result = yield* runAgainst(
        {
          "slow.test:80": body("slow", 30),
          "fast.test:80": body("fast", 1),
          "bad.test:80": { connect: "refuse" },
          "empty.test:80": (peer) => Effect.asVoid(readRequest(peer))
        },
        ["http://slow.test/", "http://bad.test/", "http://fast.test/", "http://empty.test/"],
        { mode: "body" }
      )
      expect(result.code).toBe(7)
      expect(result.stdout).toBe(
        "==> http://slow.test/ <==\nslow\n==> http://bad.test/ <==\n\n==> http://fast.test/ <==\nfast\n==> http://empty.test/ <==\n"
      )
      expect(result.stderr).toBe(
        "fiberhttp: http://bad.test/: cannot connect to bad.test (192.0.2.3:80): connection refused\n" +
          "fiberhttp: http://empty.test/: empty reply from server (connection closed without a response)\n"
      )
      // concurrently: the whole run takes as long as the slowest target
      expect(result.elapsed).toBe(30)
    }))

  it.effect("--parallel 1 runs them one after the other", () =>
    Effect.gen(function*() {
      const body = (delay: number) => (peer: Peer) =>
        Effect.gen(function*() {
          yield* readRequest(peer)
          yield* Effect.sleep(delay)
          yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        })
      const result = yield* runAgainst(
        { "a.test:80": body(10), "b.test:80": body(20) },
        ["http://a.test/", "http://b.test/"],
        { parallel: 1, mode: "json" }
      )
      expect(result.code).toBe(0)
      expect(result.elapsed).toBe(30)
      expect(result.stdout.trim().split("\n").map((l) => JSON.parse(l).url)).toEqual([
        "http://a.test/",
        "http://b.test/"
      ])
    }))
})
