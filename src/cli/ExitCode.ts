import { ValidationError } from "@effect/cli"
import { Cause, Context, Data, Effect, Exit, Option } from "effect"

/**
 * A command's documented, non-zero exit status. Commands fail with it after
 * printing their own one-line message; the bin entry turns it into the
 * process's exit code without printing anything more.
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/** What the running command says about how its run should end; one per run of the program. */
export class ExitStatus extends Context.Tag("fiberhttp/cli/ExitStatus")<
  ExitStatus,
  {
    /** For commands that run until stopped (the server): a signal ends them with status 0. */
    readonly signalIsNormalStop: Effect.Effect<void>
  }
>() {}

export type StopSignal = "SIGINT" | "SIGTERM"

/**
 * The exit status of one run of the program: the ExitStatus service its
 * command talks to, where the signal that stopped it is noted, and the
 * status its outcome gives. A second run in the same process starts afresh.
 */
export const makeExitStatus = () => {
  /** The signal that ended the run, if one did. */
  let signalled: StopSignal | undefined
  /** Commands that run until stopped (the server) end with status 0 on a signal. */
  let signalIsSuccess = false
  const service: ExitStatus["Type"] = {
    signalIsNormalStop: Effect.sync(() => {
      signalIsSuccess = true
    })
  }
  /** Notes the signal that stops this run (the first one counts). */
  const noteSignal = (signal: StopSignal): void => {
    signalled ??= signal
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
   * error that @effect/cli caught (it has printed the help), 128 + the
   * signal's number for a signal, 0 for success, 1 for anything else.
   */
  const exitStatusOf = (exit: Exit.Exit<unknown, unknown>): number => {
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
  return { service, noteSignal, exitStatusOf }
}
