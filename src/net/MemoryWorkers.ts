import { type Context, Deferred, Effect, FiberId, Layer } from "effect"
import {
  type WorkerAddress,
  type WorkerExit,
  type WorkerHandle,
  WorkerProcesses,
  type WorkerRole
} from "./WorkerProcesses.ts"

/** A scripted worker process: the test decides when it listens and how it ends. */
export interface MemoryWorker extends WorkerHandle {
  /** Says it listens on `addresses`. */
  readonly listen: (addresses?: ReadonlyArray<WorkerAddress>) => void
  /** Ends it: an exit code, or a signal. */
  readonly end: (exit: WorkerExit) => void
  /** Whether the primary asked it to stop, and whether it was killed. */
  readonly stopAsked: () => boolean
  readonly killed: () => boolean
  readonly ended: () => WorkerExit | undefined
}

export interface MemoryWorkersOptions {
  readonly role?: WorkerRole
  readonly availableParallelism?: number
  /**
   * What a new worker does by itself (default: listens on 127.0.0.1:8080 at
   * once). Runs synchronously inside `fork`.
   */
  readonly onFork?: (worker: MemoryWorker) => void
  /** What a worker asked to stop does (default: exits with status 0 at once). */
  readonly onStop?: (worker: MemoryWorker) => void
}

export const defaultAddresses: ReadonlyArray<WorkerAddress> = [{ host: "127.0.0.1", port: 8080 }]

/** Worker processes in memory: every fork is recorded in `forked`, in order. */
export const make = (options: MemoryWorkersOptions = {}) => {
  const forked: Array<MemoryWorker> = []
  const stopRequested = Deferred.unsafeMake<void>(FiberId.none)
  const reported: Array<ReadonlyArray<WorkerAddress>> = []
  let nextId = 1
  let nextPid = 1000
  const fork = Effect.sync((): WorkerHandle => {
    const listening = Deferred.unsafeMake<ReadonlyArray<WorkerAddress>, WorkerExit>(FiberId.none)
    const exited = Deferred.unsafeMake<WorkerExit>(FiberId.none)
    let stopAsked = false
    let killed = false
    let ended: WorkerExit | undefined
    const end = (exit: WorkerExit) => {
      if (ended !== undefined) return
      ended = exit
      Deferred.unsafeDone(listening, Effect.fail(exit))
      Deferred.unsafeDone(exited, Effect.succeed(exit))
    }
    const worker: MemoryWorker = {
      id: nextId++,
      pid: nextPid++,
      listening: Deferred.await(listening),
      exited: Deferred.await(exited),
      stop: Effect.sync(() => {
        if (ended !== undefined) return
        stopAsked = true
        if (options.onStop !== undefined) options.onStop(worker)
        else end({ code: 0, signal: null })
      }),
      kill: Effect.sync(() => {
        if (ended !== undefined) return
        killed = true
        end({ code: null, signal: "SIGKILL" })
      }),
      listen: (addresses = defaultAddresses) => Deferred.unsafeDone(listening, Effect.succeed(addresses)),
      end,
      stopAsked: () => stopAsked,
      killed: () => killed,
      ended: () => ended
    }
    forked.push(worker)
    if (options.onFork !== undefined) options.onFork(worker)
    else worker.listen()
    return worker
  })
  const service: Context.Tag.Service<typeof WorkerProcesses> = {
    role: options.role ?? { _tag: "Primary" },
    availableParallelism: options.availableParallelism ?? 1,
    fork,
    reportListening: (addresses) => Effect.sync(() => void reported.push(addresses)),
    stopRequested: Deferred.await(stopRequested)
  }
  return {
    forked,
    /** What a worker role reported with `reportListening`. */
    reported,
    /** In a worker role: the primary's stop. */
    requestStop: () => Deferred.unsafeDone(stopRequested, Effect.void),
    layer: Layer.succeed(WorkerProcesses, service)
  }
}

/** A primary that is never asked to fork: the single-process server. */
export const layer: Layer.Layer<WorkerProcesses> = Layer.suspend(() => make().layer)
