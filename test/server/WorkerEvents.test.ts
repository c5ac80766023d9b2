// The inspector across --workers, over scripted worker processes and TestClock: each fake worker
// runs the real forwarding (WorkerEvents.forward over its own Lifecycle, through the in-memory
// channel), the primary runs the real Supervisor; a viewer of the primary's lifecycle sees both.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Scope, Stream, TestClock } from "effect"
import * as MemoryWorkers from "../../src/net/MemoryWorkers.ts"
import { MAX_UNSENT } from "../../src/net/WorkerProcesses.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as Lifecycle from "../../src/server/Lifecycle.ts"
import * as Supervisor from "../../src/server/Supervisor.ts"
import * as WorkerEvents from "../../src/server/WorkerEvents.ts"
import { tick, until } from "./harness.ts"

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(tick, 20)

/** Moves the TestClock on a batch at a time (worker batches, then the viewer's), `times` times. */
const batches = (times = 3) =>
  Effect.gen(function*() {
    for (let i = 0; i < times; i++) {
      yield* TestClock.adjust("100 millis")
      yield* settle
    }
  })

/** A worker's server tree with one idle connection, c1. */
const serverView = (peer: string): Lifecycle.ServerView => ({
  listeners: [{ address: "127.0.0.1:8080", acceptFiber: "#20" }],
  fiberSet: 1,
  refusing: 0,
  draining: false,
  connections: [{ id: "c1", fiber: "#30", peer, ageMs: 5, phase: "idle", served: 0, bytesSent: 0, rate: 0 }],
  watchdog: { scheduled: 1 }
})

/** One served connection whose figures the test changes. */
const served = () => ({
  conn: { id: "c1" },
  phase: "idle" as Lifecycle.ServedConnection["phase"],
  requests: 0,
  bytesSent: 0,
  begunAt: undefined,
  requestLine: undefined
})

const entry = (event: AccessLog.TraceEvent, connection: string, detail?: string): AccessLog.TraceEntry => ({
  time: new Date(0),
  event,
  connection,
  fiber: "#30",
  parent: "server[127.0.0.1:8080] accept#20",
  ...(detail === undefined ? {} : { detail })
})

/**
 * The primary supervising two scripted workers, each running the forwarding
 * over a lifecycle of its own (with one server holding one connection), and
 * a viewer of the primary's lifecycle.
 */
const start = Effect.gen(function*() {
  const workers = MemoryWorkers.make()
  const log = AccessLog.memory({ format: "text", quiet: true, trace: false })
  const primary = yield* Effect.fork(
    Supervisor.supervise({ workers: 2, maxRestarts: 10, stopTimeout: Duration.seconds(5) }, () => Effect.void).pipe(
      Effect.provide(Layer.merge(workers.layer, log.layer))
    )
  )
  yield* settle
  const lifecycle = (yield* Effect.provide(AccessLog.AccessLog, log.layer)).lifecycle
  /** The worker sides' scope: closed by `finish`, with the clock moving (their last batches wait on it). */
  const workerScope = yield* Scope.make()
  /** Each worker's own lifecycle and connection, by worker id. */
  const inWorker = new Map<number, { lifecycle: Lifecycle.Lifecycle; connection: ReturnType<typeof served> }>()
  /** Starts the worker side of every worker forked and not yet running it. */
  const runWorkers = Effect.gen(function*() {
    for (const worker of workers.forked) {
      if (inWorker.has(worker.id) || worker.ended() !== undefined) continue
      const own = Lifecycle.make()
      const connection = served()
      yield* own.register({
        view: () => serverView(`127.0.0.1:${5000 + worker.id}`),
        connections: [connection],
        draining: () => false,
        monotonicMs: () => 0
      })
      yield* Scope.extend(WorkerEvents.forward(own, worker.inWorker, `w${worker.id}:`), workerScope)
      inWorker.set(worker.id, { lifecycle: own, connection })
    }
    yield* settle
  })
  yield* runWorkers
  const seen: Array<Lifecycle.ViewerBatch> = []
  const { batches: stream } = yield* lifecycle.subscribe(1000, 100)
  yield* Effect.forkScoped(Stream.runForEach(stream, (batch) => Effect.sync(() => void seen.push(batch))))
  yield* settle
  const events = () => seen.flatMap((batch) => batch.events.map((e) => `${e.connection} ${e.event}`))
  const finish = Effect.gen(function*() {
    yield* Fiber.interrupt(primary)
    const closing = yield* Effect.fork(Scope.close(workerScope, Exit.void))
    for (let i = 0; i < 30 && closing.unsafePoll() === null; i++) {
      yield* TestClock.adjust("100 millis")
      yield* settle
    }
    yield* Fiber.join(closing)
  })
  return { workers, lifecycle, primary, inWorker, runWorkers, seen, events, finish }
})

