import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { VERSION } from "../version.ts"
import { normalize, type Normalized } from "./argv.ts"
import { clientCommand, clientOptionSpecs } from "./ClientCommand.ts"
import { ExitCode, ExitStatus, makeExitStatus } from "./ExitCode.ts"
import { serverCommand, serverOptionSpecs } from "./ServerCommand.ts"

const fiberhttp = Command.make("fiberhttp").pipe(
  Command.withDescription("An HTTP/1.1 client and static-file server on raw TCP sockets, built on Effect."),
  Command.withSubcommands([clientCommand, serverCommand])
)

const runCli = Command.run(fiberhttp, { name: "fiberhttp", version: VERSION })

/**
 * The command line with each subcommand's words normalized (see argv.ts):
 * argv is node, the script, then the subcommand and its words.
 */
export const normalizeArgs = (argv: ReadonlyArray<string>): Normalized => {
  const command = argv[2]
  const specs = command === "client" ? clientOptionSpecs : command === "server" ? serverOptionSpecs : undefined
  if (specs === undefined) return { _tag: "Args", args: [...argv] }
  const words = normalize(argv.slice(3), specs)
  return words._tag === "Usage" ? words : { _tag: "Args", args: [...argv.slice(0, 3), ...words.args] }
}

/** ANSI SGR sequences, as @effect/cli's help and its error texts carry them. */
const ansi = /\u001b\[[0-9;]*m/g

const wantsColour = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === "" && process.env.TERM !== "dumb"

const plain = (args: ReadonlyArray<unknown>) =>
  args.map((arg) => (typeof arg === "string" ? arg.replace(ansi, "") : arg))

/**
 * The console @effect/cli prints help and usage errors with: colours only on
 * a terminal and without NO_COLOR (https://no-color.org), so `--help | less`
 * or a file gets plain text.
 */
const withPlainConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Console.consoleWith(Effect.succeed), (console) => {
    const outPlain = !wantsColour(process.stdout)
    const errPlain = !wantsColour(process.stderr)
    if (!outPlain && !errPlain) return effect
    const out = (f: (...args: ReadonlyArray<unknown>) => Effect.Effect<void>) => (...args: ReadonlyArray<unknown>) =>
      f(...(outPlain ? plain(args) : args))
    const err = (f: (...args: ReadonlyArray<unknown>) => Effect.Effect<void>) => (...args: ReadonlyArray<unknown>) =>
      f(...(errPlain ? plain(args) : args))
    // the default console's methods live on its prototype: keep them, replace four
    const replaced: Console.Console = Object.assign(Object.create(console) as Console.Console, {
      log: out((...args) => console.log(...args)),
      info: out((...args) => console.info(...args)),
      error: err((...args) => console.error(...args)),
      warn: err((...args) => console.warn(...args))
    })
    return Effect.withConsole(effect, replaced)
  })

const run = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const normalized = normalizeArgs(argv)
    if (normalized._tag === "Usage") {
      return Effect.zipRight(
        Console.error(`fiberhttp ${argv[2]}: ${normalized.message}; see fiberhttp ${argv[2]} --help`),
        Effect.fail(new ExitCode({ code: 2 }))
      )
    }
    return withPlainConsole(runCli(normalized.args))
  })

/**
 * One run of the program over `argv`: the effect (it needs the platform's
 * services, which the entry point provides), where the signal that stops it
 * is noted, and the exit status for its outcome. The status is this run's
 * own: a second run in the same process starts afresh.
 */
export const program = (argv: ReadonlyArray<string>) => {
  const status = makeExitStatus()
  return {
    run: run(argv).pipe(Effect.provideService(ExitStatus, status.service)),
    noteSignal: status.noteSignal,
    exitStatusOf: status.exitStatusOf
  }
}
