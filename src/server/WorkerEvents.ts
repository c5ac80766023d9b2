import { Clock, type Context, Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Scope, Stream } from "effect"
import type { EventRecord, FromWorker, WorkerHandle, WorkerProcesses } from "../net/WorkerProcesses.ts"
import { type TraceEntry, type TraceEvent, traceRecord } from "./AccessLog.ts"
import type { ConnectionProgress, Lifecycle, PrimaryView, ServerView, WorkerView } from "./Lifecycle.ts"

/**
 * The inspector across `server --workers`: each worker forwards its
 * lifecycle events to the primary over the workers' channel (only while a
 * viewer watches the primary), and answers the primary's snapshot requests
 * with its own servers; the primary publishes the events into its own
 * Lifecycle, beside its own (workers forked, exited, restarted), and puts
 * the worker level into its snapshots. A worker never waits on the channel:
 * what the channel cannot take is dropped and counted.
 */

/** Events a worker holds for the channel before it drops (Lifecycle.subscribe's capacity). */
export const WORKER_CAPACITY = 10_000
/** A worker sends what happened within this long in one message (a viewer of the primary gets batches as often). */
export const WORKER_BATCH_MS = 100
/** How long the primary waits for a worker's part of a snapshot. */
export const SNAPSHOT_TIMEOUT = Duration.millis(500)
/** How long a stopping worker waits for its last events to leave. */
export const FLUSH_TIMEOUT = Duration.seconds(1)

/** A worker's server view with its prefix on every connection id, as the primary shows it. */
const prefixed = (prefix: string, view: ServerView): ServerView => ({
  ...view,
  connections: view.connections.map((c) => ({ ...c, id: prefix + c.id }))
})

/**
 * In a worker: forwards `lifecycle` to the primary for the scope. Added
 * before the worker's server, it is finalized after it: it ends the
 * lifecycle then, so the primary gets the whole shutdown, and waits (up to
 * FLUSH_TIMEOUT) for the channel to write it before the process exits.
 */
export const forward = (
  lifecycle: Lifecycle,
  processes: Context.Tag.Service<typeof WorkerProcesses>,
  prefix: string
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    /** While the primary watches: the subscription's scope and the fiber that sends it. */
    let watching: { readonly scope: Scope.CloseableScope; readonly sender: Fiber.RuntimeFiber<void> } | undefined
    /** Events lost since the last message that got through: said in the next one. */
    let dropped = 0

    const send = (events: ReadonlyArray<EventRecord>, progress: ReadonlyArray<ConnectionProgress>) =>
      Effect.map(processes.sendToPrimary({ _tag: "Events", events, progress, dropped }), (sent) => {
        // figures lost are sent anew when they next change; events lost are counted
        if (sent) dropped = 0
        else dropped += events.length
      })

    const watch = Effect.gen(function*() {
      if (watching !== undefined) return
      // a scope of its own, closed by the finalizer below: a child of the worker's scope made now
      // would be closed before the server's shutdown, whose events it must carry
      const inner = yield* Scope.make()
      const { batches } = yield* Scope.extend(lifecycle.subscribe(WORKER_CAPACITY, WORKER_BATCH_MS), inner)
      const sender = yield* Stream.runForEach(batches, (batch) => {
        dropped += batch.dropped
        const events = batch.events.map((entry) => traceRecord(entry, prefix))
        const progress = batch.progress.map((figures) => ({ ...figures, id: prefix + figures.id }))
        return events.length > 0 || progress.length > 0 || dropped > 0 ? send(events, progress) : Effect.void
      }).pipe(Effect.forkIn(inner))
      watching = { scope: inner, sender }
    })

    const unwatch = Effect.suspend(() => {
      const current = watching
      watching = undefined
      return current === undefined ? Effect.void : Scope.close(current.scope, Exit.void)
    })

    const answer = (request: number) =>
      processes.sendToPrimary({
        _tag: "Snapshot",
        request,
        servers: lifecycle.snapshot().servers.map((view) => prefixed(prefix, view))
      })

    // one fiber takes the primary's messages in order: a snapshot asked for after a watch is taken
    // once the subscription is in place, so what happens after it is in the events
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(processes.fromPrimary, (message) => {
      switch (message._tag) {
        case "Watch":
          return message.on ? watch : unwatch
        case "SnapshotRequest":
          return answer(message.request)
      }
    })))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* lifecycle.end
        const current = watching
        if (current === undefined) return
        // the sender ends once it has sent what was published before the end
        yield* Effect.interruptible(Fiber.await(current.sender)).pipe(Effect.timeout(FLUSH_TIMEOUT), Effect.ignore)
        yield* Effect.interruptible(processes.sent).pipe(Effect.timeout(FLUSH_TIMEOUT), Effect.ignore)
        yield* unwatch
      })
    )
  })

/** A forwarded record as the primary's lifecycle carries it (its connection keeps the worker's prefix). */
const entryOf = (record: EventRecord): TraceEntry => ({
  time: new Date(record.time),
  event: record.trace as TraceEvent,
  connection: record.connection,
  fiber: record.fiber,
  parent: record.parent,
  ...(record.detail === undefined ? {} : { detail: record.detail }),
  ...(record.served === undefined ? {} : { served: record.served })
})

interface Slot {
  readonly worker: WorkerHandle
  readonly slot: number
  readonly fiber: string
  readonly forkedAt: number
  state: WorkerView["state"]
  readonly reader: Fiber.RuntimeFiber<never>
}