describe("WorkerEvents: the primary's view of its workers", () => {
  it.scoped("a viewer of the primary gets the events of both workers, each connection under its worker", () =>
    Effect.gen(function*() {
      const { events, inWorker, seen, workers, finish } = yield* start
      // the viewer came: each worker was told to forward
      expect(workers.forked.map((w) => w.received())).toEqual([[{ _tag: "Watch", on: true }], [{
        _tag: "Watch",
        on: true
      }]])
      yield* inWorker.get(1)!.lifecycle.publish(entry("forked", "c2", "from 127.0.0.1:6001"))
      yield* inWorker.get(2)!.lifecycle.publish(entry("forked", "c2", "from 127.0.0.1:6002"))
      yield* inWorker.get(2)!.lifecycle.publish(entry("completed", "c2", "peer closed"))
      // a request's figures, not an event: they come as the worker's progress, under its prefix
      inWorker.get(1)!.connection.requests = 3
      yield* batches()
      // the workers' messages interleave as they arrive; each worker's own stay in order
      expect(events().filter((e) => e.startsWith("w1:"))).toEqual(["w1:c2 forked"])
      expect(events().filter((e) => e.startsWith("w2:"))).toEqual(["w2:c2 forked", "w2:c2 completed"])
      const details = seen.flatMap((batch) => batch.events.map((e) => `${e.connection} ${e.detail}`)).sort()
      expect(details).toEqual(["w1:c2 from 127.0.0.1:6001", "w2:c2 from 127.0.0.1:6002", "w2:c2 peer closed"])
      expect(seen.flatMap((batch) => batch.progress).map((p) => [p.id, p.served])).toEqual([["w1:c1", 3]])
      yield* finish
    }))

  it.scoped("a worker that dies shows its exit, the restart with its reason, and its replacement", () =>
    Effect.gen(function*() {
      const { events, runWorkers, workers, finish } = yield* start
      workers.forked[0]!.end({ code: null, signal: "SIGKILL" })
      yield* settle
      yield* batches(2)
      yield* runWorkers
      yield* batches(2)
      expect(events()).toEqual(["w1 worker-exited", "w1 worker-restarting", "w3 worker-forked", "w3 worker-listening"])
      // the replacement is told at once that a viewer watches
      expect(workers.forked[2]!.received()).toEqual([{ _tag: "Watch", on: true }])
      yield* finish
    }))

  it.scoped("a snapshot of the primary has the worker level, each worker with its own tree", () =>
    Effect.gen(function*() {
      const { lifecycle, finish } = yield* start
      const gathering = yield* Effect.fork(lifecycle.withWorkers(lifecycle.snapshot()))
      yield* settle
      const snapshot = yield* Fiber.join(gathering)
      expect(snapshot.servers).toEqual([])
      const workers = snapshot.primary!.workers
      expect(workers.map((w) => [w.id, w.slot, w.state, w.answered])).toEqual([["w1", 1, "listening", true], [
        "w2",
        2,
        "listening",
        true
      ]])
      expect(workers.map((w) => w.servers[0]!.connections.map((c) => [c.id, c.peer]))).toEqual([
        [["w1:c1", "127.0.0.1:5001"]],
        [["w2:c1", "127.0.0.1:5002"]]
      ])
      yield* finish
    }))

  it.scoped("a worker that does not answer in time is listed without its tree", () =>
    Effect.gen(function*() {
      const { lifecycle, workers, finish } = yield* start
      // w2's channel holds what it sends: its answer does not arrive
      workers.forked[1]!.channel.hold()
      const gathering = yield* Effect.fork(lifecycle.withWorkers(lifecycle.snapshot()))
      yield* settle
      yield* TestClock.adjust(WorkerEvents.SNAPSHOT_TIMEOUT)
      const snapshot = yield* Fiber.join(gathering)
      expect(snapshot.primary!.workers.map((w) => [w.id, w.answered, w.servers.length])).toEqual([["w1", true, 1], [
        "w2",
        false,
        0
      ]])
      yield* finish
    }))

  it.scoped("a worker never waits on a full channel: it drops, counts, and the primary says how many", () =>
    Effect.gen(function*() {
      const { events, inWorker, seen, workers, finish } = yield* start
      const channel = workers.forked[0]!.channel
      channel.hold()
      // one event per worker batch, more batches than the channel takes unsent
      const published = MAX_UNSENT + 10
      for (let i = 0; i < published; i++) {
        yield* inWorker.get(1)!.lifecycle.publish(entry("forked", `c${i + 10}`))
        yield* TestClock.adjust(Duration.millis(WorkerEvents.WORKER_BATCH_MS))
        yield* settle
      }
      expect(channel.unsent()).toBe(MAX_UNSENT)
      channel.release()
      // the next message says what was lost
      yield* inWorker.get(1)!.lifecycle.publish(entry("forked", "c999"))
      yield* batches()
      const forked = events().filter((e) => e.endsWith(" forked"))
      expect(forked.length).toBe(MAX_UNSENT + 1)
      const dropped = seen.flatMap((batch) => batch.events).find((e) => e.event === "events-dropped")
      expect(dropped?.connection).toBe("w1")
      expect(dropped?.detail).toBe(`${published - MAX_UNSENT} event(s) the worker could not send`)
      yield* finish
    }))

  it.scoped("when the last viewer leaves, the workers are told to stop forwarding", () =>
    Effect.gen(function*() {
      const workers = MemoryWorkers.make()
      const log = AccessLog.memory({ format: "text", quiet: true, trace: false })
      const primary = yield* Effect.fork(
        Supervisor.supervise({ workers: 2, maxRestarts: 10, stopTimeout: Duration.seconds(5) }, () => Effect.void)
          .pipe(Effect.provide(Layer.merge(workers.layer, log.layer)))
      )
      yield* settle
      const lifecycle = (yield* Effect.provide(AccessLog.AccessLog, log.layer)).lifecycle
      yield* Effect.scoped(Effect.zipRight(lifecycle.subscribe(10, 100), settle))
      yield* until(() => workers.forked[1]!.received().length === 2, "the second Watch")
      expect(workers.forked[0]!.received()).toEqual([{ _tag: "Watch", on: true }, { _tag: "Watch", on: false }])
      yield* Fiber.interrupt(primary)
    }))
})
