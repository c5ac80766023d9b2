import { ValidationError } from "@effect/cli"
import { Cause, Data, Exit, Option } from "effect"

/**
 * A command's documented, non-zero exit status. Commands fail with it after
 * printing their own one-line message; the bin entry turns it into the
 * process's exit code without printing anything more.
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/**
 * Exit status for the run's outcome: the command's ExitCode, 2 for a usage
 * error that @effect/cli caught (it has printed the help), 0 for success or an
 * interruption (Ctrl-C on the server is a normal stop), 1 for anything else.
 */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && failure.value instanceof ExitCode) return failure.value.code
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return 2
  return 1
}