/** The primary's side: its workers as the inspector sees them. */
export interface WorkerTree {
  /** A worker was forked into `slot` by the fiber `fiber`: its messages are read from now on. */
  readonly forked: (worker: WorkerHandle, slot: number, fiber: string) => Effect.Effect<void>
  readonly listening: (worker: WorkerHandle) => Effect.Effect<void>
  readonly stopping: (worker: WorkerHandle) => Effect.Effect<void>
  /**
   * The worker has exited: whatever it sent is published (its last events
   * come before its exit), and it leaves the tree.
   */
  readonly exited: (worker: WorkerHandle) => Effect.Effect<void>
  /** The primary is stopping every worker. */
  readonly stopAll: Effect.Effect<void>
}

/**
 * In a primary: the worker level of `lifecycle`, for the scope. `fiber` is
 * the primary's own fiber, as its trace lines name it.
 */
export const makeTree = (lifecycle: Lifecycle, fiber: string): Effect.Effect<WorkerTree, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const slots = new Map<number, Slot>()
    /** Snapshot requests waiting for their worker's answer. */
    const pending = new Map<number, Deferred.Deferred<ReadonlyArray<unknown>>>()
    let nextRequest = 1
    let viewers = 0
    let stopping = false
    const monotonicMs = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos / 1_000_000n))

    const handle = (worker: WorkerHandle) => (message: FromWorker) =>
      Effect.suspend(() => {
        if (message._tag === "Snapshot") {
          const waiting = pending.get(message.request)
          return waiting === undefined ? Effect.void : Deferred.succeed(waiting, message.servers)
        }
        return Effect.forEach(message.events, (record) => lifecycle.publish(entryOf(record)), { discard: true }).pipe(
          Effect.zipRight(lifecycle.publishProgress(message.progress as ReadonlyArray<ConnectionProgress>)),
          Effect.zipRight(message.dropped > 0 ? publishDropped(worker, message.dropped) : Effect.void)
        )
      })

    /** What a worker could not send reaches viewers as an event of its own, with the count. */
    const publishDropped = (worker: WorkerHandle, count: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        lifecycle.publish({
          time: new Date(now),
          event: "events-dropped",
          connection: `w${worker.id}`,
          fiber: "",
          parent: `primary${fiber}`,
          detail: `${count} event(s) the worker could not send`
        }))

    // a message taken is handled before an interruption can stop the reader: none is lost
    const takeOne = (worker: WorkerHandle) =>
      Effect.uninterruptibleMask((restore) => Effect.flatMap(restore(Queue.take(worker.inbox)), handle(worker)))

    const source = {
      viewersChanged: (count: number) => {
        const on = count > 0
        const was = viewers > 0
        viewers = count
        if (on === was) return
        for (const slot of slots.values()) Effect.runSync(slot.worker.send({ _tag: "Watch", on }))
      },
      snapshot: Effect.gen(function*() {
        const now = yield* monotonicMs
        const workers = yield* Effect.forEach([...slots.values()], (slot) =>
          Effect.gen(function*() {
            const request = nextRequest++
            const answer = yield* Deferred.make<ReadonlyArray<unknown>>()
            pending.set(request, answer)
            yield* slot.worker.send({ _tag: "SnapshotRequest", request })
            const servers = yield* Deferred.await(answer).pipe(
              Effect.timeout(SNAPSHOT_TIMEOUT),
              Effect.option,
              Effect.ensuring(Effect.sync(() => pending.delete(request)))
            )
            return {
              id: `w${slot.worker.id}`,
              pid: slot.worker.pid,
              slot: slot.slot,
              fiber: slot.fiber,
              state: slot.state,
              ageMs: now - slot.forkedAt,
              servers: Option.getOrElse(servers, () => []) as ReadonlyArray<ServerView>,
              answered: Option.isSome(servers)
            } satisfies WorkerView
          }), { concurrency: "unbounded" })
        return { pid: process.pid, fiber, stopping, workers } satisfies PrimaryView
      })
    }
    yield* lifecycle.attachWorkers(source)

    const withSlot = (worker: WorkerHandle, f: (slot: Slot) => void) =>
      Effect.sync(() => {
        const slot = slots.get(worker.id)
        if (slot !== undefined) f(slot)
      })

    return {
      forked: (worker, slot, slotFiber) =>
        Effect.gen(function*() {
          const reader = yield* Effect.forkIn(Effect.forever(takeOne(worker)), scope)
          slots.set(worker.id, {
            worker,
            slot,
            fiber: slotFiber,
            forkedAt: yield* monotonicMs,
            state: "starting",
            reader
          })
          if (viewers > 0) yield* worker.send({ _tag: "Watch", on: true })
        }),
      listening: (worker) => withSlot(worker, (slot) => void (slot.state = "listening")),
      stopping: (worker) => withSlot(worker, (slot) => void (slot.state = "stopping")),
      exited: (worker) =>
        Effect.gen(function*() {
          const slot = slots.get(worker.id)
          if (slot === undefined) return
          slots.delete(worker.id)
          yield* Fiber.interrupt(slot.reader)
          yield* Effect.forEach(yield* Queue.takeAll(worker.inbox), handle(worker), { discard: true })
        }),
      stopAll: Effect.sync(() => void (stopping = true))
    }
  })
