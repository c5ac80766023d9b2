import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
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
        timings: { dnsMs: 0, connectMs: 3, tlsMs: 4, sendMs: 0, waitMs: 5, receiveMs: 2, firstByteMs: 12, totalMs: 14 }
      })
    }))

  it.effect("--ttl prints the TCP connect time and opening-to-first-byte before the response", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:443": timedServer }, ["https://a.test/"], { ttl: true })
      expect(result.stdout).toBe(
        "RTT: TCP connect 3.000 ms, first byte 12.000 ms after opening the connection\n" +
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
          "  DNS lookup         0.000 ms  |#                                       |",
          "  TCP connect        3.000 ms  |#########                               |",
          "  TLS handshake      4.000 ms  |        ###########                     |",
          "  Request sent       0.000 ms  |                    #                   |",
          "  First byte         5.000 ms  |                    ##############      |",
          "  Body done          2.000 ms  |                                  ######|",
          "  Total             14.000 ms",
          ""
        ].join("\n")
      )
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
          "1: 200 OK  2 bytes  connect 1.000 ms  first byte 3.000 ms  total 3.000 ms",
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

  it.effect("a kept connection the server dropped: GET goes again on a new one, POST is not retried", () =>
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
      expect(get.stdout.split("\n")[1]).toMatch(/^2: 200 OK {2}2 bytes {2}connect /)

      const posts = { connections: 0 }
      const post = yield* runAgainst({ "a.test:80": oneAnswerPerConnection(posts) }, ["http://a.test/"], {
        count: 2,
        fetch: { ...defaults.fetch, spec: { method: "POST", headers: [], body: undefined } }
      })
      // the in-memory server resets the connection once its script ends: the write fails
      expect(post.code).toBe(55)
      expect(posts.connections).toBe(1)
      expect(post.stdout.split("\n")[1]).toMatch(/^2: send failure: .*reset/)
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
