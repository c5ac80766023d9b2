import { ValidationError } from "@effect/cli"
import { Cause, Data, Effect, Exit, Option } from "effect"

/**
 * A command's documented, non-zero exit status. Commands fail with it after
 * printing their own one-line message; the bin entry turns it into the
 * process's exit code without printing anything more.
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/**
 * Status for a run ended by SIGINT or SIGTERM: 130 (128 + SIGINT, what shells
 * expect of an interrupted command, so `fiberhttp client URL && next` stops),
 * unless the running command declared a signal its normal way to finish.
 */
let interruptedStatus = 130

/** For commands that run until stopped (the server): a signal ends them with status 0. */
export const signalIsNormalStop: Effect.Effect<void> = Effect.sync(() => {
  interruptedStatus = 0
})

/**
 * Exit status for the run's outcome: the command's ExitCode, 2 for a usage
 * error that @effect/cli caught (it has printed the help), the interrupted
 * status for a signal, 0 for success, 1 for anything else.
 */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return interruptedStatus
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && failure.value instanceof ExitCode) return failure.value.code
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return 2
  return 1
}
