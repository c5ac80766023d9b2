import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Option, Scope, Stream, TestClock } from "effect"
import { Headers } from "../../src/http/Headers.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as Inspector from "../../src/server/Inspector.ts"
import * as Lifecycle from "../../src/server/Lifecycle.ts"
import * as Server from "../../src/server/Server.ts"
import type { Handler } from "../../src/server/ServerResponse.ts"
import { get, type Harness, startServer, tick, until } from "./harness.ts"

const lifecycleOf = (server: Harness) => Context.get(server.context, AccessLog.AccessLog).lifecycle

/** A viewer: its items as they arrive, and whether its stream has ended. */
const view = (lifecycle: Lifecycle.Lifecycle, capacity = 1000, batchMs = 0) =>
  Effect.gen(function*() {
    const items: Array<Lifecycle.ViewerItem> = []
    const state = { ended: false, items, chunks: 0 }
    const stream = yield* lifecycle.subscribe(capacity, batchMs)
    yield* Effect.forkScoped(
      Effect.ensuring(
        Stream.runForEachChunk(stream, (chunk) => Effect.sync(() => void (state.chunks++, items.push(...chunk)))),
        Effect.sync(() => void (state.ended = true))
      )
    )
    return state
  })

const eventsOf = (items: ReadonlyArray<Lifecycle.ViewerItem>, connection?: string) =>
  items.flatMap((item) =>
    item._tag === "Event" && (connection === undefined || item.entry.connection === connection)
      ? [item.entry.event]
      : []
  )

const entry = (n: number): AccessLog.TraceEntry => ({
  time: new Date(n),
  event: "forked",
  connection: `c${n}`,
  fiber: `#${n}`,
  parent: "test"
})

describe("Lifecycle: the event stream", () => {
  it.scoped("publishes nothing and builds no entries without a viewer", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const log = Context.get(server.context, AccessLog.AccessLog)
      expect(log.tracing).toBe(false)
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      // a viewer that subscribes now sees only what happens from now on
      const viewer = yield* view(log.lifecycle)
      expect(log.tracing).toBe(true)
      expect(viewer.items).toEqual([])
      yield* client.peer.end
      yield* until(() => eventsOf(viewer.items).includes("finalized"), "the finalizer event")
      expect(eventsOf(viewer.items)).toEqual(["completed", "finalized"])
      // --trace is off: no line was written for any of it
      expect(server.log.out.filter((l) => l.includes(" trace "))).toEqual([])
    }))

  it.scoped("gives --trace and a viewer the same entries", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true })
      const viewer = yield* view(lifecycleOf(server))
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      yield* client.peer.end
      yield* until(() => eventsOf(viewer.items).includes("finalized"), "the finalizer event")
      const lines = server.log.out.filter((l) => l.includes(" trace ") && !l.includes(" trace server#"))
      expect(lines.map((l) => l.split(" ")[3])).toEqual(eventsOf(viewer.items))
      expect(eventsOf(viewer.items)).toEqual(["forked", "request-begun", "request-ended", "completed", "finalized"])
    }))

  it.scoped("a viewer that does not read loses entries past its capacity, and is told how many", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const stream = yield* lifecycle.subscribe(3)
      for (let n = 1; n <= 10; n++) yield* lifecycle.publish(entry(n))
      yield* lifecycle.end
      const items = Array.from(yield* Stream.runCollect(stream))
      expect(items).toEqual([
        { _tag: "Event", entry: entry(1) },
        { _tag: "Event", entry: entry(2) },
        { _tag: "Event", entry: entry(3) },
        { _tag: "Dropped", count: 7 }
      ])
    }))

  it.scoped("each viewer's buffer is its own: a stalled viewer does not cost another one entries", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const stalled = yield* lifecycle.subscribe(2)
      const reading = yield* view(lifecycle, 2)
      for (let n = 1; n <= 6; n++) {
        yield* lifecycle.publish(entry(n))
        yield* until(() => reading.items.length === n, "the reading viewer")
      }
      yield* lifecycle.end
      yield* until(() => reading.ended, "the end")
      expect(reading.items.every((item) => item._tag === "Event")).toBe(true)
      const late = Array.from(yield* Stream.runCollect(stalled))
      expect(late.at(-1)).toEqual({ _tag: "Dropped", count: 4 })
      expect(lifecycle.viewers()).toBe(2)
    }))

  it.scoped("batches what is published within batchMs of an entry into one chunk", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const viewer = yield* view(lifecycle, 1000, 100)
      for (let n = 1; n <= 5; n++) yield* lifecycle.publish(entry(n))
      for (let i = 0; i < 20; i++) yield* tick
      expect(viewer.items).toEqual([])
      yield* TestClock.adjust("100 millis")
      yield* until(() => viewer.items.length === 5, "the batch")
      expect(viewer.chunks).toBe(1)
    }))

  it.scoped("ends every stream after what was published before the end", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const viewer = yield* view(lifecycle)
      yield* lifecycle.publish(entry(1))
      yield* lifecycle.end
      yield* until(() => viewer.ended, "the end")
      expect(viewer.items).toEqual([{ _tag: "Event", entry: entry(1) }])
      // a viewer arriving after the end gets an empty stream, not a wait
      expect(Array.from(yield* Stream.runCollect(yield* lifecycle.subscribe(10)))).toEqual([])
    }))
})

