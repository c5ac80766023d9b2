import { type Context, Deferred, Effect, type Exit, FiberId, Layer, Queue } from "effect"
import cluster from "node:cluster"
import * as os from "node:os"
import {
  type FromWorker,
  INBOX_CAPACITY,
  MAX_UNSENT,
  type ToWorker,
  type WorkerAddress,
  type WorkerExit,
  type WorkerHandle,
  WorkerProcesses
} from "./WorkerProcesses.ts"

/** The messages between a primary and its workers, over node:cluster's IPC channel. */
type Message =
  | { readonly fiberhttp: "listening"; readonly addresses: ReadonlyArray<WorkerAddress> }
  | { readonly fiberhttp: "stop" }
  | { readonly fiberhttp: "inspector"; readonly message: ToWorker | FromWorker }

const isMessage = (value: unknown): value is Message =>
  typeof value === "object" && value !== null && "fiberhttp" in value

/**
 * How the workers share a listening socket. With SCHED_NONE each worker
 * accepts from the shared socket itself and the kernel picks which; with
 * SCHED_RR (Node's default on Linux) the primary accepts every connection
 * and hands it to the workers in turn over IPC. Chosen by measurement (see
 * the README, "Workers"); NODE_CLUSTER_SCHED_POLICY=rr|none, Node's own
 * setting, still overrides it.
 */
const SCHEDULING = cluster.SCHED_NONE

/** How long an exited worker's channel may take to deliver what it holds. */
const CHANNEL_END_WAIT_MS = 500

/** Whether this process is a worker that a fiberhttp primary forked. */
export const isWorkerProcess = (): boolean => cluster.isWorker

let stopRequested = false
const stopWaiters = new Set<() => void>()
const requestStop = () => {
  if (stopRequested) return
  stopRequested = true
  for (const wake of stopWaiters) wake()
  stopWaiters.clear()
}
/** The primary's inspector messages not yet taken, and the fiber waiting for one. */
const fromPrimary: Array<ToWorker> = []
let fromPrimaryWaiter: ((message: ToWorker) => void) | undefined
const receiveFromPrimary = (message: ToWorker) => {
  const wake = fromPrimaryWaiter
  fromPrimaryWaiter = undefined
  if (wake !== undefined) wake(message)
  else fromPrimary.push(message)
}
const takeFromPrimary: Effect.Effect<ToWorker> = Effect.async<ToWorker>((resume) => {
  const next = fromPrimary.shift()
  if (next !== undefined) return resume(Effect.succeed(next))
  fromPrimaryWaiter = (message) => resume(Effect.succeed(message))
  return Effect.sync(() => void (fromPrimaryWaiter = undefined))
})

/** Inspector messages handed to process.send whose callback has not run yet. */
let unsent = 0
const sentWaiters = new Set<() => void>()
const onSent = () => {
  unsent--
  if (unsent > 0) return
  for (const wake of sentWaiters) wake()
  sentWaiters.clear()
}
/**
 * process.send queues whatever it is given; bounding what is outstanding is
 * what keeps a worker from buffering without limit behind a busy primary.
 */
const sendToPrimary = (message: FromWorker): boolean => {
  if (process.send === undefined || !process.connected || unsent >= MAX_UNSENT) return false
  unsent++
  process.send({ fiberhttp: "inspector", message } satisfies Message, undefined, {}, onSent)
  return true
}
const allSent: Effect.Effect<void> = Effect.async<void>((resume) => {
  if (unsent === 0 || !process.connected) return resume(Effect.void)
  const wake = () => resume(Effect.void)
  sentWaiters.add(wake)
  process.once("disconnect", wake)
  return Effect.sync(() => {
    sentWaiters.delete(wake)
    process.off("disconnect", wake)
  })
})

let listening = false
/**
 * A worker stops when its primary says so, when the primary is gone (the
 * IPC channel closed) or on SIGTERM. The first SIGINT is ignored: a
 * terminal's Ctrl-C reaches the whole process group, and the primary then
 * stops every worker in order; acting on it here as well would race that.
 * A second one is a second Ctrl-C: the worker exits at once, as a single
 * server does.
 */
