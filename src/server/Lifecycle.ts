import { Chunk, Clock, Duration, Effect, PubSub, Queue, type Scope, Stream } from "effect"
import type { TraceEntry } from "./AccessLog.ts"

/**
 * The server's lifecycle events, one in-process stream: the `--trace` lines
 * and the inspector's viewers are fed the same entries, at the same call
 * (AccessLog.trace). Entries are published only while a viewer is
 * subscribed, so with none the events cost a counter test. Requests are not
 * events to a viewer: a keep-alive request must stay one synchronous step,
 * so a viewer reads each connection's counters and phase in place, once a
 * batch, and is sent those that changed.
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

/** A worker process of `server --workers`, as its primary's snapshot sees it. */
export interface WorkerView {
  /** "w2": the prefix of its connections' ids ("w2:c3"). */
  readonly id: string
  readonly pid: number
  /** Its slot (1 to --workers): a replacement takes the slot of the worker it replaces. */
  readonly slot: number
  /** The primary's fiber that supervises the slot. */
  readonly fiber: string
  readonly state: "starting" | "listening" | "stopping"
  readonly ageMs: number
  /** Its server scopes (connection ids with its prefix); empty if it did not answer in time. */
  readonly servers: ReadonlyArray<ServerView>
  readonly answered: boolean
}

/** The primary process of `server --workers`: it serves nothing, it keeps its workers. */
export interface PrimaryView {
  readonly pid: number
  readonly fiber: string
  readonly stopping: boolean
  readonly workers: ReadonlyArray<WorkerView>
}

export interface Snapshot {
  readonly time: string
  /** This process's server scopes (none in a primary). */
  readonly servers: ReadonlyArray<ServerView>
  /** In a primary: the worker level, each worker with its own servers. */
  readonly primary?: PrimaryView
}

/**
 * The workers' part of a primary's snapshot, and who to tell when viewers
 * come and go (the workers send events only while someone watches).
 */
export interface WorkerSource {
  readonly snapshot: Effect.Effect<PrimaryView>
  readonly viewersChanged: (viewers: number) => void
}

/**
 * What a connection's fiber keeps changing as it serves, read in place from
 * its state (structurally HttpConnection's ConnectionState; nothing is
 * copied or published per request).
 */
export interface ServedConnection {
  readonly conn: { readonly id: string }
  readonly phase: "idle" | "head" | "responding" | "closing"
  readonly requests: number
  readonly bytesSent: number
  readonly begunAt: { readonly monotonic: number } | undefined
  readonly requestLine: string | undefined
}

/** A server as the lifecycle reads it: its tree for snapshots, its connections for each batch's progress. */
export interface ServerSource {
  readonly view: () => ServerView
  readonly connections: Iterable<ServedConnection>
  readonly draining: () => boolean
  /** The monotonic clock the connections' `begunAt` is on, in milliseconds. */
  readonly monotonicMs: () => number
}

/** The phase a viewer is shown for a connection's own. */
export const phaseOf = (phase: ServedConnection["phase"], draining: boolean): ConnectionPhase =>
  phase === "responding" ? (draining ? "draining" : "writing") : phase === "head" ? "reading-head" : phase

/** Body bytes a second of the response being written (0 when none is). */
export const rateOf = (connection: ServedConnection, now: number): number => {
  const begun = connection.begunAt
  return connection.phase === "responding" && begun !== undefined && now > begun.monotonic
    ? Math.round(connection.bytesSent / ((now - begun.monotonic) / 1000))
    : 0
}

/**
 * A connection's figures that changed since the viewer was last sent them:
 * requests are not events to a viewer, they show as these counters, at most
 * once a batch.
 */
export interface ConnectionProgress {
  readonly id: string
  readonly phase: ConnectionPhase
  readonly served: number
  readonly bytesSent: number
  readonly rate: number
  /** The request line, while writing or draining. */
  readonly request?: string
}

/**
 * What a viewer is sent at once: the lifecycle events published since its
 * last batch (forks, ends with their reasons, the server's steps), the
 * connections whose figures changed, and how many events it lost because
 * its buffer was full.
 */
export interface ViewerBatch {
  readonly events: ReadonlyArray<TraceEntry>
  readonly progress: ReadonlyArray<ConnectionProgress>
  readonly dropped: number
}

/** A viewer's start: the tree when it subscribed, and what happens from then on. */
export interface Subscription {
  readonly snapshot: Snapshot
  readonly batches: Stream.Stream<ViewerBatch>
}

/**
 * Per-request events: `--trace` writes them, a viewer gets the connection's
 * counters instead (see ConnectionProgress).
 */
const perRequest = (event: TraceEntry["event"]): boolean => event === "request-begun" || event === "request-ended"

