import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import * as MemoryWorkers from "../../src/net/MemoryWorkers.ts"
import type { WorkerAddress } from "../../src/net/WorkerProcesses.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as Supervisor from "../../src/server/Supervisor.ts"

/** The failure an exit carries (beside the interruptions of the other slots). */
const failureOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const config = (overrides: Partial<Supervisor.SupervisorConfig> = {}): Supervisor.SupervisorConfig => ({
  workers: 3,
  maxRestarts: 10,
  stopTimeout: Duration.seconds(7),
  ...overrides
})

/** The supervisor over scripted workers, forked; its log and every `onListening` call kept. */
const start = (
  workerOptions: MemoryWorkers.MemoryWorkersOptions,
  overrides: Partial<Supervisor.SupervisorConfig> = {},
  trace = false
) =>
  Effect.gen(function*() {
    const workers = MemoryWorkers.make(workerOptions)
    const log = AccessLog.memory({ format: "text", quiet: false, trace })
    const announced: Array<ReadonlyArray<WorkerAddress>> = []
    const fiber = yield* Effect.fork(
      Supervisor.supervise(config(overrides), (addresses) => Effect.sync(() => void announced.push(addresses))).pipe(
        Effect.provide(Layer.merge(workers.layer, log.layer))
      )
    )
    yield* settle
    return { workers, log, announced, fiber }
  })

describe("Supervisor: start-up", () => {
  it.effect("forks the first worker alone, the others once it listens; announces once, when all listen", () =>
    Effect.gen(function*() {
      const { announced, workers } = yield* start({ onFork: () => {} })
      expect(workers.forked.length).toBe(1)
      workers.forked[0]!.listen([{ host: "127.0.0.1", port: 4321 }])
      yield* settle
      expect(workers.forked.length).toBe(3)
      expect(announced).toEqual([])
      workers.forked[1]!.listen()
      workers.forked[2]!.listen()
      yield* settle
      expect(announced).toEqual([[{ host: "127.0.0.1", port: 4321 }]])
    }))

  it.effect("a first worker that exits before it listens fails the start with its exit; no other is forked", () =>
    Effect.gen(function*() {
      const { fiber, workers } = yield* start({ onFork: () => {} })
      workers.forked[0]!.end({ code: 1, signal: null })
      const exit = yield* Fiber.await(fiber)
      expect(failureOf(exit)).toEqual(new Supervisor.WorkerStartFailed({ worker: 1, exit: { code: 1, signal: null } }))
      expect(workers.forked.length).toBe(1)
    }))

  it.effect("a later worker that fails at start-up stops the ones already running", () =>
    Effect.gen(function*() {
      const { fiber, workers } = yield* start({
        onFork: (worker) => (worker.id === 3 ? worker.end({ code: 1, signal: null }) : worker.listen())
      })
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(workers.forked.map((w) => w.ended())).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
        { code: 1, signal: null }
      ])
      expect(workers.forked[0]!.stopAsked()).toBe(true)
    }))
})

describe("Supervisor: restarts", () => {
  it.effect("a worker that dies is logged and replaced after the back-off, which doubles per restart of its slot", () =>
    Effect.gen(function*() {
      const { announced, log, workers } = yield* start({}, { workers: 2 })
      expect(workers.forked.length).toBe(2)
      workers.forked[1]!.end({ code: null, signal: "SIGKILL" })
      yield* settle
      expect(log.err).toEqual([
        "error: worker w2 (pid 1001) was killed by SIGKILL; starting another in 100 ms"
      ])
      yield* TestClock.adjust("99 millis")
      expect(workers.forked.length).toBe(2)
      yield* TestClock.adjust("1 millis")
      expect(workers.forked.length).toBe(3)
      // the replacement's slot: the next death of its worker waits twice as long
      workers.forked[2]!.end({ code: 1, signal: null })
      yield* settle
      expect(log.err[1]).toBe("error: worker w3 (pid 1002) exited with status 1; starting another in 200 ms")
      yield* TestClock.adjust("199 millis")
      expect(workers.forked.length).toBe(3)
      yield* TestClock.adjust("1 millis")
      expect(workers.forked.length).toBe(4)
      // the other slot's first restart is at 100 ms again
      workers.forked[0]!.end({ code: null, signal: "SIGSEGV" })
      yield* settle
      expect(log.err[2]).toMatch(/w1 .*SIGSEGV; starting another in 100 ms$/)
      // the start-up announcement is not repeated for replacements
      expect(announced.length).toBe(1)
      // the workers that did not die were never asked to stop
      expect(workers.forked[3]!.stopAsked()).toBe(false)
    }))

  it.effect("more restarts than the limit within a minute stop the server; spread over time they do not", () =>
    Effect.gen(function*() {
      const { fiber, workers } = yield* start({}, { workers: 2, maxRestarts: 3 })
      const dieAndWait = (index: number) =>
        Effect.gen(function*() {
          workers.forked[index]!.end({ code: null, signal: "SIGKILL" })
          yield* settle
          yield* TestClock.adjust("5 seconds")
        })
      // three restarts, the third 61 s after the first: only two in the window
      yield* dieAndWait(0)
      yield* TestClock.adjust("50 seconds")
      yield* dieAndWait(1)
      yield* dieAndWait(2)
      expect(workers.forked.length).toBe(5)
      expect(fiber.unsafePoll()).toBe(null)
      // two more within the minute: the second is one too many
      yield* dieAndWait(3)
      expect(fiber.unsafePoll()).toBe(null)
      workers.forked[4]!.end({ code: 1, signal: null })
      const exit = yield* Fiber.await(fiber)
      expect(failureOf(exit)).toEqual(
        new Supervisor.RestartLimitReached({ restarts: 3, worker: 5, exit: { code: 1, signal: null } })
      )
      // the server stopped its last worker on the way out
      expect(workers.forked[5]!.stopAsked()).toBe(true)
      expect(workers.forked.length).toBe(6)
    }))
})

