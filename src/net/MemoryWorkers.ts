import { type Context, Deferred, Effect, FiberId, Layer, Queue } from "effect"
import {
  type FromWorker,
  INBOX_CAPACITY,
  MAX_UNSENT,
  type ToWorker,
  type WorkerAddress,
  type WorkerExit,
  type WorkerHandle,
  WorkerProcesses,
  type WorkerRole
} from "./WorkerProcesses.ts"

/**
 * The channel between a primary and one worker, in memory: what the worker
 * sends is written at once unless the test holds the channel, then it is
 * unsent until `release` (MAX_UNSENT of it at most, as over IPC).
 */
export interface MemoryChannel {
  readonly hold: () => void
  readonly release: () => void
  /** Messages the worker handed over and the channel has not written. */
  readonly unsent: () => number
}

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
  /** Every inspector message the primary sent it, in order. */
  readonly received: () => ReadonlyArray<ToWorker>
  /**
   * The WorkerProcesses service as this worker's own process sees it (role
   * Worker), wired to the primary's handle: a test runs a worker's program
   * over it.
   */
  readonly inWorker: Context.Tag.Service<typeof WorkerProcesses>
  readonly channel: MemoryChannel
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

/** The worker's end of a channel to `deliver`, and the channel's controls. */
const makeChannel = (deliver: (message: FromWorker) => void, open: () => boolean) => {
  let held = false
  const pending: Array<FromWorker> = []
  const sentWaiters = new Set<() => void>()
  const flush = () => {
    for (const message of pending.splice(0)) deliver(message)
    for (const wake of sentWaiters) wake()
    sentWaiters.clear()
  }
  const channel: MemoryChannel = {
    hold: () => void (held = true),
    release: () => {
      held = false
      flush()
    },
    unsent: () => pending.length
  }
  const send = (message: FromWorker): boolean => {
    if (!open() || pending.length >= MAX_UNSENT) return false
    if (held) pending.push(message)
    else deliver(message)
    return true
  }
  const sent: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (pending.length === 0) return resume(Effect.void)
    const wake = () => resume(Effect.void)
    sentWaiters.add(wake)
    return Effect.sync(() => void sentWaiters.delete(wake))
  })
  return { channel, send, sent }
}

/** Worker processes in memory: every fork is recorded in `forked`, in order. */
export const make = (options: MemoryWorkersOptions = {}) => {
  const forked: Array<MemoryWorker> = []
  const stopRequested = Deferred.unsafeMake<void>(FiberId.none)
  const reported: Array<ReadonlyArray<WorkerAddress>> = []
  let nextId = 1
  let nextPid = 1000
  const fork = Effect.gen(function*() {
    const inbox = yield* Queue.dropping<FromWorker>(INBOX_CAPACITY)
    const toWorker = yield* Queue.unbounded<ToWorker>()
    return yield* Effect.sync((): WorkerHandle => {
      const listening = Deferred.unsafeMake<ReadonlyArray<WorkerAddress>, WorkerExit>(FiberId.none)
      const exited = Deferred.unsafeMake<WorkerExit>(FiberId.none)
      const workerStop = Deferred.unsafeMake<void>(FiberId.none)
      const received: Array<ToWorker> = []
      let stopAsked = false
      let killed = false
      let ended: WorkerExit | undefined
      const end = (exit: WorkerExit) => {
        if (ended !== undefined) return
        ended = exit
        Deferred.unsafeDone(listening, Effect.fail(exit))
        Deferred.unsafeDone(exited, Effect.succeed(exit))
      }
      const id = nextId++
      const { channel, send, sent } = makeChannel((message) => inbox.unsafeOffer(message), () => ended === undefined)
      const worker: MemoryWorker = {
        id,
        pid: nextPid++,
        listening: Deferred.await(listening),
        exited: Deferred.await(exited),
        stop: Effect.sync(() => {
          if (ended !== undefined) return
          stopAsked = true
          Deferred.unsafeDone(workerStop, Effect.void)
          if (options.onStop !== undefined) options.onStop(worker)
          else end({ code: 0, signal: null })
        }),
        kill: Effect.sync(() => {
          if (ended !== undefined) return
          killed = true
          end({ code: null, signal: "SIGKILL" })
        }),
        send: (message) =>
          Effect.sync(() => {
            if (ended !== undefined) return
            received.push(message)
            toWorker.unsafeOffer(message)
          }),
        inbox,
        listen: (addresses = defaultAddresses) => Deferred.unsafeDone(listening, Effect.succeed(addresses)),
        end,
        stopAsked: () => stopAsked,
        killed: () => killed,
        ended: () => ended,
        received: () => received,
        inWorker: {
          role: { _tag: "Worker", id },
          availableParallelism: options.availableParallelism ?? 1,
          fork: Effect.dieMessage("a worker forks no workers"),
          reportListening: (addresses) => Effect.sync(() => worker.listen(addresses)),
          stopRequested: Deferred.await(workerStop),
          sendToPrimary: (message) => Effect.sync(() => send(message)),
          fromPrimary: Queue.take(toWorker),
          sent
        },
        channel
      }
      forked.push(worker)
      if (options.onFork !== undefined) options.onFork(worker)
      else worker.listen()
      return worker
    })
  })
  /** In a worker role: what it sent its primary, and what the primary sends it. */
  const toPrimary: Array<FromWorker> = []
  const fromPrimary = Effect.runSync(Queue.unbounded<ToWorker>())
  const service: Context.Tag.Service<typeof WorkerProcesses> = {
    role: options.role ?? { _tag: "Primary" },
    availableParallelism: options.availableParallelism ?? 1,
    fork,
    reportListening: (addresses) => Effect.sync(() => void reported.push(addresses)),
    stopRequested: Deferred.await(stopRequested),
    sendToPrimary: (message) => Effect.sync(() => (toPrimary.push(message), true)),
    fromPrimary: Queue.take(fromPrimary),
    sent: Effect.void
  }
  return {
    forked,
    /** What a worker role reported with `reportListening`. */
    reported,
    /** In a worker role: the primary's stop. */
    requestStop: () => Deferred.unsafeDone(stopRequested, Effect.void),
    /** In a worker role: the inspector messages it sent. */
    toPrimary,
    /** In a worker role: an inspector message from the primary. */
    sendToWorker: (message: ToWorker) => void fromPrimary.unsafeOffer(message),
    layer: Layer.succeed(WorkerProcesses, service)
  }
}

/** A primary that is never asked to fork: the single-process server. */
export const layer: Layer.Layer<WorkerProcesses> = Layer.suspend(() => make().layer)
