import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
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
        `2026-11-26T01:02:03.456Z [::1]:51234 c7#42 "GET /a%20b.txt?x="y" HTTP/1.1" 200 1234 1.2ms`
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
