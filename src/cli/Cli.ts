import { Command } from "@effect/cli"
import { VERSION } from "../version.ts"
import { clientCommand } from "./ClientCommand.ts"
import { serverCommand } from "./ServerCommand.ts"

const fiberhttp = Command.make("fiberhttp").pipe(
  Command.withDescription("An HTTP/1.1 client and static-file server on raw TCP sockets, built on Effect."),
  Command.withSubcommands([clientCommand, serverCommand])
)

export const run = Command.run(fiberhttp, { name: "fiberhttp", version: VERSION })
