import { Effect, type Exit } from "effect"

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
