// Deep imports on purpose: the package index pulls in undici and the HTTP
// platform, which a one-request CLI would pay for at every start.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer } from "effect"
import { run } from "./Cli.ts"
import { exitCodeOf, recordSignals } from "./ExitCode.ts"

recordSignals()

const CliEnvironment = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

run(process.argv).pipe(
  Effect.provide(CliEnvironment),
  NodeRuntime.runMain({
    // commands print their own one-line errors; @effect/cli prints usage errors
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCodeOf(exit))
  })
)
