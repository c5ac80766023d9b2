import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { isWorkerProcess, runAsWorker } from "../net/NodeWorkers.ts"
import { program } from "./Cli.ts"
import { NodeEnvironment } from "./NodeEnvironment.ts"

const { exitStatusOf, noteSignal, run } = program(process.argv)

// Which signal arrived is noted before the runtime's own handlers interrupt
// the main fiber (listeners run in the order they were added): an
// interruption is a signal's only when one was seen.
if (!isWorkerProcess()) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => noteSignal(signal))
  }
}

// A worker of `server --workers` stops when its primary says so (see NodeWorkers):
// it does not act on the SIGINT that a terminal sends to the whole process group.
if (isWorkerProcess()) runAsWorker(Effect.provide(run, NodeEnvironment), exitStatusOf)
else {
  run.pipe(
    Effect.provide(NodeEnvironment),
    NodeRuntime.runMain({
      // commands print their own one-line errors; @effect/cli prints usage errors
      disableErrorReporting: true,
      teardown: (exit, onExit) => onExit(exitStatusOf(exit))
    })
  )
}
