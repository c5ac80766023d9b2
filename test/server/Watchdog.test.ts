import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { makeWatchdogs, type WriteProgress } from "../../src/server/Watchdog.ts"

describe("Watchdogs (one fiber for every connection's deadlines)", () => {
  /** Watchdogs whose expiries are recorded as "name:kind@ms" (TestClock time). */
  const setup = Effect.gen(function*() {
    const watchdogs = yield* makeWatchdogs
    const fired: Array<string> = []
    const make = (name: string) =>
      watchdogs.make<string>((kind) =>
        Effect.flatMap(TestClock.currentTimeMillis, (at) => Effect.sync(() => void fired.push(`${name}:${kind}@${at}`)))
      )
    return { watchdogs, fired, make }
  })

  it.scoped("deadlines of many watchdogs expire in time order, each at its own time", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const b = make("b")
      const c = make("c")
      yield* a.arm(3000, "read")
      yield* b.arm(1000, "read")
      yield* c.arm(2000, "write")
      yield* TestClock.adjust(999)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(fired).toEqual(["b:read@1000"])
      yield* TestClock.adjust(2000)
      expect(fired).toEqual(["b:read@1000", "c:write@2000", "a:read@3000"])
      expect(b.expired()).toBe("read")
      expect(a.expired()).toBe("read")
    }))

  it.scoped("a deadline moved later does not fire at the old time; one moved earlier than every other wakes the fiber", () =>
    Effect.gen(function*() {
      const { fired, make, watchdogs } = yield* setup
      const a = make("a")
      const b = make("b")
      yield* a.arm(1000, "read")
      yield* a.arm(5000, "read")
      yield* TestClock.adjust(1000)
      expect(fired).toEqual([])
      // the fiber now sleeps until 5000; b needs it at 1500
      yield* b.arm(1500, "read")
      yield* TestClock.adjust(500)
      expect(fired).toEqual(["b:read@1500"])
      a.disarm()
      yield* TestClock.adjust(10_000)
      expect(fired).toEqual(["b:read@1500"])
      expect(a.expired()).toBeUndefined()
      expect(watchdogs.scheduled()).toBe(0)
    }))

  /** A write's two measures, set by the test; `samples` counts the costly ones taken. */
  const writeProgress = () => {
    const state = { flushed: 0, queue: Option.some(0) as Option.Option<number>, samples: 0 }
    const progress: WriteProgress = {
      bytesFlushed: () => state.flushed,
      unacknowledged: Effect.sync(() => (state.samples++, state.queue))
    }
    return { state, progress }
  }

  it.scoped("a stall timeout is extended while its cheap count moves, without sampling the send queue", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      yield* a.armWhileMoving(1000, "write", progress)
      for (let t = 0; t < 10; t++) {
        yield* TestClock.adjust(600)
        state.flushed += 10
      }
      expect(fired).toEqual([])
      expect(state.samples).toBe(0)
    }))

  it.scoped("still for a period: the send queue is sampled; the same sample a period later expires it", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      state.queue = Option.some(4096)
      yield* a.armWhileMoving(1000, "write", progress)
      yield* TestClock.adjust(999)
      expect(state.samples).toBe(0)
      yield* TestClock.adjust(1)
      // a whole period still: first sample, another period begins
      expect(state.samples).toBe(1)
      expect(fired).toEqual([])
      yield* TestClock.adjust(999)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(state.samples).toBe(2)
      expect(fired).toEqual(["a:write@2000"])
    }))

  it.scoped("a send queue that keeps changing while the cheap count stands still keeps the write alive", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      state.queue = Option.some(4_000_000)
      yield* a.armWhileMoving(1000, "write", progress)
      for (let t = 0; t < 20; t++) {
        yield* TestClock.adjust(1000)
        // the peer acknowledged some bytes: the kernel's queue shrank, Node's count did not move
        state.queue = Option.map(state.queue, (q) => q - 4096)
      }
      expect(fired).toEqual([])
      expect(state.samples).toBeGreaterThanOrEqual(19)
      // the peer stops: one period for the first sample to be taken, another to confirm it
      yield* TestClock.adjust(2000)
      expect(fired).toEqual(["a:write@22000"])
    }))

  it.scoped("a send queue that grows is not the peer's doing: the write expires", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      state.queue = Option.some(1000)
      yield* a.armWhileMoving(1000, "write", progress)
      yield* TestClock.adjust(1000)
      // the kernel took more of the pending write into a send buffer it enlarged; nothing was acknowledged
      state.queue = Option.some(5000)
      yield* TestClock.adjust(1000)
      expect(fired).toEqual(["a:write@2000"])
    }))

  it.scoped("a reader that stops is dropped between one and about two and a quarter periods after its last byte", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      yield* a.armWhileMoving(1000, "write", progress)
      yield* TestClock.adjust(600)
      // the last byte moves at 600 (a fast reader: the cheap count moved, no sample yet)
      state.flushed += 10
      yield* TestClock.adjust(2149)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      // moved seen at the check at 750; still from there for a period (1750), then confirmed (2750)
      expect(fired).toEqual(["a:write@2750"])
    }))

  it.scoped("where the send queue cannot be told, a whole still period expires the write", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const { progress, state } = writeProgress()
      state.queue = Option.none()
      yield* a.armWhileMoving(1000, "write", progress)
      yield* TestClock.adjust(1000)
      expect(fired).toEqual(["a:write@1000"])
    }))

  it.scoped("sampleNow: a write still for one period from now expires then, not a period later", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      const b = make("b")
      const still = writeProgress()
      const reading = writeProgress()
      yield* a.armWhileMoving(500, "write", still.progress)
      yield* b.armWhileMoving(500, "write", reading.progress)
      yield* a.sampleNow
      yield* b.sampleNow
      yield* TestClock.adjust(0)
      expect(still.state.samples).toBe(1)
      // b's peer acknowledges bytes; its Node-side count does not move
      reading.state.queue = Option.some(-1)
      yield* TestClock.adjust(499)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(fired).toEqual(["a:write@500"])
      yield* TestClock.adjust(1000)
      expect(fired).toEqual(["a:write@500", "b:write@1000"])
    }))

  it.scoped("a sample that arrives after the write was re-armed or the connection released is ignored", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      let release: (() => void) | undefined
      const gate = Effect.async<Option.Option<number>>((resume) => {
        release = () => resume(Effect.succeed(Option.some(1)))
      })
      const progress: WriteProgress = { bytesFlushed: () => 0, unacknowledged: gate }
      yield* a.armWhileMoving(1000, "write", progress)
      yield* TestClock.adjust(1000)
      expect(release).toBeDefined()
      // a new write while the sample is pending: its own period
      yield* a.armWhileMoving(1000, "write", { bytesFlushed: () => 0, unacknowledged: Effect.succeed(Option.none()) })
      release!()
      yield* TestClock.adjust(999)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(fired).toEqual(["a:write@2000"])
    }))

  it.scoped("a released watchdog never expires and no longer holds its action", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      yield* a.arm(1000, "read")
      a.release()
      yield* a.arm(2000, "read")
      yield* TestClock.adjust(5000)
      expect(fired).toEqual([])
      expect(a.expired()).toBeUndefined()
    }))

  it.scoped("after an expiry the watchdog stays expired: arming again does nothing", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const a = make("a")
      yield* a.arm(1000, "read")
      yield* TestClock.adjust(1000)
      yield* a.arm(2000, "write")
      yield* TestClock.adjust(5000)
      expect(fired).toEqual(["a:read@1000"])
    }))

  it.scoped("a hundred watchdogs re-armed in random order expire exactly at their last deadlines", () =>
    Effect.gen(function*() {
      const { fired, make } = yield* setup
      const expected: Array<[number, string]> = []
      let seed = 7
      const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
      for (let i = 0; i < 100; i++) {
        const w = make(`w${i}`)
        for (let j = 0; j < 3; j++) yield* w.arm(1 + Math.floor(random() * 10_000), "read")
        const last = 1 + Math.floor(random() * 10_000)
        yield* w.arm(last, "read")
        expected.push([last, `w${i}:read@${last}`])
      }
      yield* TestClock.adjust(10_001)
      expect([...fired].sort()).toEqual(expected.map(([, line]) => line).sort())
      // in time order
      const times = fired.map((line) => Number(line.split("@")[1]))
      expect(times).toEqual([...times].sort((x, y) => x - y))
    }))

  it.scoped("closed connections do not stay in the heap until their deadlines: stale entries are dropped", () =>
    Effect.gen(function*() {
      const { fired, make, watchdogs } = yield* setup
      const keep = make("keep")
      yield* keep.arm(60_000, "read")
      for (let i = 0; i < 5000; i++) {
        const w = make(`c${i}`)
        yield* w.arm(30_000, "read")
        w.release()
      }
      // 5,000 released connections, all with a deadline 30 s away: at most a few hundred entries left
      expect(watchdogs.scheduled()).toBeLessThanOrEqual(600)
      // moving a deadline earlier and earlier leaves superseded entries behind: bounded too
      for (let at = 29_000; at > 20_000; at -= 1) yield* keep.arm(at, "read")
      expect(watchdogs.scheduled()).toBeLessThanOrEqual(600)
      yield* TestClock.adjust(20_001)
      expect(fired).toEqual(["keep:read@20001"])
    }))
})
