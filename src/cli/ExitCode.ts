import { ValidationError } from "@effect/cli"
import { Cause, Data, Effect, Exit, Option } from "effect"

/**
 * A command's documented, non-zero exit status. Commands fail with it after
 * printing their own one-line message; the bin entry turns it into the
 * process's exit code without printing anything more.
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/** The signal that ended the run, if one did (recorded by `recordSignals`). */
let signalled: "SIGINT" | "SIGTERM" | undefined

/** Commands that run until stopped (the server) end with status 0 on a signal. */
let signalIsSuccess = false

/** For commands that run until stopped (the server): a signal ends them with status 0. */
export const signalIsNormalStop: Effect.Effect<void> = Effect.sync(() => {
  signalIsSuccess = true
})

/**
 * Notes which signal arrived, before the runtime's own handlers interrupt the
 * main fiber (listeners run in the order they were added): an interruption
 * is a signal's only when one was seen.
 */
export const recordSignals = (): void => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      signalled ??= signal
    })
  }
}

/**
 * 128 + the signal's number, what shells expect of a command a signal
 * stopped (SIGINT 130, SIGTERM 143, as curl), so `fiberhttp client URL &&
 * next` stops. An interruption without a signal is a bug: status 1.
 */
const interruptedStatus = (): number =>
  signalled === undefined ? 1 : signalIsSuccess ? 0 : signalled === "SIGINT" ? 130 : 143

/**
 * Exit status for the run's outcome: the command's ExitCode, 2 for a usage
 * error that @effect/cli caught (it has printed the help), 128 + the signal's
 * number for a signal, 0 for success, 1 for anything else.
 */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) {
    if (signalled === undefined) process.stderr.write("fiberhttp: stopped without a signal (interrupted)\n")
    return interruptedStatus()
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && failure.value instanceof ExitCode) return failure.value.code
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return 2
  return 1
}
