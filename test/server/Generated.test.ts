import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { get, startServer } from "./harness.ts"

const fragments = [
  "GET",
  "HEAD",
  "POST",
  "BREW",
  " ",
  "  ",
  "/",
  "/hello.txt",
  "/..",
  "/%2e%2e",
  "%",
  "%zz",
  "?",
  "*",
  "http://h/",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/9.9",
  "HTTP/1.",
  "\r\n",
  "\n",
  "\r",
  "\x00",
  "\x7f",
  "\xff",
  "Host: x",
  "Host:",
  ":",
  " : ",
  "Content-Length: ",
  "Content-Length: 3",
  "-1",
  "99999999999999999999",
  "Transfer-Encoding: chunked",
  "Transfer-Encoding: gzip",
  "Connection: close",
  "Expect: 100-continue",
  "0",
  "5",
  "a",
  "ffffffffffffffffff",
  ";ext=1",
  "abc",
  "\t",
  "\r\n\r\n"
]

/** Requests put together from valid and invalid parts: reaches 413, 414, 431, 501 and 505 too. */
const assembled = fc
  .record({
    method: fc.constantFrom("GET", "HEAD", "POST", "OPTIONS", "BREW", "G@T", ""),
    target: fc.constantFrom(
      "/",
      "/hello.txt",
      "/%2e%2e/x",
      "*",
      "http://h/hello.txt",
      "/a b",
      `/${"a".repeat(9000)}`,
      "/%zz",
      "/\x00"
    ),
    version: fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.", "http/1.1"),
    eol: fc.constantFrom("\r\n", "\r\n", "\n", "\r"),
    headers: fc.array(
      fc.constantFrom(
        "Host: x",
        "Host: x",
        "Host: y",
        "Content-Length: 3",
        "Content-Length: -1",
        "Content-Length: 99999999999",
        "Transfer-Encoding: chunked",
        "Transfer-Encoding: gzip, chunked",
        "Connection: close",
        `X: ${"a".repeat(40000)}`,
        "Bad Name: v",
        "X: \x00",
        " folded",
        "Expect: 100-continue"
      ),
      { maxLength: 6 }
    ),
    body: fc.constantFrom("", "abc", "3\r\nabc\r\n0\r\n\r\n", "zz\r\n")
  })
  .map(({ body, eol, headers, method, target, version }) =>
    Buffer.from(`${method} ${target} ${version}${eol}${headers.map((h) => h + eol).join("")}${eol}${body}`, "latin1")
  )

/** Byte strings that look like HTTP often enough to reach every parser state. */
const hostile = fc.oneof(
  assembled,
  fc.array(fc.constantFrom(...fragments), { maxLength: 40 }).map((parts) => Buffer.from(parts.join(""), "latin1")),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.tuple(fc.array(fc.constantFrom(...fragments), { maxLength: 12 }), fc.uint8Array({ maxLength: 64 })).map(
    ([parts, tail]) => Buffer.concat([Buffer.from(get("/hello.txt") + parts.join(""), "latin1"), tail])
  )
)

const statuses = (text: string): Array<number> => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))

describe("Server: hostile input, generated", () => {
  it.scoped(
    "any bytes: answered with a non-5xx status (or 501/505) or closed, never a crash",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const seen: Array<number> = []
        const samples = fc.sample(hostile, { numRuns: 300, seed: 20261126 })
        for (const input of samples) {
          const client = yield* server.connect()
          yield* Effect.ignore(client.send(input))
          yield* Effect.ignore(client.peer.end)
          const output = yield* client.untilClosed
          for (const status of statuses(output)) {
            expect(status >= 500 && status !== 501 && status !== 505, JSON.stringify(input.toString("latin1"))).toBe(
              false
            )
          }
          seen.push(...statuses(output))
          yield* client.peer.destroy
        }
        // the samples reach several outcomes, not only the first parse error
        expect(new Set(seen).size).toBeGreaterThanOrEqual(4)
        expect(server.log.err).toEqual([])
        const check = yield* server.connect()
        yield* check.send(get("/hello.txt"))
        expect((yield* check.response())!.status).toBe(200)
      }),
    60_000
  )
})

describe("Server: pipelining, generated", () => {
  const targets = ["/hello.txt", "/style.css", "/missing", "/", "/docs"] as const
  const expected: Record<(typeof targets)[number], number> = {
    "/hello.txt": 200,
    "/style.css": 200,
    "/missing": 404,
    "/": 200,
    "/docs": 301
  }

  it.scoped("requests split anywhere and pipelined are answered in order", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const cases = fc.sample(
        fc.record({
          requests: fc.array(fc.constantFrom(...targets), { minLength: 1, maxLength: 6 }),
          cuts: fc.array(fc.nat(), { maxLength: 8 })
        }),
        { numRuns: 60, seed: 7 }
      )
      for (const { cuts, requests } of cases) {
        const bytes = Buffer.from(requests.map((t) => get(t)).join(""), "latin1")
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b)
        const client = yield* server.connect()
        let from = 0
        for (const point of [...points, bytes.length]) {
          if (point > from) yield* client.send(bytes.subarray(from, point))
          from = point
        }
        for (const target of requests) {
          const response = (yield* client.response())!
          expect(response.status, `${requests.join(" ")} cut at ${points.join(",")}`).toBe(expected[target])
        }
        yield* client.peer.destroy
      }
    }), 60_000)
})
