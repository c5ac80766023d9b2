import { FileSystem, Path, Terminal } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Console, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import { program } from "../../src/cli/Cli.ts"
import * as Output from "../../src/client/Output.ts"
import * as MemoryFileAccess from "../../src/files/MemoryFileAccess.ts"
import * as MemoryConnector from "../../src/net/MemoryConnector.ts"
import * as MemoryNetwork from "../../src/net/MemoryNetwork.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import * as MemoryWorkers from "../../src/net/MemoryWorkers.ts"
import { LogSink } from "../../src/server/LogSink.ts"
import { readRequest } from "../client/helpers.ts"

/** @effect/cli asks for a terminal only for prompts (--wizard), which these runs never use. */
const noTerminal = Layer.succeed(Terminal.Terminal, {
  columns: Effect.succeed(80),
  rows: Effect.succeed(24),
  isTTY: Effect.succeed(false),
  readInput: Effect.die("no terminal in this test"),
  readLine: Effect.die("no terminal in this test"),
  display: () => Effect.void
})

/** What the platform gives the commands besides the services under test: nothing that touches the machine. */
const platform = Layer.mergeAll(FileSystem.layerNoop({}), Path.layer, noTerminal, MemoryWorkers.layer)

const logLines = () => {
  const out: Array<string> = []
  const err: Array<string> = []
  return { out, err, layer: Layer.succeed(LogSink, { out: (l) => out.push(l), err: (l) => err.push(l) }) }
}

/** Runs `effect` with Console.log lines kept in `out` (the start-up lines), the rest of the console as it is. */
const capturingLog = (out: Array<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Console.consoleWith(Effect.succeed), (console) =>
    Effect.withConsole(
      effect,
      Object.assign(Object.create(console) as Console.Console, {
        log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(args.map(String).join(" ")))
      })
    ))

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const decoder = new TextDecoder()
/** Reads from `peer` until `text` has arrived; everything read so far. */
const readUntil = (peer: Peer, text: string) =>
  Effect.gen(function*() {
    let received = ""
    while (!received.includes(text)) {
      const chunk = yield* peer.read
      if (Option.isNone(chunk)) break
      received += decoder.decode(chunk.value)
    }
    return received
  })

/**
 * Everything the program needs, in memory: the network its server listens
 * on, the servers its client reaches, its files, its output and its log.
 */
const environment = (
  parts: {
    readonly servers?: MemoryConnector.MemoryConnectorOptions["servers"]
    readonly output?: Layer.Layer<Output.Output>
    readonly log?: Layer.Layer<LogSink>
  } = {}
) =>
  Layer.mergeAll(
    platform,
    MemoryConnector.layer({ servers: parts.servers ?? {} }),
    parts.output ?? Output.makeCapture().layer,
    parts.log ?? logLines().layer
  )

const argv = (...args: Array<string>) => ["node", "fiberhttp", ...args]

