import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Headers } from "../../src/http/Headers.ts"
import type { ServerResponse as Response } from "../../src/server/ServerResponse.ts"
import { get, startServer } from "./harness.ts"

const encoder = new TextEncoder()
const unknownLength: Response = {
  status: 200,
  headers: new Headers([["Content-Type", "text/plain"]]),
  body: {
    _tag: "Stream",
    length: undefined,
    stream: Stream.make(encoder.encode("hello, "), new Uint8Array(0), encoder.encode("chunked world"))
  }
}

describe("Server: a body of unknown length", () => {
  it.scoped("goes out chunked to HTTP/1.1 (empty chunks skipped), and the connection stays open", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handler: () => Effect.succeed(unknownLength) })
      const client = yield* server.connect()
      yield* client.send(get("/a") + "GET /b HTTP/1.0\r\n\r\n")
      const raw = yield* client.untilClosed
      const [first, second] = raw.split("HTTP/1.1 200 OK\r\n").slice(1)
      expect(first).toContain("Transfer-Encoding: chunked\r\n")
      expect(first).not.toContain("Content-Length")
      expect(first!.slice(first!.indexOf("\r\n\r\n") + 4)).toBe("7\r\nhello, \r\nd\r\nchunked world\r\n0\r\n\r\n")
      // HTTP/1.0: no chunked coding; the body runs until the close
      expect(second).not.toContain("Transfer-Encoding")
      expect(second).not.toContain("Content-Length")
      expect(second).toContain("Connection: close\r\n")
      expect(second!.slice(second!.indexOf("\r\n\r\n") + 4)).toBe("hello, chunked world")
      expect(server.log.out[0]).toContain("\"GET /a HTTP/1.1\" 200 20 ")
    }))

  it.scoped("HEAD gets the chunked head and no body", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ handler: () => Effect.succeed(unknownLength) })
      const client = yield* server.connect()
      yield* client.send("HEAD /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
      const raw = yield* client.untilClosed
      expect(raw).toContain("Transfer-Encoding: chunked\r\n")
      expect(raw.endsWith("\r\n\r\n")).toBe(true)
      expect(raw).not.toContain("hello")
    }))
})
