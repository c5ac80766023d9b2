import { Clock, Duration, Effect, FiberHandle, FiberSet, type Scope } from "effect"

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
 * A deadline armed with a progress count (`armWhileMoving`) is a stall
 * timeout: when it passes, the count is read, and if it grew since the
 * deadline was set, another period begins instead. Reading the count is a
 * plain call, so the guarded writes stay timer-free.
 */
export interface Watchdog<K> {
  /** Milliseconds from the Clock's monotonic time (epoch-based, but never stepped). */
  readonly now: () => number
  /** Expire at `at` (epoch ms) with `kind`, unless re-armed or disarmed first. */
  readonly arm: (at: number, kind: K) => Effect.Effect<void>
  /**
   * Expire with `kind` once a whole period of `periodMs` ends with `progress`
   * (a monotonic count) where it was when the period began, unless re-armed
   * or disarmed first.
   */
  readonly armWhileMoving: (periodMs: number, kind: K, progress: () => number) => Effect.Effect<void>
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
  progress: (() => number) | undefined
  mark: number
  periodMs: number
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

  /** Takes every entry that is due; returns the timers that expire. */
  const due = (at: number): Array<readonly [Timer, unknown]> => {
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
        const seen = timer.progress()
        if (seen !== timer.mark) {
          timer.mark = seen
          timer.deadline = at + timer.periodMs
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
      const expiring = due(at)
      for (const [timer, kind] of expiring) {
        // the action is interruptible (its own timeouts, the server's shutdown), unlike this step
        if (timer.onExpire !== undefined) yield* FiberSet.run(expiries, Effect.interruptible(timer.onExpire(kind)))
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
      expired: undefined,
      scheduledAt: Infinity,
      onExpire: onExpire as (kind: unknown) => Effect.Effect<void>
    }
    const arm = (at: number, kind: K): Effect.Effect<void> => {
      timer.deadline = at
      timer.kind = kind
      if (timer.expired !== undefined || timer.onExpire === undefined || at >= timer.scheduledAt) return Effect.void
      schedule(timer, at)
      return wakeBy(at)
    }
    return {
      now,
      arm: (at, kind) =>
        Effect.suspend(() => {
          timer.progress = undefined
          return arm(at, kind)
        }),
      armWhileMoving: (periodMs, kind, progress) =>
        Effect.suspend(() => {
          timer.progress = progress
          timer.mark = progress()
          timer.periodMs = periodMs
          return arm(now() + periodMs, kind)
        }),
      disarm: () => {
        timer.deadline = Infinity
      },
      expired: () => timer.expired as K | undefined,
      release: () => {
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