const listenForStop = () => {
  if (listening) return
  listening = true
  let interrupts = 0
  process.on("SIGINT", () => {
    if (++interrupts >= 2) process.exit(130)
  })
  process.on("SIGTERM", requestStop)
  process.on("disconnect", requestStop)
  process.on("message", (message: unknown) => {
    if (!isMessage(message)) return
    if (message.fiberhttp === "stop") requestStop()
    else if (message.fiberhttp === "inspector") receiveFromPrimary(message.message as ToWorker)
  })
}

const waitForStop: Effect.Effect<void> = Effect.async<void>((resume) => {
  if (stopRequested) return resume(Effect.void)
  const wake = () => resume(Effect.void)
  stopWaiters.add(wake)
  return Effect.sync(() => void stopWaiters.delete(wake))
})

/**
 * Runs a worker's program: it listens for its stop before anything else
 * (a stop sent while it starts is not lost), and exits with `statusOf` its
 * outcome once it ends, since the IPC channel would keep the process alive.
 */
export const runAsWorker = <E>(
  program: Effect.Effect<unknown, E>,
  statusOf: (exit: Exit.Exit<unknown, unknown>) => number
): void => {
  listenForStop()
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  Effect.runFork(program).addObserver((exit) => {
    clearInterval(keepAlive)
    process.exit(statusOf(exit))
  })
}

const forkWorker: Effect.Effect<WorkerHandle> = Effect.flatMap(
  Queue.dropping<FromWorker>(INBOX_CAPACITY),
  (inbox) =>
    Effect.sync(() => {
      if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = SCHEDULING
      const worker = cluster.fork()
      const listening = Deferred.unsafeMake<ReadonlyArray<WorkerAddress>, WorkerExit>(FiberId.none)
      const exited = Deferred.unsafeMake<WorkerExit>(FiberId.none)
      worker.on("message", (message: unknown) => {
        if (!isMessage(message)) return
        if (message.fiberhttp === "listening") Deferred.unsafeDone(listening, Effect.succeed(message.addresses))
        else if (message.fiberhttp === "inspector") inbox.unsafeOffer(message.message as FromWorker)
      })
      // a send to a worker that is going away fails; its exit says the rest
      worker.on("error", () => {})
      // node:cluster passes null for the one that does not apply, whatever its types say
      worker.on("exit", (code: number, signal: string) => {
        const exit: WorkerExit = { code: signal === null ? code : null, signal: signal ?? null }
        Deferred.unsafeDone(listening, Effect.fail(exit))
        // what it sent last may still be in the channel when the exit is seen: the channel's end
        // (every message read) completes `exited`, or a short wait if the end does not come
        const done = () => {
          clearTimeout(timer)
          Deferred.unsafeDone(exited, Effect.succeed(exit))
        }
        const timer = setTimeout(done, CHANNEL_END_WAIT_MS)
        if (worker.isConnected()) worker.once("disconnect", done)
        else done()
      })
      const alive = () => !worker.isDead() && worker.process.exitCode === null && worker.process.signalCode === null
      return {
        id: worker.id,
        pid: worker.process.pid ?? 0,
        listening: Deferred.await(listening),
        exited: Deferred.await(exited),
        stop: Effect.sync(() => {
          if (alive() && worker.isConnected()) worker.send({ fiberhttp: "stop" } satisfies Message)
        }),
        kill: Effect.sync(() => {
          if (alive()) worker.process.kill("SIGKILL")
        }),
        send: (message) =>
          Effect.sync(() => {
            if (alive() && worker.isConnected()) worker.send({ fiberhttp: "inspector", message } satisfies Message)
          }),
        inbox
      }
    })
)

const make = (): Context.Tag.Service<typeof WorkerProcesses> => {
  if (cluster.isWorker) listenForStop()
  return {
    role: cluster.isWorker && cluster.worker !== undefined
      ? { _tag: "Worker", id: cluster.worker.id }
      : { _tag: "Primary" },
    availableParallelism: os.availableParallelism(),
    fork: forkWorker,
    reportListening: (addresses) =>
      Effect.sync(() => {
        if (process.send !== undefined && process.connected) {
          process.send({ fiberhttp: "listening", addresses } satisfies Message)
        }
      }),
    stopRequested: waitForStop,
    sendToPrimary: (message) => Effect.sync(() => sendToPrimary(message)),
    fromPrimary: takeFromPrimary,
    sent: allSent
  }
}

/** node:cluster: the primary forks this same program (same script, arguments and environment) as workers. */
export const layer: Layer.Layer<WorkerProcesses> = Layer.sync(WorkerProcesses, make)
