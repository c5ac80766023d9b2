import { Clock, Duration, Effect, FiberHandle, FiberSet, Option, type Scope } from "effect"

/**
 * Deadlines for every connection of a server, kept by one fiber.
 *
 * `Effect.timeout` forks two fibers and a timer for every operation it
 * guards, which costs more than the rest of a small request; a sleeping
 * fiber per connection costs several kilobytes for every idle connection.
 * Here each connection has a Watchdog (plain state, no fiber), and one
 * fiber per server sleeps until the earliest deadline of all of them, held
 * in a binary heap. Moving a deadline later is a plain assignment (the heap
 * entry, when it comes due, finds the new deadline and is pushed again);
 * only a deadline earlier than every scheduled one restarts the sleeping
 * fiber. On expiry the watchdog's `onExpire` runs in a fiber of its own,
 * owned by the server's scope: the guarded fiber stays blocked until that
 * action closes its connection.
 *
 * A deadline armed with a progress measure (`armWhileMoving`) is a stall
 * timeout, checked every quarter period. The cheap count (`bytesFlushed`, a
 * plain call) is read at each check; once it has stood still for a whole
 * period, the costly measure (`unacknowledged`, the kernel's send queue) is
 * sampled, for every such timer at once; the timer expires only when a whole
 * period later neither has the cheap count moved nor the queue shrunk (or the
 * costly measure cannot tell).
 * So a reader is dropped between one and about two and a quarter periods
 * after it last took a byte, and the costly measure is consulted only for
 * writes that look stalled.
 */
/** What a stall timeout watches: a connection's two measures of a write's progress. */
export interface WriteProgress {
  /** Grows as the transport takes bytes: cheap, read at every check. */
  readonly bytesFlushed: () => number
  /** Changes as the peer takes bytes; costly, consulted only once `bytesFlushed` stood still for a period. */
  readonly unacknowledged: Effect.Effect<Option.Option<number>>
}

/** A stall timeout is checked this many times per period. */
const CHECKS_PER_PERIOD = 4

export interface Watchdog<K> {
  /** Milliseconds from the Clock's monotonic time (epoch-based, but never stepped). */
  readonly now: () => number
  /** Expire at `at` (epoch ms) with `kind`, unless re-armed or disarmed first. */
  readonly arm: (at: number, kind: K) => Effect.Effect<void>
  /**
   * `arm`, done at the call: what it returns is left to run (the watch
   * woken for an earlier deadline), Effect.void when nothing is. For a
   * caller outside a fiber's step, such as a transport's callback.
   */
  readonly armNow: (at: number, kind: K) => Effect.Effect<void>
  /**
   * Expire with `kind` once neither measure of `progress` has moved for a
   * whole period of `periodMs` (see above), unless re-armed or disarmed first.
   */
  readonly armWhileMoving: (periodMs: number, kind: K, progress: WriteProgress) => Effect.Effect<void>
  /**
   * Takes the costly sample of a stall timeout now rather than after its
   * first still period, so that a write still a whole period from now is
   * judged then (one period, not two): for shutdown, where a client that
   * does not read is to be given up quickly.
   */
  readonly sampleNow: Effect.Effect<void>
  /** No deadline until the next `arm`. */
  readonly disarm: () => void
  /** The kind that expired, if any: the guarded fiber checks it before acting on a completed operation. */
  readonly expired: () => K | undefined
  /** For good: the connection is done; nothing expires any more. */
  readonly release: () => void
}

/** Makes the watchdogs of one server's connections. */
export interface Watchdogs {
  readonly make: <K>(onExpire: (kind: K) => Effect.Effect<void>) => Watchdog<K>
  /** Entries in the heap (live and stale), for tests. */
  readonly scheduled: () => number
}

interface Timer {
  deadline: number
  kind: unknown
  progress: WriteProgress | undefined
  /** `bytesFlushed` at the last check where it moved (or at arming). */
  mark: number
  periodMs: number
  /** Checks in a row at which `bytesFlushed` had not moved. */
  still: number
  /** The last sample of `unacknowledged` since `bytesFlushed` last moved. */
  sample: number | undefined
  /** Bumped by every arm, disarm and release: a sample taken for an older arming is ignored. */
  generation: number
  expired: unknown
  /** The `at` of this timer's current heap entry; Infinity when it has none. */
  scheduledAt: number
  /** Dropped at release: a heap entry may outlive its connection by a whole timeout, but not its state. */
  onExpire: ((kind: unknown) => Effect.Effect<void>) | undefined
}

interface Entry {
  readonly at: number
  readonly timer: Timer
}

