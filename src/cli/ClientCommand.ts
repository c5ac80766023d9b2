import { Args, Command } from "@effect/cli"
import { Console } from "effect"

const targets = Args.text({ name: "target" }).pipe(Args.atLeast(1))

export const clientCommand = Command.make("client", { targets }, ({ targets }) =>
  Console.log(`client: not implemented yet (${targets.join(" ")})`)
).pipe(Command.withDescription("Send a GET to a server and print the response."))