export interface Lifecycle {
  /** Viewers subscribed now; the trace sites build entries only when this or `--trace` says so. */
  readonly viewers: () => number
  /** Hands an entry to the viewers (a no-op without any, and for per-request events). */
  readonly publish: (entry: TraceEntry) => Effect.Effect<void>
  /**
   * Hands figures of connections in another process (a primary's workers)
   * to the viewers: each gets them with its next figures.
   */
  readonly publishProgress: (progress: ReadonlyArray<ConnectionProgress>) => Effect.Effect<void>
  /** Adds a server to snapshots and progress, for the scope. */
  readonly register: (source: ServerSource) => Effect.Effect<void, never, Scope.Scope>
  readonly snapshot: () => Snapshot
  /** In a primary: adds the worker level to snapshots, for the scope. */
  readonly attachWorkers: (source: WorkerSource) => Effect.Effect<void, never, Scope.Scope>
  /** `base` with the worker level added, each worker asked for its part (in a primary; else `base`). */
  readonly withWorkers: (base: Snapshot) => Effect.Effect<Snapshot>
  /**
   * A viewer: the snapshot as it subscribes, then batches. Each batch
   * brings the events published since the last one and the figures of the
   * connections that changed since the viewer was last sent them. The
   * viewer holds at most `capacity` events it has not taken; past that,
   * events are dropped and the next batch says how many (figures are not
   * held: they are read anew once the viewer has taken the last batch).
   * With `batchMs`, a batch is made every that long (a viewer costs the
   * server ten wake-ups a second, however busy it is); without, one per
   * burst of events. The stream ends after `end`, once the viewer has taken
   * what was published before it.
   */
  readonly subscribe: (capacity: number, batchMs?: number) => Effect.Effect<Subscription, never, Scope.Scope>
  /** No more events: every viewer's stream ends after what was published before. */
  readonly end: Effect.Effect<void>
}

/** Figures another process's lifecycle sent (a worker's, in its primary), handed on to the viewers. */
class RemoteProgress {
  constructor(readonly progress: ReadonlyArray<ConnectionProgress>) {}
}

/** Marks the end of a viewer's buffer. */
const END = Symbol("end")

/**
 * Connections whose figures a batch reads at most: beyond this many, they
 * are read every few batches (one more per this many connections), so that
 * a viewer of 10,000 idle connections costs what one of 1,000 does.
 */
export const FIGURES_PER_BATCH = 1000

/** What a viewer was last sent of a connection. */
interface Sent {
  phase: ConnectionPhase
  served: number
  bytesSent: number
  /** The batch that last saw the connection alive. */
  seen: number
}

