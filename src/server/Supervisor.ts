import { Clock, Data, Deferred, Duration, Effect, Fiber, FiberId, Option } from "effect"
import {
  describeExit,
  type WorkerAddress,
  type WorkerExit,
  type WorkerHandle,
  WorkerProcesses
} from "../net/WorkerProcesses.ts"
import { AccessLog, type TraceEvent } from "./AccessLog.ts"
import * as WorkerEvents from "./WorkerEvents.ts"

export interface SupervisorConfig {
  /** Worker processes kept running. */
  readonly workers: number
  /** Restarts allowed within RESTART_WINDOW_MS; one more ends the server. */
  readonly maxRestarts: number
  /** How long a worker asked to stop may take (its own grace included) before it is killed. */
  readonly stopTimeout: Duration.DurationInput
}

/** A worker ended before it listened, while the server was starting: the server does not start. */
export class WorkerStartFailed extends Data.TaggedError("WorkerStartFailed")<{
  readonly worker: number
  readonly exit: WorkerExit
}> {}

/** Workers died more often than `maxRestarts` within a minute: the server stops. */
export class RestartLimitReached extends Data.TaggedError("RestartLimitReached")<{
  readonly restarts: number
  readonly worker: number
  readonly exit: WorkerExit
}> {
  override get message(): string {
    return `workers died ${this.restarts + 1} times within a minute (the last, w${this.worker}, ${
      describeExit(this.exit)
    }); giving up`
  }
}

/** The window of the restart limit. */
export const RESTART_WINDOW_MS = 60_000
/** The first restart of a worker waits this long, each further one within the window twice as long as the last. */
export const RESTART_BACKOFF_MS = 100
export const RESTART_BACKOFF_MAX_MS = 5_000

const fiberName = (id: FiberId.FiberId): string => (id._tag === "Runtime" ? `#${id.id}` : FiberId.threadName(id))

/**
 * Keeps `config.workers` worker processes serving until interrupted.
 *
 * Start-up: the first worker is forked alone, so that a problem every worker
 * would meet (a port in use) is reported once, by it; once it listens, the
 * others are forked together. A worker that ends before it listens at
 * start-up fails the whole with WorkerStartFailed. When every worker
 * listens, `onListening` runs once with the first one's addresses.
 *
 * Each worker slot is a fiber; its worker process is a resource of that
 * fiber's scope, released by asking the worker to stop and waiting for it
 * to exit (killing it after `stopTimeout`). A worker that exits on its own
 * is logged and replaced after a back-off (RESTART_BACKOFF_MS doubling per
 * restart of that slot within the window, up to RESTART_BACKOFF_MAX_MS);
 * more than `maxRestarts` restarts within RESTART_WINDOW_MS fail the whole
 * with RestartLimitReached.
 *
 * Interrupted (Ctrl-C on the primary): every slot is interrupted at once, so
 * none forks again (a back-off ends there), and each stops its worker; the
 * interruption completes once every worker has exited.
 */
