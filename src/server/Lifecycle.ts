import { Chunk, Clock, Duration, Effect, PubSub, Queue, type Scope, Stream } from "effect"
import type { TraceEntry } from "./AccessLog.ts"

/**
 * The server's lifecycle events, one in-process stream: the `--trace` lines
 * and the inspector's viewers are fed the same entries, at the same call
 * (AccessLog.trace). Entries are published only while a viewer is
 * subscribed, so with none the events cost a counter test.
 */

/** What a connection fiber is doing, as the snapshot sees it. */
export type ConnectionPhase = "reading-head" | "idle" | "writing" | "draining" | "closing"

export interface ConnectionView {
  readonly id: string
  readonly fiber: string
  readonly peer: string
  readonly ageMs: number
  readonly phase: ConnectionPhase
  readonly served: number
  /** Body bytes sent of the response being written (0 otherwise). */
  readonly bytesSent: number
  /** Body bytes a second over the response so far (0 when not writing). */
  readonly rate: number
}

export interface ListenerView {
  readonly address: string
  /** The accept fiber ("#12"), once forked. */
  readonly acceptFiber: string
}

/**
 * The server scope's tree at one moment: listeners and their accept
 * fibers, the FiberSet of connection fibers, the watchdog. (A level for
 * worker processes would sit above `servers`.)
 */
export interface ServerView {
  readonly listeners: ReadonlyArray<ListenerView>
  /** Fibers in the FiberSet: connections served, plus refusals being answered 503. */
  readonly fiberSet: number
  readonly refusing: number
  readonly draining: boolean
  readonly connections: ReadonlyArray<ConnectionView>
  /** Deadlines held by the one watchdog fiber. */
  readonly watchdog: { readonly scheduled: number }
}

export interface Snapshot {
  readonly time: string
  readonly servers: ReadonlyArray<ServerView>
}

/** One item of a viewer's stream. */
export type ViewerItem =
  | { readonly _tag: "Event"; readonly entry: TraceEntry }
  | { readonly _tag: "Dropped"; readonly count: number }

export interface Lifecycle {
  /** Viewers subscribed now; the trace sites build entries only when this or `--trace` says so. */
  readonly viewers: () => number
  /** Hands an entry to the viewers (a no-op without any). */
  readonly publish: (entry: TraceEntry) => Effect.Effect<void>
  /** Adds a server's view to snapshots, for the scope. */
  readonly register: (view: () => ServerView) => Effect.Effect<void, never, Scope.Scope>
  readonly snapshot: () => Snapshot
  /**
   * A viewer's stream of what happens from now on: it holds at most
   * `capacity` entries the viewer has not taken; past that, entries are
   * dropped and the next item says how many. Ends after `end`, once the
   * viewer has taken what was published before it. With `batchMs`, what is
   * published within that long of an entry comes in one chunk with it: a
   * viewer then costs the server a few wake-ups a second, not two per
   * request.
   */
  readonly subscribe: (
    capacity: number,
    batchMs?: number
  ) => Effect.Effect<Stream.Stream<ViewerItem>, never, Scope.Scope>
  /** No more events: every viewer's stream ends after what was published before. */
  readonly end: Effect.Effect<void>
}

/** Marks the end of a viewer's buffer. */
const END = Symbol("end")

export const make = (): Lifecycle => {
  // the end travels through the hub behind the last event, so every viewer gets all before it
  const hub = Effect.runSync(PubSub.unbounded<TraceEntry | typeof END>())
  let ended = false
  let viewers = 0
  const views = new Set<() => ServerView>()

  const subscribe = (capacity: number, batchMs = 0) =>
    Effect.gen(function*() {
      if (ended) return Stream.empty
      yield* Effect.acquireRelease(Effect.sync(() => void viewers++), () => Effect.sync(() => void viewers--))
      const subscription = yield* PubSub.subscribe(hub)
      // The viewer's own buffer, filled by a pump that takes from the subscription as fast as it is
      // published to: a viewer that does not read loses entries here, it never holds the hub's.
      // (a batch is one item, so that it reaches the viewer as one chunk)
      const buffer = yield* Queue.unbounded<ReadonlyArray<TraceEntry> | typeof END>()
      let held = 0
      let dropped = 0
      const takeBatch = batchMs > 0
        ? Effect.flatMap(Queue.takeBetween(subscription, 1, Infinity), (first) =>
          Effect.zipWith(
            Clock.sleep(Duration.millis(batchMs)),
            Queue.takeAll(subscription),
            (_, rest) => Chunk.appendAll(first, rest)
          ))
        : Queue.takeBetween(subscription, 1, Infinity)
      const pump = Effect.iterate(true, {
        while: (more) => more,
        body: () =>
          Effect.map(takeBatch, (entries) => {
            const batch: Array<TraceEntry> = []
            let more = true
            for (const entry of entries) {
              if (entry === END) {
                more = false
                break
              }
              if (held >= capacity) dropped++
              else {
                held++
                batch.push(entry)
              }
            }
            if (batch.length > 0) buffer.unsafeOffer(batch)
            if (!more) buffer.unsafeOffer(END)
            return more
          })
      })
      yield* Effect.forkScoped(pump)
      return Stream.fromQueue(buffer).pipe(
        Stream.mapChunks((chunk) => {
          const items: Array<ViewerItem | typeof END> = []
          // what was dropped came after what the buffer held: said after it, before the end
          const reportDropped = () => {
            if (dropped > 0) items.push({ _tag: "Dropped", count: dropped })
            dropped = 0
          }
          for (const batch of chunk) {
            if (batch === END) {
              reportDropped()
              items.push(END)
            } else {
              held -= batch.length
              for (const entry of batch) items.push({ _tag: "Event", entry })
            }
          }
          reportDropped()
          return Chunk.unsafeFromArray(items)
        }),
        Stream.takeWhile((item): item is ViewerItem => item !== END)
      )
    })

  return {
    viewers: () => viewers,
    // offered in place: one plain step on the request path rather than the PubSub's own effect
    publish: (entry) => (viewers > 0 ? Effect.sync(() => void hub.unsafeOffer(entry)) : Effect.void),
    register: (view) =>
      Effect.acquireRelease(Effect.sync(() => void views.add(view)), () => Effect.sync(() => void views.delete(view))),
    snapshot: () => ({ time: new Date().toISOString(), servers: [...views].map((view) => view()) }),
    subscribe,
    end: Effect.suspend(() => {
      if (ended) return Effect.void
      ended = true
      return Effect.asVoid(PubSub.publish(hub, END))
    })
  }
}
