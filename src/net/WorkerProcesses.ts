import { Context, type Effect } from "effect"

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
}

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
  }
>() {}
