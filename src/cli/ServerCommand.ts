import { Args, Command } from "@effect/cli"
import { Console } from "effect"

const ports = Args.integer({ name: "port" }).pipe(Args.repeated)

export const serverCommand = Command.make("server", { ports }, ({ ports }) =>
  Console.log(`server: not implemented yet (${ports.join(" ")})`)
).pipe(Command.withDescription("Serve a directory over HTTP/1.1 on one or more ports."))
