import { Command } from "@effect/cli"
import { VERSION } from "../version.ts"
import { clientCommand } from "./ClientCommand.ts"
import { serverCommand } from "./ServerCommand.ts"

const fiberhttp = Command.make("fiberhttp").pipe(
  Command.withDescription("An HTTP/1.1 client and static-file server on raw TCP sockets, built on Effect."),
  Command.withSubcommands([clientCommand, serverCommand])
)

const runCli = Command.run(fiberhttp, { name: "fiberhttp", version: VERSION })

/** The server's on/off options. */
const serverFlags = new Set(["--quiet", "--listing", "--dotfiles", "--trace"])

/**
 * @effect/cli lets an on/off option take the next word as its value when
 * that word reads as one ("0", "1", "true", "no"...), so `server --quiet 0`
 * would mean "not quiet, port 8080". A port is what users mean by a number
 * there: an on/off option of the server followed by a number is written
 * `--flag=true`, leaving the number to be a port.
 */
export const normalizeArgs = (argv: ReadonlyArray<string>): Array<string> => {
  // argv: node, the script, then the subcommand
  const args = [...argv]
  if (args[2] !== "server") return args
  for (let i = 3; i < args.length - 1; i++) {
    if (args[i] === "--") break
    if (serverFlags.has(args[i]!) && /^\d+$/.test(args[i + 1]!)) args[i] = `${args[i]}=true`
  }
  return args
}

export const run = (argv: ReadonlyArray<string>) => runCli(normalizeArgs(argv))