describe("the server command, in process", () => {
  it.scoped("serves a file over MemoryNetwork and in-memory files; interrupted, it finalizes every connection and exits 0", () =>
    Effect.gen(function*() {
      const files = yield* MemoryFileAccess.MemoryFileTree
      files.writeFile("/site/hello.txt", "hello from memory\n", { mtimeMs: Date.UTC(2026, 0, 1) })
      const network = yield* MemoryNetwork.MemoryNetwork
      const log = logLines()
      const server = program(argv("server", "--root", "/site", "--trace", "0"))
      const running = yield* Effect.fork(server.run.pipe(Effect.provide(environment({ log: log.layer }))))
      yield* settle
      const [port] = yield* network.ports
      expect(port).toBeDefined()

      const idle = yield* network.connect(port!)
      const busy = yield* network.connect(port!)
      yield* busy.write("GET /hello.txt HTTP/1.1\r\nHost: memory\r\n\r\n")
      const response = yield* readUntil(busy, "hello from memory\n")
      expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(response).toContain("\r\nETag: ")
      expect(response.endsWith("\r\n\r\nhello from memory\n")).toBe(true)
      yield* settle

      // as SIGINT does: the signal is noted, then the program interrupted
      server.noteSignal("SIGINT")
      yield* Fiber.interrupt(running)
      const exit = yield* Fiber.await(running)
      expect(server.exitStatusOf(exit)).toBe(0)
      // both connections, the idle one and the one that was served, were finalized
      const finalized = log.out.filter((line) => / finalized /.test(line))
      const forked = log.out.filter((line) => / forked /.test(line))
      expect(forked.length).toBe(2)
      expect(finalized.length).toBe(forked.length)
      for (const peer of [idle, busy]) expect((yield* peer.status).ended || (yield* peer.status).destroyed).toBe(true)
      expect(log.out.some((line) => line.includes("GET /hello.txt HTTP/1.1") && line.includes(" 200 "))).toBe(true)
      expect(yield* network.ports).toEqual([])
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))

  it.scoped("a root that does not exist: one line on stderr, exit 1", () =>
    Effect.gen(function*() {
      const log = logLines()
      const server = program(argv("server", "--root", "/nowhere", "0"))
      const exit = yield* Effect.exit(server.run.pipe(Effect.provide(environment({ log: log.layer }))))
      expect(server.exitStatusOf(exit)).toBe(1)
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))
})

describe("the server command with --workers, in process", () => {
  it.scoped("the primary forks the workers, announces once when all listen, and stops them all when interrupted", () =>
    Effect.gen(function*() {
      ;(yield* MemoryFileAccess.MemoryFileTree).makeDirectory("/site")
      const workers = MemoryWorkers.make()
      const out: Array<string> = []
      const server = program(argv("server", "--root", "/site", "--workers", "3", "--log-format", "json", "0"))
      const running = yield* Effect.fork(
        server.run.pipe(
          Effect.provide(workers.layer),
          Effect.provide(environment()),
          capturingLog(out)
        )
      )
      yield* settle
      expect(workers.forked.length).toBe(3)
      expect(out.map((line) => JSON.parse(line))).toEqual([{
        event: "listening",
        version: expect.any(String),
        root: "/site",
        urls: ["http://127.0.0.1:8080/"],
        workers: 3
      }])
      // the primary listens on nothing itself
      expect(yield* (yield* MemoryNetwork.MemoryNetwork).ports).toEqual([])
      server.noteSignal("SIGINT")
      yield* Fiber.interrupt(running)
      expect(server.exitStatusOf(yield* Fiber.await(running))).toBe(0)
      expect(workers.forked.map((w) => w.stopAsked())).toEqual([true, true, true])
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))

  it.scoped("a worker serves with its id in the connection ids, reports its addresses, and stops when told", () =>
    Effect.gen(function*() {
      const files = yield* MemoryFileAccess.MemoryFileTree
      files.writeFile("/site/hello.txt", "hello\n")
      const network = yield* MemoryNetwork.MemoryNetwork
      const workers = MemoryWorkers.make({ role: { _tag: "Worker", id: 7 } })
      const log = logLines()
      const out: Array<string> = []
      const server = program(argv("server", "--root", "/site", "--workers", "2", "0"))
      const running = yield* Effect.fork(
        server.run.pipe(
          Effect.provide(workers.layer),
          Effect.provide(environment({ log: log.layer })),
          capturingLog(out)
        )
      )
      yield* settle
      const [port] = yield* network.ports
      expect(workers.reported).toEqual([[{ host: "127.0.0.1", port }]])
      const peer = yield* network.connect(port!)
      yield* peer.write("GET /hello.txt HTTP/1.1\r\nHost: memory\r\n\r\n")
      expect(yield* readUntil(peer, "hello\n")).toMatch(/^HTTP\/1\.1 200 OK/)
      yield* settle
      expect(log.out).toEqual([expect.stringMatching(/ w7:c\d+#\d+ "GET \/hello\.txt HTTP\/1\.1" 200 6 /)])
      // the primary announces, not the worker
      expect(out).toEqual([])
      workers.requestStop()
      const exit = yield* Fiber.await(running)
      expect(server.exitStatusOf(exit)).toBe(0)
      expect(yield* network.ports).toEqual([])
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))
})

describe("the client command, in process", () => {
  it.scoped("fetches over MemoryConnector and prints the response", () =>
    Effect.gen(function*() {
      const capture = Output.makeCapture()
      const servers = {
        "example.test:80": (peer: Peer) =>
          Effect.gen(function*() {
            expect(yield* readRequest(peer)).toMatch(/^GET \/page HTTP\/1\.1\r\n/)
            yield* peer.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n")
          })
      }
      const client = program(argv("client", "--body", "http://example.test/page"))
      const running = yield* Effect.fork(
        client.run.pipe(Effect.provide(environment({ servers, output: capture.layer })))
      )
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(running)
      expect(client.exitStatusOf(exit)).toBe(0)
      expect(capture.captured.stdout()).toBe("hi\n")
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))

  it.scoped("a failed request: curl's exit status and one line on stderr", () =>
    Effect.gen(function*() {
      const capture = Output.makeCapture()
      const client = program(argv("client", "http://example.test/"))
      const servers = { "example.test:80": { connect: "refuse" } } as const
      const exit = yield* Effect.exit(client.run.pipe(Effect.provide(environment({ servers, output: capture.layer }))))
      expect(client.exitStatusOf(exit)).toBe(7)
      expect(capture.captured.stderr()).toMatch(/^fiberhttp: http:\/\/example\.test\/: .*\n$/)
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))
})

describe("exit status of interrupted runs", () => {
  it.scoped("a second run in the same process has its own status: server 0, then client 130 on SIGINT", () =>
    Effect.gen(function*() {
      ;(yield* MemoryFileAccess.MemoryFileTree).makeDirectory("/site")
      const server = program(argv("server", "--root", "/site", "0"))
      const serving = yield* Effect.fork(
        server.run.pipe(Effect.provide(environment()))
      )
      yield* settle
      server.noteSignal("SIGINT")
      yield* Fiber.interrupt(serving)
      expect(server.exitStatusOf(yield* Fiber.await(serving))).toBe(0)

      const capture = Output.makeCapture()
      const client = program(argv("client", "http://example.test/"))
      const servers = { "example.test:80": { connect: "hang" } } as const
      const fetching = yield* Effect.fork(
        client.run.pipe(Effect.provide(environment({ servers, output: capture.layer })))
      )
      yield* settle
      client.noteSignal("SIGINT")
      yield* Fiber.interrupt(fetching)
      const exit = yield* Fiber.await(fetching)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(client.exitStatusOf(exit)).toBe(130)
    }).pipe(Effect.provide(Layer.merge(MemoryNetwork.layer, MemoryFileAccess.layer))))
})
