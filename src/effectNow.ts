import { Effect, Exit } from "effect"

/**
 * Effects that may already be done. In Effect 3 an `Exit` is an effect, and
 * `Effect.succeed` / `Effect.fail` build one: code that answers at once
 * returns such a value, and these helpers take its result without an Effect
 * step, so a chain of synchronous answers (a cached file's lookup, read and
 * response) costs no fiber work; any other effect goes the usual way.
 */

/** Whether `effect` is a successful Exit, whose value can be read now. */
export const isDoneNow = <A, E, R>(effect: Effect.Effect<A, E, R>): effect is Exit.Success<A, E> & typeof effect =>
  Exit.isExit(effect) && Exit.isSuccess(effect)

/** `Effect.map`, applied at once to an effect that is already done. */
export const mapNow = <A, E, R, B>(effect: Effect.Effect<A, E, R>, f: (a: A) => B): Effect.Effect<B, E, R> =>
  isDoneNow(effect) ? Exit.succeed(f(effect.value)) : Effect.map(effect, f)

/** `Effect.flatMap`, applied at once to an effect that is already done. */
export const flatMapNow = <A, E, R, B, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  f: (a: A) => Effect.Effect<B, E2, R2>
): Effect.Effect<B, E | E2, R | R2> => isDoneNow(effect) ? f(effect.value) : Effect.flatMap(effect, f)

/** `effect` as the Exit it already is, or undefined when it has yet to run. */
export const exitNow = <A, E, R>(effect: Effect.Effect<A, E, R>): Exit.Exit<A, E> | undefined =>
  Exit.isExit(effect) ? (effect as Exit.Exit<A, E>) : undefined
