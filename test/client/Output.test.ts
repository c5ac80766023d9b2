import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Writable } from "node:stream"
import * as Output from "../../src/client/Output.ts"
import { formatBytes, progressLine } from "../../src/client/Render.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import { readRequest, runAgainst } from "./helpers.ts"

describe("progress line", () => {
  it("shows bytes, rate, bar, percentage and time left with a known length", () => {
    const line = progressLine({ bytes: 512 * 1024, total: 2048 * 1024, elapsedMs: 1000, columns: 70 })
    expect(line).toBe("\r512.0 KiB / 2.0 MiB  512.0 KiB/s  [####             ]   25%  ETA 0:03")
    expect(line.length).toBeLessThanOrEqual(70)
  })

  it("shows bytes and rate alone without a length", () => {
    expect(progressLine({ bytes: 300, total: undefined, elapsedMs: 2000, columns: 30 })).toBe(
      "\r300 B  150 B/s".padEnd(29)
    )
  })

  it("formats sizes", () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 ** 3].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "1.5 KiB",
      "5.0 GiB"
    ])
  })
})

describe("-o FILE", () => {
  const dripping = (peer: Peer) =>
    Effect.gen(function*() {
      yield* readRequest(peer)
      yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
      for (let i = 0; i < 4; i++) {
        if (i > 0) yield* Effect.sleep("1 second")
        yield* peer.write("x".repeat(25))
      }
    })

  /** A file system holding files in memory: -o's writes stay exact under TestClock. */
  const memoryFiles = () => {
    const files = new Map<string, string>()
    const layer = FileSystem.layerNoop({
      open: (path) =>
        path.startsWith("/readonly/")
          ? Effect.fail(
            new SystemError({
              reason: "PermissionDenied",
              module: "FileSystem",
              method: "open",
              pathOrDescriptor: path,
              description: "permission denied"
            })
          )
          : Effect.sync(() => {
            files.set(path, "")
            const decoder = new TextDecoder()
            return {
              writeAll: (chunk: Uint8Array) =>
                Effect.sync(() => files.set(path, files.get(path) + decoder.decode(chunk)))
            } as unknown as FileSystem.File
          })
    })
    return { files, layer }
  }

  it.effect("saves the body; stdout stays empty (the head only with -i); progress on a terminal's stderr", () =>
    Effect.gen(function*() {
      const { files, layer } = memoryFiles()
      const result = yield* runAgainst({ "a.test:80": dripping }, ["http://a.test/"], { outputFile: "/tmp/body.txt" }, {
        fs: layer,
        stderrIsTTY: true
      })
      expect(result.code).toBe(0)
      expect(result.stdout).toBe("")
      expect(files.get("/tmp/body.txt")).toBe("x".repeat(100))
      const frames = result.stderr.split("\r").filter((f) => f !== "")
      expect(frames).toHaveLength(4)
      expect(frames[0]).toMatch(/^25 B \/ 100 B {2}0 B\/s {2}\[#{5} {14}\] {3}25% {2}ETA --:--$/)
      expect(frames[1]).toMatch(/^50 B \/ 100 B {2}50 B\/s {2}\[#{10} {9}\] {3}50% {2}ETA 0:01$/)
      expect(frames[3]).toMatch(/^100 B \/ 100 B {2}33 B\/s {2}\[#{18}\] {2}100% {2}ETA 0:00\n$/)
    }))

  it.effect("draws nothing when stderr is not a terminal", () =>
    Effect.gen(function*() {
      const { files, layer } = memoryFiles()
      const result = yield* runAgainst({ "a.test:80": dripping }, ["http://a.test/"], {
        outputFile: "/tmp/b",
        mode: "body"
      }, { fs: layer })
      expect(result).toMatchObject({ code: 0, stdout: "", stderr: "" })
      expect(files.get("/tmp/b")).toBe("x".repeat(100))
    }))

  it.effect("with --json the body is still saved, and the JSON line counts it", () =>
    Effect.gen(function*() {
      const { files, layer } = memoryFiles()
      const result = yield* runAgainst({ "a.test:80": dripping }, ["http://a.test/"], {
        outputFile: "/tmp/j",
        mode: "json"
      }, { fs: layer })
      expect(result.code).toBe(0)
      expect(files.get("/tmp/j")).toBe("x".repeat(100))
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 200, bodyBytes: 100 })
    }))

  it.effect("a file that cannot be written: exit 23", () =>
    Effect.gen(function*() {
      const { layer } = memoryFiles()
      const result = yield* runAgainst({ "a.test:80": dripping }, ["http://a.test/"], { outputFile: "/readonly/x" }, {
        fs: layer
      })
      expect(result.code).toBe(23)
      expect(result.stderr).toMatch(/^fiberhttp: http:\/\/a\.test\/: could not write \/readonly\/x: /)
    }))
})

describe("binary output to a terminal (curl's rule)", () => {
  const replying = (response: Uint8Array | string) => (peer: Peer) =>
    Effect.gen(function*() {
      yield* readRequest(peer)
      yield* peer.write(response)
      yield* Effect.never
    })
  const gzipHead = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"
  const warning = "fiberhttp: http://a.test/: binary output can mess up your terminal: " +
    "use -o FILE to save it, or -o - to print it anyway\n"

  it.effect("a compressed body is not printed to a terminal: one line on stderr, exit 23", () =>
    Effect.gen(function*() {
      const result = yield* runAgainst({ "a.test:80": replying(`${gzipHead}\x1f\x8b\x08\x00`) }, ["http://a.test/"], {
        mode: "body"
      }, { stdoutIsTTY: true })
      expect(result).toMatchObject({ code: 23, stdout: "", stderr: warning })
    }))

  it.effect("a body with a NUL byte is not printed to a terminal either; -o - or a pipe prints it", () =>
    Effect.gen(function*() {
      const binary = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\x00b"
      const tty = yield* runAgainst({ "a.test:80": replying(binary) }, ["http://a.test/"], { mode: "body" }, {
        stdoutIsTTY: true
      })
      expect(tty).toMatchObject({ code: 23, stdout: "", stderr: warning })
      const asked = yield* runAgainst({ "a.test:80": replying(binary) }, ["http://a.test/"], {
        mode: "body",
        stdoutAsked: true
      }, { stdoutIsTTY: true })
      expect(asked).toMatchObject({ code: 0, stdout: "a\x00b" })
      const piped = yield* runAgainst({ "a.test:80": replying(binary) }, ["http://a.test/"], { mode: "body" })
      expect(piped).toMatchObject({ code: 0, stdout: "a\x00b" })
      const text = yield* runAgainst(
        { "a.test:80": replying("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi") },
        ["http://a.test/"],
        { mode: "body" },
        { stdoutIsTTY: true }
      )
      expect(text).toMatchObject({ code: 0, stdout: "hi" })
    }))
})

describe("writing to a stream that is not synchronous", () => {
  it.live("a write is done only once the stream holds none of the chunk, so its memory may be reused", () =>
    Effect.gen(function*() {
      const taken: Array<string> = []
      const slow = new Writable({
        highWaterMark: 1024 * 1024,
        write: (chunk: Buffer, _encoding, callback) => {
          setTimeout(() => {
            taken.push(chunk.toString())
            callback()
          }, 20)
        }
      })
      const { write } = Output.writeTo(slow)
      const buffer = new TextEncoder().encode("first")
      yield* write(buffer)
      // the stream has taken it: overwriting the buffer now changes nothing already written
      expect(taken).toEqual(["first"])
      buffer.set(new TextEncoder().encode("again"))
      yield* write(buffer)
      expect(taken).toEqual(["first", "again"])
    }))
})