export const supervise = (
  config: SupervisorConfig,
  onListening: (addresses: ReadonlyArray<WorkerAddress>) => Effect.Effect<void>
): Effect.Effect<never, WorkerStartFailed | RestartLimitReached, WorkerProcesses | AccessLog> =>
  Effect.scoped(Effect.gen(function*() {
    const processes = yield* WorkerProcesses
    const log = yield* AccessLog
    const primaryFiber = fiberName(yield* Effect.fiberId)
    const primary = `primary${primaryFiber}`
    const stopTimeout = Duration.decode(config.stopTimeout)
    /** The worker level of the inspector's tree (nothing is sent to workers while no one watches). */
    const tree = yield* WorkerEvents.makeTree(log.lifecycle, primaryFiber)

    /** Monotonic times (ms) of the restarts within the window, across slots. */
    const restarts: Array<number> = []
    /** Done once the first worker listens, so the others may start. */
    const first = yield* Deferred.make<void>()
    let firstAddresses: ReadonlyArray<WorkerAddress> = []
    let listeningSlots = 0

    const traceAs = (event: TraceEvent, connection: string, parent: string, detail: string) =>
      log.tracing
        ? Effect.flatMap(Effect.fiberId, (id) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            log.trace({
              time: new Date(now),
              event,
              connection,
              fiber: fiberName(id),
              parent,
              detail
            })))
        : Effect.void
    const trace = (event: TraceEvent, worker: WorkerHandle, detail: string) =>
      traceAs(event, `w${worker.id}`, primary, detail)

    /** Asks `worker` to stop and waits for its exit; kills it if it takes longer than `stopTimeout`. */
    const stopWorker = (worker: WorkerHandle) =>
      Effect.gen(function*() {
        yield* tree.stopping(worker)
        yield* trace("worker-stopping", worker, `pid ${worker.pid}: asked to shut down`)
        yield* worker.stop
        // a release runs uninterruptibly: the wait must be interruptible for its timeout to fire
        const exited = yield* Effect.interruptible(worker.exited).pipe(Effect.timeout(stopTimeout), Effect.option)
        if (Option.isNone(exited)) {
          yield* log.error(
            `worker w${worker.id} (pid ${worker.pid}) did not exit within ${
              Duration.format(stopTimeout)
            } of being asked to; killing it`
          )
          yield* worker.kill
        }
        const exit = Option.isSome(exited) ? exited.value : yield* worker.exited
        yield* tree.exited(worker)
        yield* trace("worker-exited", worker, `pid ${worker.pid} ${describeExit(exit)}`)
      })

    /** One worker's life in `slot`: forked, listening, exited (or stopped when the slot is interrupted). */
    const runWorker = (slot: number, starting: boolean) =>
      Effect.scoped(Effect.gen(function*() {
        /** Whether the worker is known to have exited: then there is nothing to stop. */
        let gone = false
        const worker = yield* Effect.acquireRelease(processes.fork, (worker) => gone ? Effect.void : stopWorker(worker))
        yield* tree.forked(worker, slot + 1, fiberName(yield* Effect.fiberId))
        yield* trace("worker-forked", worker, `pid ${worker.pid}, slot ${slot + 1} of ${config.workers}`)
        const listening = yield* Effect.either(worker.listening)
        gone = listening._tag === "Left"
        if (listening._tag === "Right") {
          yield* tree.listening(worker)
          yield* trace("worker-listening", worker, listening.right.map((a) => `${a.host}:${a.port}`).join(", "))
          if (starting) {
            if (slot === 0) {
              firstAddresses = listening.right
              yield* Deferred.succeed(first, undefined)
            }
            if (++listeningSlots === config.workers) yield* onListening(firstAddresses)
          }
        } else if (starting) {
          yield* tree.exited(worker)
          return yield* new WorkerStartFailed({ worker: worker.id, exit: listening.left })
        }
        const exit = yield* worker.exited
        gone = true
        yield* tree.exited(worker)
        yield* trace("worker-exited", worker, `pid ${worker.pid} ${describeExit(exit)}, not asked to`)
        return { worker, exit }
      }))

    const supervised = (slot: number) =>
      Effect.gen(function*() {
        if (slot > 0) yield* Deferred.await(first)
        let starting = true
        /** Monotonic times (ms) of this slot's restarts within the window. */
        const slotRestarts: Array<number> = []
        while (true) {
          const { exit, worker } = yield* runWorker(slot, starting)
          starting = false
          const now = yield* Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos / 1_000_000n))
          const inWindow = (at: number) => now - at < RESTART_WINDOW_MS
          restarts.splice(0, restarts.length, ...restarts.filter(inWindow))
          slotRestarts.splice(0, slotRestarts.length, ...slotRestarts.filter(inWindow))
          if (restarts.length >= config.maxRestarts) {
            return yield* new RestartLimitReached({ restarts: restarts.length, worker: worker.id, exit })
          }
          const backoff = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** slotRestarts.length)
          restarts.push(now)
          slotRestarts.push(now)
          yield* log.error(
            `worker w${worker.id} (pid ${worker.pid}) ${describeExit(exit)}; starting another in ${backoff} ms`
          )
          yield* trace(
            "worker-restarting",
            worker,
            `${describeExit(exit)}; another starts in slot ${slot + 1} in ${backoff} ms`
          )
          yield* Effect.sleep(Duration.millis(backoff))
        }
      })

    const slots = yield* Effect.fork(Effect.forEach(
      Array.from({ length: config.workers }, (_, slot) => slot),
      supervised,
      { concurrency: "unbounded", discard: true }
    ))
    // interrupted: the whole shutdown, bracketed by the primary's own steps
    return yield* Fiber.join(slots).pipe(
      Effect.zipRight(Effect.never),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          yield* tree.stopAll
          yield* traceAs("workers-stopping", "primary", "main", `asking ${config.workers} worker(s) to shut down`)
          yield* Fiber.interrupt(slots)
          yield* traceAs("workers-stopped", "primary", "main", "every worker exited")
        })
      )
    )
  }))
