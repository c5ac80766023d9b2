import { Context, type Effect, type Queue } from "effect"

/** How a worker process ended: its exit code, or the signal that killed it. */
export interface WorkerExit {
  readonly code: number | null
  readonly signal: string | null
}

/** "exited with status 1", "was killed by SIGKILL". */
export const describeExit = (exit: WorkerExit): string =>
  exit.signal !== null ? `was killed by ${exit.signal}` : `exited with status ${exit.code ?? "?"}`

/** An address a worker listens on. */
export interface WorkerAddress {
  readonly host: string
  readonly port: number
}

/**
 * A worker's lifecycle event as `--log-format json` writes it, its
 * connection id already carrying the worker's prefix ("w2:c3").
 */
export interface EventRecord {
  readonly time: string
  readonly trace: string
  readonly connection: string
  readonly fiber: string
  readonly parent: string
  readonly detail?: string
  readonly served?: number
}

/**
 * What a worker sends its primary for the inspector: batches of its
 * lifecycle events and of its connections' changed figures (with how many
 * events it dropped before them), and its part of a snapshot when asked
 * (figures and server views are JSON the server layer defines).
 */
export type FromWorker =
  | {
    readonly _tag: "Events"
    readonly events: ReadonlyArray<EventRecord>
    readonly progress: ReadonlyArray<unknown>
    readonly dropped: number
  }
  | { readonly _tag: "Snapshot"; readonly request: number; readonly servers: ReadonlyArray<unknown> }

/**
 * What a primary sends a worker for the inspector: whether a viewer
 * watches (the worker forwards its events only then), and a request for its
 * part of a snapshot.
 */
export type ToWorker =
  | { readonly _tag: "Watch"; readonly on: boolean }
  | { readonly _tag: "SnapshotRequest"; readonly request: number }

/** One worker process, as its primary sees it. */
export interface WorkerHandle {
  /** Unique for the primary's life (a replacement gets a new one): "w3" in logs. */
  readonly id: number
  readonly pid: number
  /**
   * The addresses the worker listens on, once it says it does; fails with
   * how it ended if it exits first.
   */
  readonly listening: Effect.Effect<ReadonlyArray<WorkerAddress>, WorkerExit>
  /** Completes once the process has exited. */
  readonly exited: Effect.Effect<WorkerExit>
  /** Asks the worker to shut down (its ordinary shutdown); nothing if it has exited. */
  readonly stop: Effect.Effect<void>
  /** Kills it at once (SIGKILL); nothing if it has exited. */
  readonly kill: Effect.Effect<void>
  /** Sends it an inspector message; nothing if it has exited. */
  readonly send: (message: ToWorker) => Effect.Effect<void>
  /**
   * Its inspector messages, in order, INBOX_CAPACITY at most: beyond that
   * the newest are dropped, so a worker never grows its primary's memory.
   * Once `exited` has completed, every message it sent is here.
   */
  readonly inbox: Queue.Dequeue<FromWorker>
}

/** Messages a worker may have handed to its channel and not yet written before it sends no more. */
export const MAX_UNSENT = 64

/** Messages from one worker its primary holds unread before it drops the newest. */
export const INBOX_CAPACITY = 256

/** What this process is: the one the user started, or a worker its primary forked. */
export type WorkerRole =
  | { readonly _tag: "Primary" }
  | { readonly _tag: "Worker"; readonly id: number }

/**
 * Worker processes for `server --workers N`: every worker runs the same
 * command line over the same listening sockets (node:cluster in the Node
 * layer, scripted processes in tests). The primary forks and stops them; a
 * worker says when it listens and learns when it must stop.
 */
export class WorkerProcesses extends Context.Tag("fiberhttp/net/WorkerProcesses")<
  WorkerProcesses,
  {
    readonly role: WorkerRole
    /** What `--workers auto` means here: the parallelism the system offers this process. */
    readonly availableParallelism: number
    /** In the primary: starts one more worker. */
    readonly fork: Effect.Effect<WorkerHandle>
    /** In a worker: tells the primary that it listens on these addresses. */
    readonly reportListening: (addresses: ReadonlyArray<WorkerAddress>) => Effect.Effect<void>
    /**
     * In a worker: completes once it must shut down (its primary asked, or
     * went away, or the process got SIGTERM).
     */
    readonly stopRequested: Effect.Effect<void>
    /**
     * In a worker: hands an inspector message to the channel to the primary
     * without waiting for it. False when it was not sent: the channel holds
     * MAX_UNSENT messages not yet written (the primary is behind), or is closed.
     */
    readonly sendToPrimary: (message: FromWorker) => Effect.Effect<boolean>
    /** In a worker: the primary's next inspector message (waits for one). */
    readonly fromPrimary: Effect.Effect<ToWorker>
    /** In a worker: completes once every message handed to the channel has been written (or it closed). */
    readonly sent: Effect.Effect<void>
  }
>() {}
