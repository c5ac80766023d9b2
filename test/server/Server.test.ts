import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Scope, Stream, TestClock } from "effect"
import { FileError } from "../../src/files/StaticFiles.ts"
import { formatHttpDate } from "../../src/http/date.ts"
import { Headers } from "../../src/http/Headers.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import { SHUTDOWN_STALL_MS } from "../../src/server/HttpConnection.ts"
import * as Server from "../../src/server/Server.ts"
import { bigContent, bigSize, sameBytes } from "./fixtures.ts"
import { get, startServer, tick, until, untilSleeping } from "./harness.ts"

const MiB = 1024 * 1024
/** A 1 MiB body in four chunks of 256 KiB. */
const mebibyte = Uint8Array.from({ length: MiB }, (_, i) => (i * 7 + (i >> 12)) & 0xff)
const mebibyteResponse = {
  status: 200,
  headers: new Headers(),
  body: {
    _tag: "Stream",
    length: MiB,
    stream: Stream.range(0, 3).pipe(Stream.map((i) => mebibyte.subarray(i * MiB / 4, (i + 1) * MiB / 4)))
  }
} as const

describe("Server: requests on a connection", () => {
  it.scoped("keeps an HTTP/1.1 connection open and logs each request", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      const first = (yield* client.response())!
      expect(first.status).toBe(200)
      expect(first.text).toBe("hello world\n")
      expect(first.headers.get("content-length")).toBe("12")
      expect(first.headers.get("server")).toMatch(/^fiberhttp\//)
      expect(first.headers.get("date")).toMatch(/ GMT$/)
      expect(first.headers.has("connection")).toBe(false)
      yield* client.send(get("/"))
      expect((yield* client.response())!.text).toBe("<h1>home</h1>\n")
      // each line is written once its response has gone out
      yield* until(() => server.log.out.length === 2, "two access lines")
      const [a, b] = server.log.out as [string, string]
      expect(a).toMatch(/ 127\.0\.0\.1:\d+ c\d+#\d+ "GET \/hello\.txt HTTP\/1\.1" 200 12 [\d.]+ms$/)
      expect(b).toContain("\"GET / HTTP/1.1\" 200 14")
      // same connection, same fiber
      expect(a.split(" ")[2]).toBe(b.split(" ")[2])
    }))

  it.scoped("answers pipelined requests in order, also when they arrive byte by byte", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt") + get("/style.css") + get("/missing") + get("/"))
      expect((yield* client.response())!.text).toBe("hello world\n")
      expect((yield* client.response())!.text).toBe("body{color:red}\n")
      expect((yield* client.response())!.status).toBe(404)
      expect((yield* client.response())!.text).toBe("<h1>home</h1>\n")
      const slow = yield* server.connect()
      for (const byte of get("/hello.txt") + get("/style.css")) yield* slow.send(byte)
      expect((yield* slow.response())!.text).toBe("hello world\n")
      expect((yield* slow.response())!.text).toBe("body{color:red}\n")
    }))

  it.scoped("HTTP/1.0 closes unless it asks for keep-alive; Connection: close is honoured", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const old = yield* server.connect()
      yield* old.send("GET /hello.txt HTTP/1.0\r\n\r\n")
      const response = (yield* old.response())!
      expect(response.headers.get("connection")).toBe("close")
      expect(yield* old.untilClosed).toBe("")

      const kept = yield* server.connect()
      yield* kept.send("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
      expect((yield* kept.response())!.headers.get("connection")).toBe("keep-alive")
      yield* kept.send("GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
      expect((yield* kept.response())!.status).toBe(200)

      const closing = yield* server.connect()
      yield* closing.send(get("/hello.txt", "Connection: close\r\n") + get("/style.css"))
      expect((yield* closing.response())!.headers.get("connection")).toBe("close")
      // the pipelined second request is not answered
      expect(yield* closing.untilClosed).toBe("")
    }))

  it.scoped("HEAD gives the headers of GET without a body", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(`HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n` + get("/hello.txt"))
      const head = (yield* client.response({ head: true }))!
      expect(head.status).toBe(200)
      expect(head.headers.get("content-length")).toBe(String(bigSize))
      expect((yield* client.response())!.text).toBe("hello world\n")
    }))

  it.scoped("reads and discards request bodies so the next request is framed right", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(`POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nGET /`)
      yield* client.send(`PUT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`)
      yield* client.send(get("/hello.txt"))
      const post = (yield* client.response())!
      expect(post.status).toBe(405)
      expect(post.headers.get("allow")).toBe("GET, HEAD, OPTIONS")
      expect((yield* client.response())!.status).toBe(405)
      expect((yield* client.response())!.text).toBe("hello world\n")
    }))

  it.scoped("a body the client waits to send (Expect: 100-continue) is not awaited: answer, then close", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(`PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n`)
      const response = (yield* client.response())!
      expect(response.status).toBe(405)
      expect(response.headers.get("connection")).toBe("close")
      yield* client.peer.end
      expect(yield* client.untilClosed).toBe("")
    }))

  it.scoped("--max-requests: the last allowed response closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { maxRequests: 2 } })
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt") + get("/hello.txt") + get("/hello.txt"))
      expect((yield* client.response())!.headers.has("connection")).toBe(false)
      expect((yield* client.response())!.headers.get("connection")).toBe("close")
      expect(yield* client.untilClosed).toBe("")
    }))

  it.scoped("a file that fails mid-body closes the connection and is logged once", () =>
    Effect.gen(function*() {
      const broken = Stream.concat(
        Stream.make(new Uint8Array(10)),
        Stream.fail(new FileError({ reason: "Truncated", path: "/x", message: "file ended after 10 of 20 bytes" }))
      )
      const server = yield* startServer({
        handler: () =>
          Effect.succeed({ status: 200, headers: new Headers(), body: { _tag: "Stream", length: 20, stream: broken } })
      })
      const client = yield* server.connect()
      yield* client.send(get("/x"))
      const rest = yield* client.untilClosed
      expect(rest).toContain("Content-Length: 20")
      expect(server.log.err).toHaveLength(1)
      expect(server.log.err[0]).toContain("file ended after 10 of 20 bytes")
      expect(server.log.out[0]).toContain("\"GET /x HTTP/1.1\" 200 10 ")
    }))
})

