import { Context, Layer } from "effect"
import { type LineSink, processSink } from "./AccessLog.ts"

/** Where the server's log lines go: the process's stdout and stderr, or memory in tests. */
export class LogSink extends Context.Tag("fiberhttp/server/LogSink")<LogSink, LineSink>() {}

/** Lines to the process's stdout and stderr. */
export const layerProcess: Layer.Layer<LogSink> = Layer.succeed(LogSink, processSink)
