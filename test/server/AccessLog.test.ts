import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, FastCheck as fc } from "effect"
import * as AccessLog from "../../src/server/AccessLog.ts"

const entry: AccessLog.AccessEntry = {
  time: new Date(Date.UTC(2026, 10, 26, 1, 2, 3, 456)),
  remoteAddress: "::1",
  remotePort: 51234,
  connection: "c7",
  fiber: "#42",
  requestLine: "GET /a%20b.txt?x=\"y\" HTTP/1.1",
  status: 200,
  bytes: 1234,
  durationMs: 1.234
}

describe("AccessLog", () => {
  it.effect("text: time, remote, connection and fiber, request line, status, bytes, duration", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory({ format: "text", quiet: false, trace: false })
      yield* Effect.provide(Effect.flatMap(AccessLog.AccessLog, (l) => l.request(entry)), log.layer)
      expect(log.out).toEqual([
        `2026-11-26T01:02:03.456Z [::1]:51234 c7#42 "GET /a%20b.txt?x=\\"y\\" HTTP/1.1" 200 1234 1.2ms`
      ])
    }))

  it.effect("json: one object per line", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory({ format: "json", quiet: false, trace: false })
      yield* Effect.provide(Effect.flatMap(AccessLog.AccessLog, (l) => l.request(entry)), log.layer)
      expect(log.out).toHaveLength(1)
      expect(JSON.parse(log.out[0]!)).toEqual({
        time: "2026-11-26T01:02:03.456Z",
        remote: "[::1]:51234",
        connection: "c7",
        fiber: "#42",
        request: "GET /a%20b.txt?x=\"y\" HTTP/1.1",
        status: 200,
        bytes: 1234,
        durationMs: 1.2
      })
    }))

  it.effect("in a worker, every connection id carries the worker's: access lines, traces (text and JSON), errors", () =>
    Effect.gen(function*() {
      const text = AccessLog.memory({ format: "text", quiet: false, trace: true, connectionPrefix: "w2:" })
      const json = AccessLog.memory({ format: "json", quiet: false, trace: true, connectionPrefix: "w2:" })
      const trace: AccessLog.TraceEntry = {
        time: entry.time,
        event: "forked",
        connection: "c7",
        fiber: "#42",
        parent: "server[127.0.0.1:8080] accept#9"
      }
      for (const log of [text, json]) {
        yield* Effect.provide(
          Effect.flatMap(
            AccessLog.AccessLog,
            (l) => Effect.all([l.request(entry), l.trace(trace), l.error("connection c7 failed")])
          ),
          log.layer
        )
      }
      expect(text.out[0]).toContain(" [::1]:51234 w2:c7#42 \"GET ")
      expect(text.out[1]).toBe("2026-11-26T01:02:03.456Z trace w2:c7#42 forked parent=server[127.0.0.1:8080] accept#9")
      expect(text.err).toEqual(["error: w2: connection c7 failed"])
      expect(JSON.parse(json.out[0]!).connection).toBe("w2:c7")
      expect(JSON.parse(json.out[1]!).connection).toBe("w2:c7")
      expect(JSON.parse(json.err[0]!).error).toBe("w2: connection c7 failed")
    }))

  it.effect("an IPv4 client of a dual-stack listener is written as IPv4, not as its mapped IPv6 form", () =>
    Effect.gen(function*() {
      const text = AccessLog.memory({ format: "text", quiet: false, trace: false })
      const json = AccessLog.memory({ format: "json", quiet: false, trace: false })
      const peers = ["::ffff:127.0.0.1", "::FFFF:10.0.0.2", "::1", "2001:db8::ffff:1", "::ffff:7f00:1", "192.0.2.7"]
      for (const log of [text, json]) {
        yield* Effect.provide(
          Effect.flatMap(
            AccessLog.AccessLog,
            (l) => Effect.forEach(peers, (remoteAddress) => l.request({ ...entry, remoteAddress }))
          ),
          log.layer
        )
      }
      const expected = ["127.0.0.1:51234", "10.0.0.2:51234", "[::1]:51234", "[2001:db8::ffff:1]:51234"]
        .concat(["[::ffff:7f00:1]:51234", "192.0.2.7:51234"])
      expect(text.out.map((l) => l.split(" ")[1])).toEqual(expected)
      expect(json.out.map((l) => JSON.parse(l).remote)).toEqual(expected)
    }))

  it.effect("a refused request's raw line: every byte outside printable ASCII as \\xHH (text) or \\u00HH (JSON)", () =>
    Effect.gen(function*() {
      const raw = "GET /caf\xc3\xa9 \x01\"\\ HTTP/1.1"
      const text = AccessLog.memory({ format: "text", quiet: false, trace: false })
      const json = AccessLog.memory({ format: "json", quiet: false, trace: false })
      for (const log of [text, json]) {
        yield* Effect.provide(
          Effect.flatMap(AccessLog.AccessLog, (l) => l.request({ ...entry, requestLine: raw, status: 400 })),
          log.layer
        )
      }
      expect(text.out[0]).toContain(` "GET /caf\\xc3\\xa9 \\x01\\"\\\\ HTTP/1.1" 400 `)
      expect(json.out[0]).toMatch(/^[\x20-\x7e]+$/)
      expect(json.out[0]).toContain(`"request":"GET /caf\\u00c3\\u00a9 \\u0001\\"\\\\ HTTP/1.1"`)
      expect(JSON.parse(json.out[0]!).request).toBe(raw)
    }))

  it.effect("--quiet drops access lines but not errors; traces only when asked", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory({ format: "text", quiet: true, trace: false })
      yield* Effect.provide(
        Effect.flatMap(AccessLog.AccessLog, (l) =>
          Effect.all([
            l.request(entry),
            l.trace({ time: entry.time, event: "forked", connection: "c7", fiber: "#42", parent: "server" }),
            l.error("disk on fire", Cause.fail(new Error("EIO")))
          ])),
        log.layer
      )
      expect(log.out).toEqual([])
      expect(log.err).toHaveLength(1)
      expect(log.err[0]).toContain("error: disk on fire")
      expect(log.err[0]).toContain("EIO")
    }))
})