export const make = (): Lifecycle => {
  // the end travels through the hub behind the last event, so every viewer gets all before it
  const hub = Effect.runSync(PubSub.unbounded<TraceEntry | RemoteProgress | typeof END>())
  let ended = false
  let viewers = 0
  const sources = new Set<ServerSource>()
  const workerSources = new Set<WorkerSource>()
  const viewersChanged = (by: number) => {
    viewers += by
    for (const source of workerSources) source.viewersChanged(viewers)
  }
  const snapshot = (): Snapshot => ({
    time: new Date().toISOString(),
    servers: Array.from(sources, (source) => source.view())
  })

  /** Connections the last reading of figures visited. */
  let lastVisited = 0
  /** The figures that changed since `sent`, which is brought up to date. */
  const progressSince = (sent: Map<string, Sent>, batch: number): Array<ConnectionProgress> => {
    const changed: Array<ConnectionProgress> = []
    let visited = 0
    for (const source of sources) {
      const draining = source.draining()
      let now = -1
      for (const connection of source.connections) {
        visited++
        const id = connection.conn.id
        const phase = phaseOf(connection.phase, draining)
        const known = sent.get(id)
        if (known === undefined) {
          sent.set(id, { phase, served: connection.requests, bytesSent: connection.bytesSent, seen: batch })
        } else {
          known.seen = batch
          if (
            known.phase === phase && known.served === connection.requests && known.bytesSent === connection.bytesSent
          ) continue
          known.phase = phase
          known.served = connection.requests
          known.bytesSent = connection.bytesSent
        }
        if (now < 0) now = source.monotonicMs()
        const writing = phase === "writing" || phase === "draining"
        const request = writing ? connection.requestLine : undefined
        changed.push({
          id,
          phase,
          served: connection.requests,
          bytesSent: writing ? connection.bytesSent : 0,
          rate: rateOf(connection, now),
          ...(request === undefined ? {} : { request })
        })
      }
    }
    // connections gone since (their end came as events): a second pass only when there are some
    if (sent.size > visited) { for (const [id, known] of sent) if (known.seen !== batch) sent.delete(id) }
    lastVisited = visited
    return changed
  }

  const subscribe = (capacity: number, batchMs = 0) =>
    Effect.gen(function*() {
      if (ended) return { snapshot: snapshot(), batches: Stream.empty }
      yield* Effect.acquireRelease(Effect.sync(() => viewersChanged(1)), () => Effect.sync(() => viewersChanged(-1)))
      const subscription = yield* PubSub.subscribe(hub)
      // taken after subscribing: whatever happens from here on comes in the batches
      const first = snapshot()
      const sent = new Map<string, Sent>()
      for (const server of first.servers) {
        for (const c of server.connections) {
          sent.set(c.id, { phase: c.phase, served: c.served, bytesSent: c.bytesSent, seen: 0 })
        }
      }
      // The viewer's own buffer, filled by a pump that takes from the subscription as fast as it is
      // published to: a viewer that does not read loses events here, it never holds the hub's.
      const buffer = yield* Queue.unbounded<ViewerBatch | typeof END>()
      let held = 0
      let dropped = 0
      /** Batches in the buffer: figures are read only when it holds none, so they are never stale or piled up. */
      let waiting = 0
      let batchNumber = 0
      /** Remote figures not yet sent, the latest of each connection (so as bounded as the connections). */
      const remote = new Map<string, ConnectionProgress>()
      /** Batches since figures were last read. */
      let sinceFigures = 0
      const take = batchMs > 0
        ? Effect.zipRight(Clock.sleep(Duration.millis(batchMs)), Queue.takeAll(subscription))
        : Queue.takeBetween(subscription, 1, Infinity)
      const pump = Effect.iterate(true, {
        while: (more) => more,
        body: () =>
          Effect.map(take, (entries) => {
            const events: Array<TraceEntry> = []
            let more = true
            for (const entry of entries) {
              if (entry === END) {
                more = false
                break
              }
              if (entry instanceof RemoteProgress) {
                for (const figures of entry.progress) remote.set(figures.id, figures)
                continue
              }
              if (entry.event === "finalized") remote.delete(entry.connection)
              if (held >= capacity) dropped++
              else {
                held++
                events.push(entry)
              }
            }
            let progress: Array<ConnectionProgress> = []
            if (more && waiting === 0 && ++sinceFigures >= Math.ceil(lastVisited / FIGURES_PER_BATCH)) {
              sinceFigures = 0
              progress = progressSince(sent, ++batchNumber)
            }
            if (more && waiting === 0 && remote.size > 0) {
              for (const figures of remote.values()) progress.push(figures)
              remote.clear()
            }
            if (events.length > 0 || progress.length > 0) {
              waiting++
              buffer.unsafeOffer({ events, progress, dropped: 0 })
            }
            if (!more) buffer.unsafeOffer(END)
            return more
          })
      })
      yield* Effect.forkScoped(pump)
      const batches = Stream.fromQueue(buffer).pipe(
        Stream.mapChunks((chunk) => {
          // the batches the viewer takes at once go out as one
          const events: Array<TraceEntry> = []
          const progress: Array<ConnectionProgress> = []
          let end = false
          for (const batch of chunk) {
            if (batch === END) {
              end = true
              break
            }
            waiting--
            held -= batch.events.length
            for (const event of batch.events) events.push(event)
            for (const figures of batch.progress) progress.push(figures)
          }
          // what was dropped came after what the buffer held: said with it, before the end
          const out: Array<ViewerBatch | typeof END> = []
          if (events.length > 0 || progress.length > 0 || dropped > 0) out.push({ events, progress, dropped })
          dropped = 0
          if (end) out.push(END)
          return Chunk.unsafeFromArray(out)
        }),
        Stream.takeWhile((item): item is ViewerBatch => item !== END)
      )
      return { snapshot: first, batches }
    })

  return {
    viewers: () => viewers,
    // offered in place: one plain step rather than the PubSub's own effect
    publish: (entry) =>
      viewers > 0 && !perRequest(entry.event) ? Effect.sync(() => void hub.unsafeOffer(entry)) : Effect.void,
    publishProgress: (progress) =>
      viewers > 0 && progress.length > 0
        ? Effect.sync(() => void hub.unsafeOffer(new RemoteProgress(progress)))
        : Effect.void,
    register: (source) =>
      Effect.acquireRelease(
        Effect.sync(() => void sources.add(source)),
        () => Effect.sync(() => void sources.delete(source))
      ),
    snapshot,
    attachWorkers: (source) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          workerSources.add(source)
          if (viewers > 0) source.viewersChanged(viewers)
        }),
        () => Effect.sync(() => void workerSources.delete(source))
      ),
    withWorkers: (base) => {
      const source = workerSources.values().next().value
      if (source === undefined) return Effect.succeed(base)
      return Effect.map(source.snapshot, (primary): Snapshot => ({ ...base, primary }))
    },
    subscribe,
    end: Effect.suspend(() => {
      if (ended) return Effect.void
      ended = true
      return Effect.asVoid(PubSub.publish(hub, END))
    })
  }
}
