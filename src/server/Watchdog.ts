import { Clock, Duration, Effect, FiberHandle, type Scope } from "effect"

/**
 * One timer per connection instead of one per read or write.
 *
 * `Effect.timeout` forks two fibers and a timer for every operation it
 * guards, which costs more than the rest of a small request. A watchdog
 * fiber sleeps until the current deadline instead; moving the deadline is a
 * plain assignment. Only a deadline earlier than the watchdog's wake-up
 * restarts it (once per connection in the common keep-alive pattern). On
 * expiry the watchdog runs `onExpire` itself: the guarded fiber stays blocked
 * until that action closes its connection.
 *
 * A deadline armed with a progress count (`armWhileMoving`) is a stall
 * timeout: when it passes, the watchdog reads the count, and if it grew since
 * the deadline was set, sets another period instead of expiring. Reading the
 * count is a plain call, so the guarded writes stay timer-free.
 */
export interface Watchdog<K> {
  /** Epoch milliseconds, from the Clock. */
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
}

/**
 * `recheckMs`: how long the watchdog sleeps while disarmed before looking
 * again; any arm within that time costs nothing.
 */
export const make = <K>(
  recheckMs: number,
  onExpire: (kind: K) => Effect.Effect<void>
): Effect.Effect<Watchdog<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const handle = yield* FiberHandle.make<void, never>()
    const now = () => clock.unsafeCurrentTimeMillis()
    let deadline = Infinity
    let kind: K | undefined
    /** For `armWhileMoving`: the count, its value when the period began, and the period. */
    let progress: (() => number) | undefined
    let mark = 0
    let periodMs = 0
    let expired: K | undefined
    /** When the running watchdog's sleep ends (Infinity when none runs). */
    let wakeAt = Infinity

    const watch: Effect.Effect<void> = Effect.gen(function*() {
      while (expired === undefined) {
        const at = now()
        if (deadline <= at && progress !== undefined) {
          const seen = progress()
          if (seen !== mark) {
            mark = seen
            deadline = at + periodMs
          }
        }
        if (deadline <= at) {
          expired = kind
          wakeAt = Infinity
          return yield* onExpire(kind!)
        }
        wakeAt = deadline === Infinity ? at + recheckMs : deadline
        yield* Clock.sleep(Duration.millis(wakeAt - at))
      }
    })

    const arm = (at: number, k: K): Effect.Effect<void> => {
      deadline = at
      kind = k
      if (at >= wakeAt || expired !== undefined) return Effect.void
      wakeAt = at
      return Effect.asVoid(FiberHandle.run(handle, watch))
    }

    return {
      now,
      arm: (at, k) =>
        Effect.suspend(() => {
          progress = undefined
          return arm(at, k)
        }),
      armWhileMoving: (period, k, count) =>
        Effect.suspend(() => {
          progress = count
          mark = count()
          periodMs = period
          return arm(now() + period, k)
        }),
      disarm: () => {
        deadline = Infinity
      },
      expired: () => expired
    }
  })