describe("Supervisor: shutdown", () => {
  it.effect("interrupted, it asks every worker to stop and completes once all have exited", () =>
    Effect.gen(function*() {
      const { fiber, workers } = yield* start({ onStop: () => {} }, { workers: 3 })
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* settle
      expect(workers.forked.map((w) => w.stopAsked())).toEqual([true, true, true])
      expect(interrupting.unsafePoll()).toBe(null)
      workers.forked[0]!.end({ code: 0, signal: null })
      workers.forked[2]!.end({ code: 0, signal: null })
      yield* settle
      expect(interrupting.unsafePoll()).toBe(null)
      workers.forked[1]!.end({ code: 0, signal: null })
      yield* Fiber.join(interrupting)
      expect(workers.forked.some((w) => w.killed())).toBe(false)
    }))

  it.effect("a worker that does not exit within the stop timeout is killed", () =>
    Effect.gen(function*() {
      const { fiber, log, workers } = yield* start({
        onStop: (worker) => (worker.id === 2 ? undefined : worker.end({ code: 0, signal: null }))
      }, { workers: 2, stopTimeout: Duration.seconds(7) })
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* settle
      yield* TestClock.adjust("6999 millis")
      expect(workers.forked[1]!.killed()).toBe(false)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(interrupting)
      expect(workers.forked[1]!.killed()).toBe(true)
      expect(log.err).toEqual(["error: worker w2 (pid 1001) did not exit within 7s of being asked to; killing it"])
    }))

  it.effect("a slot waiting out its back-off forks nothing once interrupted", () =>
    Effect.gen(function*() {
      const { fiber, workers } = yield* start({}, { workers: 2 })
      workers.forked[0]!.end({ code: null, signal: "SIGKILL" })
      yield* settle
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("10 seconds")
      expect(workers.forked.length).toBe(2)
      expect(workers.forked[1]!.stopAsked()).toBe(true)
    }))

  it.effect("--trace: a worker that died is not said to be asked to stop; its restart says why", () =>
    Effect.gen(function*() {
      const { fiber, log, workers } = yield* start({}, { workers: 2 }, true)
      workers.forked[1]!.end({ code: null, signal: "SIGKILL" })
      yield* settle
      const w2 = log.out.filter((line) => line.includes(" trace w2#")).map((line) => line.split(" ")[3])
      expect(w2).toEqual(["worker-forked", "worker-listening", "worker-exited", "worker-restarting"])
      expect(log.out.find((line) => line.includes(" trace w2#") && line.includes("worker-exited"))).toMatch(
        /pid 1001 was killed by SIGKILL, not asked to$/
      )
      expect(log.out.find((line) => line.includes(" trace w2#") && line.includes("worker-restarting"))).toMatch(
        /was killed by SIGKILL; another starts in slot 2 in 100 ms$/
      )
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("--trace shows each worker's life under the primary, and the primary's stop around them", () =>
    Effect.gen(function*() {
      const { fiber, log } = yield* start({}, { workers: 2 }, true)
      yield* Fiber.interrupt(fiber)
      const events = log.out.map((line) => line.split(" ").slice(2, 5).join(" ").replace(/#\d+/g, "#"))
      // the workers are stopped together: each one's lines in order
      const of = (worker: string) => events.filter((event) => event.startsWith(worker))
      for (const worker of ["w1#", "w2#"]) {
        expect(of(worker)).toEqual(
          ["worker-forked", "worker-listening", "worker-stopping", "worker-exited"].map((event) =>
            `${worker} ${event} parent=primary#`
          )
        )
      }
      // the primary's own steps bracket the workers'
      expect(events[4]).toBe("primary# workers-stopping parent=main")
      expect(events.at(-1)).toBe("primary# workers-stopped parent=main")
      expect(events.length).toBe(10)
    }))
})