describe("Server: a streamed body that fails before its first chunk", () => {
  const failing = Stream.fail(new FileError({ reason: "Overloaded", path: "/x", message: "too many open files" }))

  it.scoped("gets the handler's answer for it (here 503) instead of a head promising the body; the connection goes on", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* startServer({
        handler: () =>
          ++calls === 1
            ? Effect.succeed({
              status: 200,
              headers: new Headers([["Content-Type", "application/octet-stream"]]),
              body: {
                _tag: "Stream",
                length: 20,
                stream: failing,
                unavailable: () =>
                  Effect.succeed({ status: 503, headers: new Headers([["Retry-After", "1"]]), body: { _tag: "Empty" } })
              }
            })
            : Effect.succeed({ status: 204, headers: new Headers(), body: { _tag: "Empty" } })
      })
      const client = yield* server.connect()
      yield* client.send(get("/x") + get("/y"))
      const refused = (yield* client.response())!
      expect(refused.status).toBe(503)
      expect(refused.headers.get("retry-after")).toBe("1")
      expect(refused.headers.get("content-type")).toBeUndefined()
      expect((yield* client.response())!.status).toBe(204)
      yield* until(() => server.log.out.length === 2, "two access lines")
      expect(server.log.out[0]).toContain("\"GET /x HTTP/1.1\" 503 0 ")
    }))

  it.scoped("without an answer from the handler: a 500, logged once", () =>
    Effect.gen(function*() {
      const server = yield* startServer({
        handler: () =>
          Effect.succeed({ status: 200, headers: new Headers(), body: { _tag: "Stream", length: 20, stream: failing } })
      })
      const client = yield* server.connect()
      yield* client.send(get("/x"))
      expect((yield* client.response())!.status).toBe(500)
      expect(server.log.err).toHaveLength(1)
      expect(server.log.err[0]).toContain("too many open files")
    }))
})

describe("Server: a failing handler", () => {
  it.scoped("a defect in the handler is a 500, logged once with its cause; the connection goes on", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* startServer({
        handler: () =>
          ++calls === 1
            ? Effect.die(new Error("handler bug"))
            : Effect.succeed({ status: 200, headers: new Headers(), body: { _tag: "Empty" } })
      })
      const client = yield* server.connect()
      yield* client.send(get("/a") + get("/b"))
      const failed = (yield* client.response())!
      expect(failed.status).toBe(500)
      expect((yield* client.response())!.status).toBe(200)
      expect(server.log.err).toHaveLength(1)
      expect(server.log.err[0]).toContain("GET /a HTTP/1.1: unexpected failure")
      expect(server.log.err[0]).toContain("handler bug")
    }))
})

