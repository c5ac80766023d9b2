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

/** A viewer: its batches as they arrive, and whether its stream has ended. */
const view = (lifecycle: Lifecycle.Lifecycle, capacity = 1000, batchMs = 0) =>
  Effect.gen(function*() {
    const batches: Array<Lifecycle.ViewerBatch> = []
    const { batches: stream, snapshot } = yield* lifecycle.subscribe(capacity, batchMs)
    const state = { ended: false, batches, chunks: 0, snapshot }
    yield* Effect.forkScoped(
      Effect.ensuring(
        Stream.runForEachChunk(stream, (chunk) => Effect.sync(() => void (state.chunks++, batches.push(...chunk)))),
        Effect.sync(() => void (state.ended = true))
      )
    )
    return state
  })

const entriesOf = (batches: ReadonlyArray<Lifecycle.ViewerBatch>) => batches.flatMap((batch) => batch.events)

const eventsOf = (batches: ReadonlyArray<Lifecycle.ViewerBatch>, connection?: string) =>
  entriesOf(batches).flatMap((e) => connection === undefined || e.connection === connection ? [e.event] : [])

const progressOf = (batches: ReadonlyArray<Lifecycle.ViewerBatch>, connection: string) =>
  batches.flatMap((batch) => batch.progress.filter((p) => p.id === connection))

const droppedOf = (batches: ReadonlyArray<Lifecycle.ViewerBatch>) =>
  batches.reduce((sum, batch) => sum + batch.dropped, 0)

const entry = (n: number): AccessLog.TraceEntry => ({
  time: new Date(n),
  event: "forked",
  connection: `c${n}`,
  fiber: `#${n}`,
  parent: "test"
})