describe("Lifecycle: the snapshot", () => {
  it.scoped("draws the tree: listener and accept fiber, each connection with its phase, the watchdog", () =>
    Effect.gen(function*() {
      const megabyte = new Uint8Array(1_000_000)
      const slow: Handler = () =>
        Effect.succeed({
          status: 200,
          headers: new Headers(),
          body: { _tag: "Stream", length: 3_000_000, stream: Stream.make(megabyte, megabyte, megabyte) }
        })
      const server = yield* startServer({ handler: slow })
      const lifecycle = lifecycleOf(server)
      const idle = yield* server.connect()
      const heading = yield* server.connect()
      const writing = yield* server.connect({ window: 1000 })
      yield* heading.send("GET / HTTP/1.1\r\nHost")
      yield* writing.send(get("/big"))
      yield* TestClock.adjust("1500 millis")
      const phaseOf = () => {
        const servers = lifecycle.snapshot().servers
        return servers[0]!.connections.map((c) => c.phase).sort()
      }
      yield* until(() => phaseOf().join() === "idle,reading-head,writing", "the three phases")
      const snap = lifecycle.snapshot().servers[0]!
      expect(snap.listeners).toEqual([{
        address: `127.0.0.1:${server.port}`,
        acceptFiber: expect.stringMatching(/^#\d+$/)
      }])
      expect(snap.fiberSet).toBe(3)
      expect(snap.draining).toBe(false)
      const byPhase = new Map(snap.connections.map((c) => [c.phase, c]))
      expect(byPhase.get("idle")!.ageMs).toBe(1500)
      expect(byPhase.get("idle")!.fiber).toMatch(/^#\d+$/)
      expect(byPhase.get("idle")!.peer).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(byPhase.get("writing")!.served).toBe(1)
      // the peer's window holds 1000 bytes: the first chunk is still being written
      expect(byPhase.get("writing")!.bytesSent).toBe(0)
      expect(snap.watchdog.scheduled).toBeGreaterThan(0)
      yield* idle.peer.end
      yield* until(() => lifecycle.snapshot().servers[0]!.connections.length === 2, "the idle connection's end")
    }))
})

describe("Lifecycle: shutdown, as a viewer sees it", () => {
  it.scoped("listeners closed, idle connections interrupted, grace, forced interruption, closed, then the end", () =>
    Effect.gen(function*() {
      const stuck: Handler = () => Effect.never
      const server = yield* startServer({ handler: stuck, config: { grace: "2 seconds" } })
      const lifecycle = lifecycleOf(server)
      const viewer = yield* view(lifecycle)
      const idle = yield* server.connect()
      const busy = yield* server.connect()
      yield* busy.send(get("/"))
      yield* until(() => eventsOf(viewer.items).includes("request-begun"), "the request")
      const shutdown = yield* Effect.fork(server.shutdown)
      yield* until(() => eventsOf(viewer.items, "server").includes("draining"), "the drain")
      yield* TestClock.adjust("2 seconds")
      yield* Effect.fork(Effect.zipRight(shutdown.await, lifecycle.end))
      yield* until(() => viewer.ended, "the end of the stream")
      expect(eventsOf(viewer.items, "server")).toEqual(["listeners-closed", "draining", "drained", "closed"])
      const all = viewer.items.flatMap((item) => item._tag === "Event" ? [item.entry] : [])
      const at = (connection: string, event: string) =>
        all.findIndex((e) => e.connection === connection && e.event === event)
      const idleId = all.find((e) => e.event === "forked")!.connection
      const busyId = all.find((e) => e.event === "request-begun")!.connection
      expect(idleId).not.toBe(busyId)
      // the idle connection goes at the drain; the busy one outlives the grace and is interrupted after it
      expect(at(idleId, "interrupted")).toBeGreaterThan(at("server", "draining"))
      expect(at(idleId, "finalized")).toBeLessThan(at("server", "drained"))
      expect(at(busyId, "interrupted")).toBeGreaterThan(at("server", "drained"))
      expect(at(busyId, "finalized")).toBeLessThan(at("server", "closed"))
      expect(all.find((e) => e.event === "drained")!.detail).toBe("grace period over: interrupting 1")
      void idle
    }))
})

describe("Inspector: the SSE stream over the project's own server", () => {
  it.scoped("answers the page, then a snapshot and the events as text/event-stream, ended after the site's shutdown", () =>
    Effect.gen(function*() {
      const site = yield* startServer()
      const lifecycle = lifecycleOf(site)
      const inspectorScope = yield* Scope.make()
      const inspector = yield* Server.serve(
        { ...Server.defaults, ports: [0] },
        Inspector.handler(lifecycle, { ...Inspector.defaults, batchMs: 0 })
      ).pipe(
        Scope.extend(inspectorScope),
        Effect.provide(site.context),
        Effect.provideService(
          AccessLog.AccessLog,
          AccessLog.make({ format: "text", quiet: true, trace: false }, {
            out: () => {},
            err: () => {}
          })
        )
      )
      const port = inspector.addresses[0]!.port
      const page = yield* Effect.flatMap(site.network.connect(port), (peer) =>
        Effect.gen(function*() {
          yield* peer.write(get("/"))
          let text = ""
          while (!text.includes("</html>")) {
            const chunk = yield* peer.read
            if (Option.isNone(chunk)) break
            text += new TextDecoder().decode(chunk.value)
          }
          return text
        })).pipe(Effect.orDie)
      expect(page).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(page).toContain("fiberhttp inspector")

      const viewer = yield* Effect.orDie(site.network.connect(port))
      yield* viewer.write(get("/events"))
      let sse = ""
      const readUntil = (what: string) =>
        Effect.gen(function*() {
          while (!sse.includes(what)) {
            const chunk = yield* Effect.orDie(viewer.read)
            if (Option.isNone(chunk)) return
            sse += new TextDecoder().decode(chunk.value)
          }
        })
      yield* readUntil("event: snapshot")
      yield* until(() => lifecycle.viewers() === 1, "the subscription")
      const client = yield* site.connect()
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      yield* readUntil("\"request-ended\"")
      yield* Effect.fork(Effect.zipRight(site.shutdown, lifecycle.end))
      // the chunked body's last chunk: the stream ended
      yield* readUntil("\r\n0\r\n\r\n")
      expect(sse).toContain("Content-Type: text/event-stream")
      const order = ["event: snapshot", "\"forked\"", "\"request-begun\"", "\"listeners-closed\"", "\"closed\""].map((
        s
      ) => sse.indexOf(s))
      expect(order.every((i) => i >= 0)).toBe(true)
      expect([...order].sort((a, b) => a - b)).toEqual(order)
      yield* tick
      yield* Scope.close(inspectorScope, Exit.void)
    }))
})