/** C0 controls, DEL and C1 controls: none may reach a terminal or a log file raw from a client. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

describe("AccessLog: whatever the client sent", () => {
  // controls, quotes and backslashes often, lone surrogates and other code points now and then
  const hostile = fc.string({
    unit: fc.oneof(
      fc.integer({ min: 0, max: 0xa0 }).map((c) => String.fromCharCode(c)),
      fc.constantFrom("\ud800", "\udfff", "é", "\u2028", "\ufeff")
    ),
    maxLength: 40
  })

  it.effect.prop(
    "text: one line, no control character, the request line quoted unambiguously",
    [hostile],
    ([line]) =>
      Effect.gen(function*() {
        const log = AccessLog.memory({ format: "text", quiet: false, trace: true })
        yield* Effect.provide(
          Effect.flatMap(AccessLog.AccessLog, (l) =>
            Effect.zipRight(
              l.request({ ...entry, requestLine: line }),
              l.trace({
                time: entry.time,
                event: "request-begun",
                connection: "c7",
                fiber: "#42",
                parent: "p",
                detail: line
              })
            )),
          log.layer
        )
        for (const out of log.out) expect(out).not.toMatch(CONTROL)
        const quoted = /"((?:[^"\\]|\\.)*)" 200 /.exec(log.out[0]!)
        expect(quoted).not.toBeNull()
      })
  )

  it.effect.prop(
    "json: valid JSON that gives the request line back exactly",
    [hostile],
    ([line]) =>
      Effect.gen(function*() {
        const log = AccessLog.memory({ format: "json", quiet: false, trace: false })
        yield* Effect.provide(
          Effect.flatMap(AccessLog.AccessLog, (l) => l.request({ ...entry, requestLine: line })),
          log.layer
        )
        expect(log.out).toHaveLength(1)
        expect(log.out[0]).not.toMatch(CONTROL)
        expect(JSON.parse(log.out[0]!).request).toBe(line)
      })
  )

  it.effect("text errors: a client-chosen path in the message cannot start a line of its own or reach the terminal raw", () =>
    Effect.gen(function*() {
      const log = AccessLog.memory({ format: "text", quiet: false, trace: false })
      const message = "GET /x: EIO: i/o error, open '/srv/\r\n2026-01-01T00:00:00Z fake line \u001b[2J'"
      yield* Effect.provide(
        Effect.flatMap(AccessLog.AccessLog, (l) => l.error(message, Cause.fail(new Error(message)))),
        log.layer
      )
      const text = log.err.join("\n")
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
      expect(text.split("\n").some((l) => l.startsWith("2026-01-01"))).toBe(false)
    }))
})

describe("AccessLog: the process's sink", () => {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

  it("writes the lines of one turn in one write, in order, before the next turn; errors at once", async () => {
    const writes: Array<string> = []
    const errors: Array<string> = []
    const sink = AccessLog.gatheringSink((text) => writes.push(text), (line) => errors.push(line))
    sink.out("a")
    sink.out("b")
    sink.err("oops")
    expect(errors).toEqual(["oops"])
    expect(writes).toEqual([])
    await nextTurn()
    expect(writes).toEqual(["a\nb\n"])
    sink.out("c")
    await nextTurn()
    expect(writes).toEqual(["a\nb\n", "c\n"])
    await nextTurn()
    expect(writes).toHaveLength(2)
  })

  it("writes at once when MAX_HELD_LINES are held", () => {
    const writes: Array<string> = []
    const sink = AccessLog.gatheringSink((text) => writes.push(text), () => {})
    const line = "x".repeat(1023)
    for (let i = 0; i < AccessLog.MAX_HELD_LINES / 1024; i++) sink.out(line)
    expect(writes).toHaveLength(1)
    expect(writes[0]).toBe(`${line}\n`.repeat(AccessLog.MAX_HELD_LINES / 1024))
  })
})