/** Advances the TestClock one batch at a time until `condition` holds. */
const batchesUntil = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50 && !condition(); i++) {
      yield* TestClock.adjust("100 millis")
      for (let j = 0; j < 5; j++) yield* tick
    }
    yield* until(condition, what)
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
      // requests are still not traced: a viewer reads the connection's counters instead
      expect(log.tracesRequests).toBe(false)
      expect(viewer.batches).toEqual([])
      yield* client.peer.end
      yield* until(() => eventsOf(viewer.batches).includes("finalized"), "the finalizer event")
      expect(eventsOf(viewer.batches)).toEqual(["completed", "finalized"])
      expect(entriesOf(viewer.batches)[0]!.served).toBe(1)
      // --trace is off: no line was written for any of it
      expect(server.log.out.filter((l) => l.includes(" trace "))).toEqual([])
    }))

  it.scoped("gives a viewer --trace's entries, less the per-request ones", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ trace: true })
      const viewer = yield* view(lifecycleOf(server))
      const client = yield* server.connect()
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      yield* client.peer.end
      yield* until(() => eventsOf(viewer.batches).includes("finalized"), "the finalizer event")
      const lines = server.log.out.filter((l) => l.includes(" trace ") && !l.includes(" trace server#"))
      expect(lines.map((l) => l.split(" ")[3])).toEqual([
        "forked",
        "request-begun",
        "request-ended",
        "completed",
        "finalized"
      ])
      expect(eventsOf(viewer.batches)).toEqual(["forked", "completed", "finalized"])
    }))

  it.scoped("sends each connection's requests served and phase as they change, once a batch", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const lifecycle = lifecycleOf(server)
      const client = yield* server.connect()
      yield* until(() => lifecycle.snapshot().servers[0]!.connections.length === 1, "the connection")
      const viewer = yield* view(lifecycle, 1000, 100)
      const id = viewer.snapshot.servers[0]!.connections[0]!.id
      expect(viewer.snapshot.servers[0]!.connections[0]!.served).toBe(0)
      // three keep-alive requests answered at once: no event, one change of the counters
      for (let n = 0; n < 3; n++) {
        yield* client.send(get("/hello.txt"))
        yield* client.response()
      }
      yield* batchesUntil(() => progressOf(viewer.batches, id).length > 0, "the figures")
      expect(progressOf(viewer.batches, id)).toEqual([{ id, phase: "idle", served: 3, bytesSent: 0, rate: 0 }])
      expect(eventsOf(viewer.batches)).toEqual([])
      // nothing changed: nothing sent
      const before = viewer.batches.length
      for (let n = 0; n < 3; n++) yield* batchesUntil(() => true, "a batch")
      expect(viewer.batches.length).toBe(before)
      // one more request, and the end: the counters, then the events
      yield* client.send(get("/hello.txt"))
      yield* client.response()
      yield* batchesUntil(() => progressOf(viewer.batches, id).length === 2, "the new count")
      expect(progressOf(viewer.batches, id)[1]!.served).toBe(4)
      yield* client.peer.end
      yield* batchesUntil(() => eventsOf(viewer.batches).includes("finalized"), "the end")
      expect(entriesOf(viewer.batches).find((e) => e.event === "completed")!.served).toBe(4)
    }))

  it.scoped("beyond FIGURES_PER_BATCH connections, figures are read every few batches", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      // 2,500 connections: read every third batch
      const connections = Array.from({ length: 2500 }, (_, i) => ({
        conn: { id: `c${i}` },
        phase: "idle" as const,
        requests: 0,
        bytesSent: 0,
        begunAt: undefined,
        requestLine: undefined
      }))
      yield* lifecycle.register({
        view: () => ({
          listeners: [],
          fiberSet: 0,
          refusing: 0,
          draining: false,
          connections: [],
          watchdog: { scheduled: 0 }
        }),
        connections,
        draining: () => false,
        monotonicMs: () => 0
      })
      const viewer = yield* view(lifecycle, 1000, 100)
      const batchesWithFigures: Array<number> = []
      for (let n = 1; n <= 7; n++) {
        for (const c of connections) c.requests++
        const before = viewer.batches.length
        yield* TestClock.adjust("100 millis")
        for (let i = 0; i < 5; i++) yield* tick
        if (viewer.batches.length > before) {
          batchesWithFigures.push(n)
          expect(viewer.batches.at(-1)!.progress).toHaveLength(2500)
          expect(viewer.batches.at(-1)!.progress[0]!.served).toBe(n)
        }
      }
      // the first reading finds them all unknown (no snapshot held them), and counts them
      expect(batchesWithFigures).toEqual([1, 4, 7])
      expect(Lifecycle.FIGURES_PER_BATCH).toBe(1000)
    }))

  it.scoped("a viewer that does not read loses entries past its capacity, and is told how many", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const { batches } = yield* lifecycle.subscribe(3)
      for (let n = 1; n <= 10; n++) yield* lifecycle.publish(entry(n))
      yield* lifecycle.end
      const taken = Array.from(yield* Stream.runCollect(batches))
      expect(entriesOf(taken)).toEqual([entry(1), entry(2), entry(3)])
      expect(droppedOf(taken)).toBe(7)
      expect(taken.at(-1)!.dropped).toBe(7)
    }))

  it.scoped("each viewer's buffer is its own: a stalled viewer does not cost another one entries", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const stalled = yield* lifecycle.subscribe(2)
      const reading = yield* view(lifecycle, 2)
      for (let n = 1; n <= 6; n++) {
        yield* lifecycle.publish(entry(n))
        yield* until(() => entriesOf(reading.batches).length === n, "the reading viewer")
      }
      yield* lifecycle.end
      yield* until(() => reading.ended, "the end")
      expect(droppedOf(reading.batches)).toBe(0)
      const late = Array.from(yield* Stream.runCollect(stalled.batches))
      expect(droppedOf(late)).toBe(4)
      expect(late.at(-1)!.dropped).toBe(4)
      expect(lifecycle.viewers()).toBe(2)
    }))

  it.scoped("per-request entries are not published, whoever builds them", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const viewer = yield* view(lifecycle)
      yield* lifecycle.publish({ ...entry(1), event: "request-begun" })
      yield* lifecycle.publish({ ...entry(1), event: "request-ended" })
      yield* lifecycle.publish(entry(2))
      yield* lifecycle.end
      yield* until(() => viewer.ended, "the end")
      expect(entriesOf(viewer.batches)).toEqual([entry(2)])
    }))

  it.scoped("batches what is published within batchMs into one", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const viewer = yield* view(lifecycle, 1000, 100)
      for (let n = 1; n <= 5; n++) yield* lifecycle.publish(entry(n))
      for (let i = 0; i < 20; i++) yield* tick
      expect(viewer.batches).toEqual([])
      yield* TestClock.adjust("100 millis")
      yield* until(() => viewer.batches.length === 1, "the batch")
      expect(entriesOf(viewer.batches)).toHaveLength(5)
      expect(viewer.chunks).toBe(1)
    }))

  it.scoped("ends every stream after what was published before the end", () =>
    Effect.gen(function*() {
      const lifecycle = Lifecycle.make()
      const viewer = yield* view(lifecycle)
      yield* lifecycle.publish(entry(1))
      yield* lifecycle.end
      yield* until(() => viewer.ended, "the end")
      expect(viewer.batches).toEqual([{ events: [entry(1)], progress: [], dropped: 0 }])
      // a viewer arriving after the end gets an empty stream, not a wait
      expect(Array.from(yield* Stream.runCollect((yield* lifecycle.subscribe(10)).batches))).toEqual([])
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
      const viewer = yield* view(lifecycle, 1000, 100)
      const idle = yield* server.connect()
      const busy = yield* server.connect()
      yield* busy.send(get("/"))
      const writing = () => viewer.batches.flatMap((b) => b.progress).find((p) => p.phase === "writing")
      yield* batchesUntil(() => writing() !== undefined, "the request")
      expect(writing()!.request).toBe("GET / HTTP/1.1")
      const shutdown = yield* Effect.fork(server.shutdown)
      yield* batchesUntil(() => eventsOf(viewer.batches, "server").includes("draining"), "the drain")
      yield* TestClock.adjust("2 seconds")
      yield* Effect.fork(Effect.zipRight(shutdown.await, lifecycle.end))
      yield* batchesUntil(() => viewer.ended, "the end of the stream")
      expect(eventsOf(viewer.batches, "server")).toEqual(["listeners-closed", "draining", "drained", "closed"])
      const all = entriesOf(viewer.batches)
      const at = (connection: string, event: string) =>
        all.findIndex((e) => e.connection === connection && e.event === event)
      const busyId = writing()!.id
      const idleId = all.find((e) => e.event === "forked" && e.connection !== busyId)!.connection
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
        Inspector.handler(lifecycle, Inspector.defaults)
      ).pipe(
        Scope.extend(inspectorScope),
        // the inspector's own log (quiet, untraced): its connections are not in what it shows
        Effect.provideService(
          AccessLog.AccessLog,
          AccessLog.make({ format: "text", quiet: true, trace: false }, {
            out: () => {},
            err: () => {}
          })
        ),
        Effect.provide(site.context)
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
      // the next batch: the fork, and the connection's figures
      yield* TestClock.adjust("100 millis")
      yield* readUntil("\"served\":1")
      yield* Effect.fork(Effect.zipRight(site.shutdown, lifecycle.end))
      // the chunked body's last chunk: the stream ended
      const ended = yield* Effect.fork(readUntil("\r\n0\r\n\r\n"))
      yield* batchesUntil(() => ended.unsafePoll() !== null, "the end of the stream")
      expect(sse).toContain("Content-Type: text/event-stream")
      // one SSE event a batch, one JSON text each
      expect(sse).toMatch(/event: batch\ndata: \{"events":\[\{"time":"[^"]+","trace":"forked","connection":"c\d+"/)
      expect(sse).toMatch(/"connections":\[\{"id":"c\d+","phase":"idle","served":1,"bytesSent":0,"rate":0\}\]/)
      expect(sse).not.toContain("request-begun")
      const order = ["event: snapshot", "\"forked\"", "\"served\":1", "\"listeners-closed\"", "\"closed\""].map((
        s
      ) => sse.indexOf(s))
      expect(order.every((i) => i >= 0)).toBe(true)
      expect([...order].sort((a, b) => a - b)).toEqual(order)
      yield* tick
      yield* Scope.close(inspectorScope, Exit.void)
    }))
})