/** A binary min-heap of entries by `at`. */
class EntryHeap {
  private readonly items: Array<Entry> = []
  get size(): number {
    return this.items.length
  }
  peek(): Entry | undefined {
    return this.items[0]
  }
  push(entry: Entry): void {
    const items = this.items
    let i = items.push(entry) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent]!.at <= entry.at) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = entry
  }
  /** Keeps only the entries `keep` accepts (in heap order again). */
  retain(keep: (entry: Entry) => boolean): void {
    const kept = this.items.filter(keep)
    this.items.length = 0
    for (const entry of kept) this.push(entry)
  }
  pop(): Entry | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    let i = 0
    while (true) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left
      if (items[child]!.at >= last.at) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }
}

export const makeWatchdogs: Effect.Effect<Watchdogs, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const sleeper = yield* FiberHandle.make<void, never>()
  const expiries = yield* FiberSet.make<void, never>()
  // The monotonic clock, as the connections' deadlines use: a step of the wall clock moves no deadline.
  const now = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
  const heap = new EntryHeap()
  let entries = 0
  /** When the sleeping fiber wakes (Infinity when none sleeps). */
  let wakeAt = Infinity

  /** Entries no timer will act on (superseded, or their connection is gone), still in the heap. */
  let stale = 0
  const isLive = (entry: Entry) => entry.timer.scheduledAt === entry.at && entry.timer.onExpire !== undefined
  /**
   * Closed connections would otherwise stay in the heap (and in memory) until
   * their last deadline passes, up to a whole timeout after they are gone:
   * once most entries are stale, the heap is rebuilt without them (amortized
   * constant time per entry).
   */
  const dropStale = () => {
    if (stale > 256 && stale * 2 > heap.size) {
      heap.retain(isLive)
      stale = 0
      entries = heap.size
    }
  }

  const schedule = (timer: Timer, at: number) => {
    if (timer.scheduledAt !== Infinity) stale++
    timer.scheduledAt = at
    heap.push({ at, timer })
    entries = heap.size
    dropStale()
  }

  /** Takes every entry that is due; returns the timers that expire and those whose send queue is to be sampled. */
  const due = (at: number, toSample: Array<Timer>): Array<readonly [Timer, unknown]> => {
    const expiring: Array<readonly [Timer, unknown]> = []
    while (true) {
      const top = heap.peek()
      if (top === undefined || top.at > at) break
      heap.pop()
      const timer = top.timer
      // a stale entry: the timer was rescheduled earlier since, or released
      if (!isLive(top)) {
        stale = Math.max(0, stale - 1)
        continue
      }
      timer.scheduledAt = Infinity
      if (timer.expired !== undefined || timer.deadline === Infinity) continue
      if (timer.deadline <= at && timer.progress !== undefined) {
        const seen = timer.progress.bytesFlushed()
        if (seen !== timer.mark) {
          timer.mark = seen
          timer.still = 0
          timer.sample = undefined
          timer.deadline = at + timer.periodMs / CHECKS_PER_PERIOD
        } else if (++timer.still < CHECKS_PER_PERIOD) {
          timer.deadline = at + timer.periodMs / CHECKS_PER_PERIOD
        } else {
          // still for a whole period: the sample decides, when it arrives
          timer.deadline = Infinity
          toSample.push(timer)
          continue
        }
      }
      if (timer.deadline > at) schedule(timer, timer.deadline)
      else {
        timer.expired = timer.kind
        expiring.push([timer, timer.kind])
      }
    }
    entries = heap.size
    return expiring
  }

  // Taking due entries and starting their actions is one uninterruptible
  // step: a restart of the sleeper (an earlier deadline arrived) cannot lose
  // an expiry it had taken. Only the sleep is interrupted.
  const watch: Effect.Effect<void> = Effect.gen(function*() {
    while (true) {
      const at = now()
      const toSample: Array<Timer> = []
      const expiring = due(at, toSample)
      for (const [timer, kind] of expiring) yield* startExpiry(timer, kind)
      if (toSample.length > 0) {
        const samples = toSample.map((timer) => sampleOf(timer, timer.generation))
        yield* FiberSet.run(expiries, Effect.interruptible(Effect.all(samples, { concurrency: "unbounded" })))
      }
      const next = heap.peek()
      if (next === undefined) {
        wakeAt = Infinity
        return
      }
      wakeAt = next.at
      yield* Effect.interruptible(Clock.sleep(Duration.millis(Math.max(0, next.at - at))))
    }
  }).pipe(Effect.uninterruptible)

  /** The action is interruptible (its own timeouts, the server's shutdown), unlike the step that starts it. */
  function startExpiry(timer: Timer, kind: unknown): Effect.Effect<void> {
    if (timer.onExpire === undefined) return Effect.void
    return Effect.asVoid(FiberSet.run(expiries, Effect.interruptible(timer.onExpire(kind))))
  }

  /**
   * Samples the costly measure of a timer that stood still for a whole
   * period: a first sample (or one below the last: the peer acknowledged
   * bytes) starts another period; the same or a larger one, or none at all,
   * expires it.
   */
  function sampleOf(timer: Timer, generation: number): Effect.Effect<void> {
    return Effect.flatMap(timer.progress!.unacknowledged, (queue) =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (timer.generation !== generation || timer.onExpire === undefined || timer.expired !== undefined) {
          return Effect.void
        }
        const at = now()
        const seen = timer.progress!.bytesFlushed()
        const moved = seen !== timer.mark
        // only a shorter queue is the peer's doing: a longer one is the kernel taking more of a
        // pending write (into space acknowledged earlier, or a send buffer it enlarged)
        const acknowledged = Option.isSome(queue) && (timer.sample === undefined || queue.value < timer.sample)
        if (moved || acknowledged) {
          timer.mark = seen
          timer.still = 0
          timer.sample = moved ? undefined : Option.getOrUndefined(queue)
          timer.deadline = at + timer.periodMs / CHECKS_PER_PERIOD
          schedule(timer, timer.deadline)
          return wakeBy(timer.deadline)
        }
        timer.expired = timer.kind
        return startExpiry(timer, timer.kind)
      })))
  }

  // Recording the wake-up and starting the fiber that honours it are one uninterruptible step:
  // a wake-up recorded but never started would make every later deadline wait on it.
  const wakeBy = (at: number): Effect.Effect<void> => {
    if (at >= wakeAt) return Effect.void
    return Effect.uninterruptible(Effect.suspend(() => {
      if (at >= wakeAt) return Effect.void
      wakeAt = at
      return Effect.asVoid(FiberHandle.run(sleeper, watch))
    }))
  }

  const make = <K>(onExpire: (kind: K) => Effect.Effect<void>): Watchdog<K> => {
    const timer: Timer = {
      deadline: Infinity,
      kind: undefined,
      progress: undefined,
      mark: 0,
      periodMs: 0,
      still: 0,
      sample: undefined,
      generation: 0,
      expired: undefined,
      scheduledAt: Infinity,
      onExpire: onExpire as (kind: unknown) => Effect.Effect<void>
    }
    const arm = (at: number, kind: K): Effect.Effect<void> => {
      timer.generation++
      timer.deadline = at
      timer.kind = kind
      if (timer.expired !== undefined || timer.onExpire === undefined || at >= timer.scheduledAt) return Effect.void
      schedule(timer, at)
      return wakeBy(at)
    }
    const armNow = (at: number, kind: K): Effect.Effect<void> => {
      timer.progress = undefined
      return arm(at, kind)
    }
    return {
      now,
      arm: (at, kind) => Effect.suspend(() => armNow(at, kind)),
      armNow,
      armWhileMoving: (periodMs, kind, progress) =>
        Effect.suspend(() => {
          timer.progress = progress
          timer.mark = progress.bytesFlushed()
          timer.periodMs = periodMs
          timer.still = 0
          timer.sample = undefined
          return arm(now() + periodMs / CHECKS_PER_PERIOD, kind)
        }),
      sampleNow: Effect.suspend(() => {
        const progress = timer.progress
        if (progress === undefined || timer.onExpire === undefined) return Effect.void
        // kept if, when it arrives, the same connection's write is still guarded and its cheap count has
        // not moved since that write was armed (a write armed meanwhile, after one that completed at
        // once, keeps it: the queue is only compared for shrinking)
        const prime = Effect.map(progress.unacknowledged, (queue) => {
          if (timer.progress !== progress || timer.expired !== undefined || timer.deadline === Infinity) return
          if (timer.sample !== undefined || progress.bytesFlushed() !== timer.mark) return
          timer.sample = Option.getOrUndefined(queue)
        })
        return Effect.asVoid(FiberSet.run(expiries, Effect.interruptible(prime)))
      }),
      disarm: () => {
        timer.generation++
        timer.deadline = Infinity
      },
      expired: () => timer.expired as K | undefined,
      release: () => {
        timer.generation++
        timer.onExpire = undefined
        timer.progress = undefined
        timer.deadline = Infinity
        if (timer.scheduledAt !== Infinity) {
          timer.scheduledAt = Infinity
          stale++
          dropStale()
        }
      }
    }
  }

  return { make, scheduled: () => entries }
})
