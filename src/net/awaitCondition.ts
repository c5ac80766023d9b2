import { Effect, Exit } from "effect"

/**
 * Waits until `attempt` gives a result. `attempt` runs at once, then again
 * each time something calls the callbacks in `waiting` (the owner of the
 * state calls them all on every change). Interruption just unregisters.
 */
export const awaitCondition = <A, E>(
  waiting: Set<() => void>,
  attempt: () => Exit.Exit<A, E> | undefined
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const now = attempt()
    if (now !== undefined) return now
    return Effect.async<A, E>((resume) => {
      const check = () => {
        const result = attempt()
        if (result !== undefined) {
          waiting.delete(check)
          resume(result)
        }
      }
      waiting.add(check)
      return Effect.sync(() => waiting.delete(check))
    })
  })

/** Calls every waiting callback; each re-checks its own condition. */
export const wakeAll = (waiting: Set<() => void>): void => {
  for (const check of Array.from(waiting)) check()
}

/**
 * Hands each item `take` gives to `consume`, synchronously, until `consume`
 * returns a value (not undefined), which the effect succeeds with; a failure
 * of `take` fails it. While nothing is there it waits as `awaitCondition`
 * does, and the items that arrive meanwhile are consumed in the callback
 * that announced them: no Effect step per item. A wake-up while `consume`
 * runs (its own writes may announce) is taken by the loop already running.
 * A throw of `consume` is a defect of the effect, not of the callback.
 */
export const consumeUntil = <C, A, E>(
  waiting: Set<() => void>,
  take: () => Exit.Exit<C, E> | undefined,
  consume: (item: C) => A | undefined
): Effect.Effect<A, E> => {
  let busy = false
  return awaitCondition(waiting, (): Exit.Exit<A, E> | undefined => {
    if (busy) return undefined
    busy = true
    try {
      while (true) {
        const next = take()
        if (next === undefined) return undefined
        if (next._tag === "Failure") return next as Exit.Exit<never, E>
        const out = consume(next.value)
        if (out !== undefined) return Exit.succeed(out)
      }
    } catch (defect) {
      return Exit.die(defect)
    } finally {
      busy = false
    }
  })
}