describe("Server: --trace", () => {
  it.scoped("logs a connection fiber's life in order, with its fiber id and parent", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true })
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      yield* client.peer.end
      yield* client.peer.closed
      yield* until(() => server.log.out.some((l) => l.includes(" finalized ")), "the finalizer trace")
      const traces = server.log.out.filter((l) => l.includes(" trace ") && !l.includes(" trace server#"))
      const events = traces.map((l) => l.split(" ")[3])
      expect(events).toEqual(["forked", "request-begun", "request-ended", "completed", "finalized"])
      const who = traces.map((l) => l.split(" ")[2])
      expect(new Set(who).size).toBe(1)
      expect(who[0]).toMatch(/^c\d+#\d+$/)
      for (const line of traces) expect(line).toMatch(/ parent=server\[127\.0\.0\.1:\d+\] accept#\d+/)
      expect(traces[1]).toContain("GET /hello.txt HTTP/1.1")
      expect(traces[3]).toContain("peer closed")
    }))
})

describe("Server: hostile input", () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ["garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400],
    ["bare LF line ends", "GET / HTTP/1.1\nHost: t\n\n", 400],
    ["missing Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400],
    ["obsolete line folding", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400],
    [
      "Content-Length with Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      400
    ],
    ["conflicting Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400],
    ["negative Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400],
    ["chunked not last", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400],
    ["unknown transfer coding", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505],
    ["control character in the target", "GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n", 400],
    ["NUL in a header value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400],
    ["a 9 KiB target", `GET /${"a".repeat(9 * 1024)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414],
    ["a 40 KiB header section", `GET / HTTP/1.1\r\nHost: t\r\nX: ${"a".repeat(40 * 1024)}\r\n\r\n`, 431],
    ["a body over the limit", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n", 413]
  ]

  it.scoped.each(cases)("%s: the right status, then close", ([name, input, status]) =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(input)
      const response = (yield* client.response())!
      expect(response.status).toBe(status)
      expect(response.headers.get("connection")).toBe("close")
      yield* client.peer.end
      expect(yield* client.untilClosed).toBe("")
      // the request line is logged (escaped) whenever it was read up to its end
      const unread = name === "garbage" || name === "bare LF line ends" || status === 414
      const line = unread ? "-" : AccessLog.escapeText(input.slice(0, input.indexOf("\r\n")))
      expect(server.log.out[0]).toContain(` "${line}" ${status} `)
      expect(server.log.err).toEqual([])
      // the server still serves
      const next = yield* server.connect()
      yield* next.send(get("/hello.txt"))
      expect((yield* next.response())!.status).toBe(200)
    }))

  it.scoped("a percent-encoded traversal or invalid UTF-8 is 400 or 404, never a file outside the root", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      for (
        const target of [
          "/../../etc/passwd",
          "/%2e%2e/%2e%2e/etc/passwd",
          "/%2E%2E%2Fetc%2Fpasswd",
          "/%252e%252e%252fetc",
          "/..%5c..%5cetc",
          "/%c0%ae%c0%ae/etc",
          "/a%00.txt"
        ]
      ) {
        yield* client.send(get(target))
        const response = (yield* client.response())!
        expect([400, 404], target).toContain(response.status)
        expect(response.text).not.toContain("root:")
      }
    }))
})

describe("Server: timeouts", () => {
  it.scoped("a header section that does not arrive in time gets 408 and a close", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
      yield* untilSleeping((wakeAt) => wakeAt === 30_000)
      yield* TestClock.adjust(Duration.seconds(29))
      yield* tick
      expect(server.log.out).toEqual([])
      const response = client.response()
      const fiber = yield* Effect.fork(response)
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* Fiber.join(fiber))!.status).toBe(408)
      yield* client.peer.end
      expect(yield* client.untilClosed).toBe("")
    }))

  it.scoped("a 408 is logged with its request line when the line arrived whole, as `-` when it did not", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { headerTimeout: Duration.seconds(10) } })
      const whole = yield* server.connect()
      yield* whole.send("GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
      const partial = yield* server.connect()
      yield* partial.send("GET /hello.t")
      // after a request on the same connection: the line logged is the new one's, not the last one's
      const reused = yield* server.connect()
      yield* reused.send(get("/hello.txt"))
      expect((yield* reused.response())!.status).toBe(200)
      yield* until(() => server.log.out.length === 1, "the first request's access line")
      yield* reused.send("GET /style.css HTTP/1.1\r\n")
      yield* untilSleeping((wakeAt) => wakeAt === 10_000)
      yield* TestClock.adjust(Duration.seconds(10))
      for (const client of [whole, partial, reused]) expect((yield* client.response())!.status).toBe(408)
      yield* until(() => server.log.out.length === 4, "three 408 access lines")
      const refused = server.log.out.slice(1).map((line) => / (".*") 408 \d+ /.exec(line)?.[1]).sort()
      expect(refused).toEqual(["\"-\"", "\"GET /hello.txt HTTP/1.1\"", "\"GET /style.css HTTP/1.1\""])
    }))

  it.scoped("a new connection that sends nothing is closed quietly after the header timeout", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { headerTimeout: Duration.seconds(10) } })
      const client = yield* server.connect()
      yield* untilSleeping((wakeAt) => wakeAt === 10_000)
      yield* TestClock.adjust(Duration.seconds(10))
      expect(yield* client.untilClosed).toBe("")
      expect(server.log.out).toEqual([])
    }))

  it.scoped("an idle keep-alive connection is closed quietly after the keep-alive timeout", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      expect((yield* client.response())!.status).toBe(200)
      yield* untilSleeping((wakeAt) => wakeAt === 5_000)
      yield* TestClock.adjust(Duration.millis(4999))
      yield* tick
      expect((yield* client.peer.status).destroyed).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* client.untilClosed).toBe("")
      expect(server.log.out).toHaveLength(1)
    }))

  it.scoped("Date headers, a 408's Date and log times follow the wall clock when it is stepped; deadlines do not", () =>
    Effect.gen(function*() {
      // the wall clock stepped after start-up (an NTP step, a resume from suspend); the monotonic one not
      const step = { ms: 0 }
      const base = yield* Effect.clock
      const stepped: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + step.ms,
        currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + step.ms),
        unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
        currentTimeNanos: base.currentTimeNanos,
        sleep: (duration) => base.sleep(duration)
      }
      const server = yield* Effect.withClock(
        startServer({ config: { headerTimeout: Duration.seconds(10) } }),
        stepped
      )
      const day = 86_400_000
      step.ms = day
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      const response = (yield* client.response())!
      expect(response.headers.get("date")).toBe(formatHttpDate(day))
      yield* until(() => server.log.out.length === 1, "the access line")
      expect(server.log.out[0]).toMatch(new RegExp(`^${new Date(day).toISOString()} `))
      // a step back by two days: the header timeout still runs its 10 s on the monotonic clock
      step.ms = -day
      const slow = yield* server.connect()
      yield* slow.send("GET /hello.txt HTTP/1.1\r\nHo")
      yield* untilSleeping((wakeAt) => wakeAt === 10_000)
      yield* TestClock.adjust(Duration.millis(9_999))
      yield* tick
      expect((yield* slow.peer.status).destroyed).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      const timedOut = (yield* slow.response())!
      expect(timedOut.status).toBe(408)
      expect(timedOut.headers.get("date")).toBe(formatHttpDate(10_000 - day))
      yield* until(() => server.log.out.length === 2, "the 408's access line")
      expect(server.log.out[1]).toMatch(
        new RegExp(`^${new Date(-day).toISOString()} .* "GET /hello.txt HTTP/1.1" 408 `)
      )
    }))

  it.scoped("a reader that stalls during a response is dropped two write timeouts after its last byte", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { writeTimeout: Duration.seconds(20) } })
      const client = yield* server.connect({ window: 4096 })
      yield* client.send(get("/big.bin"))
      yield* untilSleeping((wakeAt) => wakeAt === 5_000)
      // a whole period still: the unacknowledged bytes are sampled; the same count a period later drops it
      yield* TestClock.adjust(Duration.seconds(39))
      yield* tick
      expect((yield* client.peer.status).destroyed).toBe(false)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* client.peer.closed
      yield* until(() => server.log.out.length === 1, "the access line")
      expect(server.log.out[0]).toMatch(/"GET \/big\.bin HTTP\/1\.1" 200 \d+ /)
    }))

  it.scoped("the write timeout counts progress: 1 KiB every 10 s gets a whole 1 MiB body, nothing at all is dropped at 60 s", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handler: () => Effect.succeed(mebibyteResponse) })
      const slow = yield* server.connect({ window: 4096 })
      const silent = yield* server.connect({ window: 4096 })
      yield* slow.send(get("/slow"))
      yield* silent.send(get("/silent"))
      const received: Array<Uint8Array> = []
      let size = 0
      const readKiB = Effect.gen(function*() {
        const chunk = yield* slow.peer.readUpTo(1024)
        expect(chunk._tag).toBe("Some")
        if (chunk._tag === "Some") {
          received.push(chunk.value)
          size += chunk.value.length
        }
      })
      yield* readKiB
      for (let i = 0; i < 20; i++) yield* tick
      let elapsed = 0
      while (size < MiB) {
        yield* TestClock.adjust(Duration.seconds(10))
        elapsed += 10
        if (elapsed === 50) expect((yield* silent.peer.status).destroyed).toBe(false)
        if (elapsed === 60) yield* silent.peer.closed
        yield* readKiB
      }
      while (yield* Effect.map(slow.peer.status, (status) => !status.ended)) {
        yield* TestClock.adjust(Duration.seconds(10))
        yield* readKiB
      }
      expect(elapsed).toBeGreaterThan(10_000)
      const all = Buffer.concat(received)
      const bodyAt = all.indexOf("\r\n\r\n") + 4
      expect(all.subarray(0, 15).toString()).toBe("HTTP/1.1 200 OK")
      expect(sameBytes(all.subarray(bodyAt), mebibyte)).toBe(true)
      expect(server.log.out.find((l) => l.includes("/slow"))).toMatch(/ 200 1048576 /)
      expect(server.log.out.find((l) => l.includes("/silent"))).toMatch(/ 200 0 /)
    }))

  it.scoped("backpressure: a client that does not read stops the body from being pulled", () =>
    Effect.gen(function*() {
      let pulled = 0
      const chunk = new Uint8Array(64 * 1024)
      const body = Stream.repeatEffect(Effect.sync(() => (pulled++, chunk))).pipe(Stream.take(1000))
      const server = yield* startServer({
        handler: () =>
          Effect.succeed({
            status: 200,
            headers: new Headers(),
            body: { _tag: "Stream", length: 1000 * chunk.length, stream: body }
          })
      })
      const client = yield* server.connect({ window: 128 * 1024 })
      yield* client.send(get("/huge"))
      yield* until(() => pulled >= 2, "the body to start")
      for (let i = 0; i < 20; i++) yield* tick
      // what the window holds plus the chunk being written, not 1000 chunks
      expect(pulled).toBeLessThanOrEqual(4)
      const first = yield* client.peer.read
      expect(first._tag).toBe("Some")
      // reading lets the server go on
      let got = 0
      while (got < 1024 * 1024) {
        const next = yield* client.peer.read
        if (next._tag === "None") break
        got += next.value.length
      }
      expect(pulled).toBeGreaterThan(4)
    }))

  it.scoped("a slow reader that keeps reading gets the whole file", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect({ window: 4096 })
      yield* client.send(get("/big.bin"))
      const response = (yield* client.response())!
      expect(sameBytes(response.body, bigContent)).toBe(true)
    }))
})

describe("Server: connections and shutdown", () => {
  it.scoped("beyond --max-connections, a new connection gets 503 and a close", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ config: { maxConnections: 2 } })
      const a = yield* server.connect()
      const b = yield* server.connect()
      yield* a.send(get("/hello.txt"))
      expect((yield* a.response())!.status).toBe(200)
      const c = yield* server.connect()
      const refused = (yield* c.response())!
      expect(refused.status).toBe(503)
      expect(refused.headers.get("connection")).toBe("close")
      expect(refused.headers.get("retry-after")).toBe("1")
      // the server drains until the client is done, so that the 503 is read rather than reset
      yield* c.peer.end
      expect(yield* c.untilClosed).toBe("")
      // b still works; once a leaves, a new connection is served
      yield* b.send(get("/hello.txt"))
      expect((yield* b.response())!.status).toBe(200)
      yield* a.peer.destroy
      yield* until(() => server.log.out.length >= 3, "the refusal to be logged")
      yield* tick
      const d = yield* server.connect()
      yield* d.send(get("/hello.txt"))
      expect((yield* d.response())!.status).toBe(200)
    }))

  it.scoped("shutdown: idle, mid-headers and never-reading connections are all finalized and the scope closes", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true })
      const idle = yield* server.connect()
      yield* idle.send(get("/hello.txt"))
      yield* idle.response()
      const midHeaders = yield* server.connect()
      yield* midHeaders.send("GET /hello.txt HTTP/1.1\r\nHo")
      const stuck = yield* server.connect({ window: 1024 })
      yield* stuck.send(get("/big.bin"))
      yield* until(() => server.log.out.filter((l) => l.includes("request-begun")).length >= 2, "the download to start")
      const closing = yield* Effect.fork(server.shutdown)
      // idle and mid-headers go at once, and the ports are released
      yield* idle.peer.closed
      yield* midHeaders.peer.closed
      expect(yield* server.network.ports).toEqual([])
      // the download that cannot progress is given up after SHUTDOWN_STALL_MS (what the peer has not
      // acknowledged is sampled as the drain begins, and is the same then), not the whole grace period
      yield* tick
      expect((yield* stuck.peer.status).destroyed).toBe(false)
      yield* untilSleeping((wakeAt) => wakeAt === SHUTDOWN_STALL_MS / 4)
      yield* TestClock.adjust(Duration.millis(SHUTDOWN_STALL_MS - 1))
      yield* tick
      expect((yield* stuck.peer.status).destroyed).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      yield* stuck.peer.closed
      yield* Fiber.join(closing)
      // the server scope's own steps, in order
      const steps = server.log.out.filter((l) => l.includes(" trace server#")).map((l) => l.split(" ")[3])
      expect(steps).toEqual(["listening", "listeners-closed", "draining", "drained", "closed"])
      expect(server.log.out.find((l) => l.includes(" draining "))).toMatch(/\d response\(s\) in flight get up to 2s/)
      expect(server.log.out.find((l) => l.includes(" drained "))).toContain("no response left in flight")
      // every connection finalized before the scope reports closed
      const closedAt = server.log.out.findIndex((l) => l.includes(" closed "))
      const lastFinalized = server.log.out.map((l) => l.includes(" finalized ")).lastIndexOf(true)
      expect(lastFinalized).toBeLessThan(closedAt)
      expect(server.log.out.filter((l) => l.includes(" finalized "))).toHaveLength(3)
      expect(server.log.out.filter((l) => / (interrupted|completed) /.test(l))).toHaveLength(3)
      expect(server.log.out.find((l) => l.includes(" completed ") && l.includes("reader stalled"))).toBeDefined()
    }))

  it.scoped("shutdown: idle connections slow to end delay neither the stall rule nor the grace period", () =>
    Effect.gen(function*() {
      // ending the idle connection takes 1.5 s here, as writing its trace lines to a full pipe may on
      // a loaded machine with a thousand of them
      const server = yield* startServer({
        trace: true,
        config: { grace: "1 second" },
        wrapLog: (log) => ({
          ...log,
          trace: (e) =>
            e.event === "interrupted" ? Effect.zipRight(Effect.sleep("1500 millis"), log.trace(e)) : log.trace(e)
        })
      })
      const idle = yield* server.connect()
      const stuck = yield* server.connect({ window: 1024 })
      yield* stuck.send(get("/big.bin"))
      yield* until(() => server.log.out.some((l) => l.includes("request-begun")), "the download to start")
      const closing = yield* Effect.fork(server.shutdown)
      yield* until(() => server.log.out.some((l) => l.includes(" draining ")), "the drain")
      // the download that takes no byte is given up SHUTDOWN_STALL_MS after the drain began, while
      // the idle connection is still ending
      yield* untilSleeping((wakeAt) => wakeAt === SHUTDOWN_STALL_MS / 4)
      yield* TestClock.adjust(Duration.millis(SHUTDOWN_STALL_MS))
      yield* until(() => server.log.out.some((l) => l.includes("reader stalled")), "the stalled reader given up")
      expect(server.log.out.some((l) => l.includes(" interrupted "))).toBe(false)
      // the grace period counts from the drain's start too: over at 1 s, though the idle
      // connection's end (1.5 s) is still awaited, as every finalizer is
      yield* TestClock.adjust(Duration.millis(1000 - SHUTDOWN_STALL_MS))
      yield* until(() => server.log.out.some((l) => l.includes(" drained ")), "the grace period's end")
      expect(server.log.out.find((l) => l.includes(" drained "))).toContain("grace period over")
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(closing)
      expect(server.log.out.filter((l) => l.includes(" finalized "))).toHaveLength(2)
      yield* idle.peer.closed
    }))

  it.scoped("shutdown: a response still progressing when the grace period ends is interrupted", () =>
    Effect.gen(function*() {
      const chunk = new Uint8Array(64 * 1024)
      const endless = Stream.repeatEffect(Effect.succeed(chunk)).pipe(Stream.take(1000))
      const server = yield* startServer({
        trace: true,
        handler: () =>
          Effect.succeed({
            status: 200,
            headers: new Headers(),
            body: { _tag: "Stream", length: 1000 * chunk.length, stream: endless }
          })
      })
      const client = yield* server.connect({ window: chunk.length })
      yield* client.send(get("/slow"))
      expect((yield* client.peer.read)._tag).toBe("Some")
      const closing = yield* Effect.fork(server.shutdown)
      yield* untilSleeping((wakeAt) => wakeAt === Duration.toMillis(Server.defaults.grace))
      // a chunk every 400 ms: never stalled for SHUTDOWN_STALL_MS, still not done after the grace period
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust(Duration.millis(400))
        yield* client.peer.read
        yield* tick
      }
      yield* client.peer.closed
      yield* Fiber.join(closing)
      expect(server.log.out.find((l) => l.includes(" drained "))).toContain("grace period over: interrupting 1")
      expect(server.log.out.find((l) => l.includes(" interrupted "))).toBeDefined()
    }))

  it.scoped("shutdown: a download that moves, however slowly, gets the whole grace period", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true, handler: () => Effect.succeed(mebibyteResponse) })
      const client = yield* server.connect({ window: 4096 })
      yield* client.send(get("/slow"))
      expect((yield* client.peer.readUpTo(1024))._tag).toBe("Some")
      const closing = yield* Effect.fork(server.shutdown)
      yield* untilSleeping((wakeAt) => wakeAt === Duration.toMillis(Server.defaults.grace))
      // 1 KiB every 300 ms: a 256 KiB chunk takes far longer than SHUTDOWN_STALL_MS, yet bytes keep moving
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust(Duration.millis(300))
        expect((yield* client.peer.readUpTo(1024))._tag).toBe("Some")
        yield* tick
      }
      expect((yield* client.peer.status).destroyed).toBe(false)
      yield* TestClock.adjust(Duration.millis(300))
      yield* client.peer.closed
      yield* Fiber.join(closing)
      expect(server.log.out.find((l) => l.includes(" drained "))).toContain("grace period over: interrupting 1")
    }))

  it.scoped("shutdown: a response in flight finishes within the grace period, then the connection closes", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* server.connect({ window: 4096 })
      yield* client.send(get("/big.bin"))
      const first = yield* client.peer.read
      expect(first._tag).toBe("Some")
      const closing = yield* Effect.fork(server.shutdown)
      yield* tick
      // the client reads on: the rest of the body arrives, then the close
      const rest = yield* client.untilClosed
      expect(rest.length).toBeGreaterThan(0)
      yield* Fiber.join(closing)
      expect(server.log.out[0]).toContain(`" 200 ${bigSize} `)
    }))

  it.scoped("shutdown at any moment right after a connect still destroys that connection", () =>
    Effect.gen(function*() {
      // 0 yields: the accept has not resumed yet; then the fiber forked but not started; then running
      const open: Array<number> = []
      for (let yields = 0; yields < 8; yields++) {
        const server = yield* startServer()
        // the accept loop waits for a connection
        yield* tick
        const client = yield* server.connect()
        for (let i = 0; i < yields; i++) yield* Effect.yieldNow()
        yield* server.shutdown
        if (!(yield* client.peer.status).destroyed) open.push(yields)
      }
      // the number of yields after which a connection was left open
      expect(open).toEqual([])
    }))

  it.scoped("a port that cannot be bound fails with its ListenError and releases the others", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const scope = yield* Scope.make()
      const failed = yield* Server.serve({ ...Server.defaults, ports: [0, server.port] }, () => Effect.die("unused"))
        .pipe(
          Scope.extend(scope),
          Effect.provide(server.context),
          Effect.flip
        )
      expect(failed._tag).toBe("ListenError")
      expect(failed.port).toBe(server.port)
      expect(failed.reason).toBe("AddressInUse")
      // the listener on the free port was closed although the caller's scope is still open
      expect(yield* server.network.ports).toEqual([server.port])
      yield* Scope.close(scope, Exit.void)
    }))
})
