import { Cause, Clock, Context, Effect, Layer } from "effect"
import { escapeControls } from "../http/chars.ts"
import { formatHostPort } from "../net/hostPort.ts"
import * as Lifecycle from "./Lifecycle.ts"

/** One answered request (or a connection refused before any request). */
export interface AccessEntry {
  /** When the request began (its first byte, or the accept for refusals). */
  readonly time: Date
  readonly remoteAddress: string
  readonly remotePort: number
  /** The connection's id ("c17"). */
  readonly connection: string
  /** The connection fiber's id ("#42"): the seed's "thread info". */
  readonly fiber: string
  /**
   * "GET /index.html HTTP/1.1"; for a request refused as malformed, the line
   * as it arrived (bytes as latin1 text); "-" when no whole line was read.
   */
  readonly requestLine: string
  readonly status: number
  /** Body bytes written. */
  readonly bytes: number
  readonly durationMs: number
}

/**
 * A step in a connection fiber's life, or in the server scope's (connection
 * "server"), for `--trace`.
 */
export type TraceEvent =
  | "forked"
  | "request-begun"
  | "request-ended"
  | "completed"
  | "interrupted"
  | "finalized"
  | "listening"
  | "draining"
  | "listeners-closed"
  | "drained"
  | "closed"
  | "worker-forked"
  | "worker-listening"
  | "worker-stopping"
  | "worker-exited"
  | "worker-restarting"
  | "workers-stopping"
  | "workers-stopped"
  | "events-dropped"

export interface TraceEntry {
  readonly time: Date
  readonly event: TraceEvent
  /** The connection's id, or "server" for the server scope's own steps. */
  readonly connection: string
  readonly fiber: string
  /** Who owns the fiber: the server scope's FiberSet, via the accept fiber of a listener. */
  readonly parent: string
  /** Free text: the request line, why the fiber ended, ... */
  readonly detail?: string
  /** Requests the connection served, on its end (`completed`, `interrupted`). */
  readonly served?: number
}

export type LogFormat = "text" | "json"

export interface AccessLogOptions {
  readonly format: LogFormat
  /** No access lines (errors still go to stderr). */
  readonly quiet: boolean
  /** Log connection fiber lifecycles. */
  readonly trace: boolean
  /**
   * Put before every connection id of this process's lines: "w2:" in worker
   * w2 of `server --workers`, so that `w2:c3` names one connection.
   */
  readonly connectionPrefix?: string
}

/** Where lines go: stdout for the access log and traces, stderr for errors. */
export interface LineSink {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** The server's log: access lines, connection traces, errors. */
export class AccessLog extends Context.Tag("fiberhttp/server/AccessLog")<
  AccessLog,
  {
    /** True with `--trace`, and while an inspector viewer is subscribed to `lifecycle`. */
    readonly tracing: boolean
    /**
     * True with `--trace` alone: per-request events are trace lines, a
     * viewer reads the connections' counters instead (see Lifecycle).
     */
    readonly tracesRequests: boolean
    /** False with `quiet`: callers may skip building entries (and asking the socket for the peer's address). */
    readonly logsRequests: boolean
    readonly request: (entry: AccessEntry) => Effect.Effect<void>
    /** `request`, written at once: for a response the connection answered without an Effect step. */
    readonly requestNow: (entry: AccessEntry) => void
    /**
     * Called only when `tracing`; callers check first to avoid building
     * entries. The one place lifecycle events go out: the `--trace` line and
     * the inspector's viewers get the same entry.
     */
    readonly trace: (entry: TraceEntry) => Effect.Effect<void>
    /** The lifecycle event stream the inspector subscribes to, and the snapshot of the servers. */
    readonly lifecycle: Lifecycle.Lifecycle
    readonly error: (message: string, cause?: Cause.Cause<unknown>) => Effect.Effect<void>
  }
>() {}

/**
 * An IPv4 client of a dual-stack listener (`--host ::`) arrives as an
 * IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2, "::ffff:127.0.0.1"):
 * it is the IPv4 address, and is written as one.
 */
const unmapped = (address: string): string =>
  address.length > 7 && address.slice(0, 7).toLowerCase() === "::ffff:" && address.includes(".", 7)
    ? address.slice(7)
    : address

/** host:port of a peer, with IPv6 addresses in brackets and IPv4-mapped ones as IPv4. */
export const formatPeer = (address: string, port: number): string => {
  return formatHostPort(unmapped(address), port)
}

const remoteOf = (e: AccessEntry): string => formatPeer(e.remoteAddress, e.remotePort)

/**
 * Text that may come from a client, made safe for a line of the text log:
 * controls (C0, DEL, C1: line breaks, terminal escapes) and the other
 * non-ASCII bytes of a raw request line (latin1 text) as \xHH, and `"` and
 * `\` escaped so a quoted field ends where it seems to (as nginx does). A
 * request line that parsed holds none of these; a refused one may.
 */
export const escapeText = (text: string): string =>
  text.replace(
    /[\u0000-\u001f\u007f-\u00ff"\\]/g,
    (c) => c === "\"" || c === "\\" ? "\\" + c : "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0")
  )

/**
 * A multi-line text (a cause and its stack) under its error line: each line
 * indented, so none of it, even a line break from a client inside a
 * message, can pass for a log line of its own; controls escaped.
 */
const indentLines = (text: string): string => text.split("\n").map((line) => "  " + escapeControls(line)).join("\n")

/**
 * JSON.stringify leaves DEL and C1 controls raw, and a terminal may act on
 * them; the rest of latin1 is escaped too, so that each byte a client sent
 * in a refused request line reads as one \u00XX.
 */
const stringify = (value: unknown): string =>
  JSON.stringify(value).replace(/[\u007f-\u00ff]/g, (c) => "\\u00" + c.charCodeAt(0).toString(16))

const requestText = (e: AccessEntry, prefix: string): string =>
  `${e.time.toISOString()} ${remoteOf(e)} ${prefix}${e.connection}${e.fiber} "${
    escapeText(e.requestLine)
  }" ${e.status} ${e.bytes} ${e.durationMs.toFixed(1)}ms`

const requestJson = (e: AccessEntry, prefix: string): string =>
  stringify({
    time: e.time.toISOString(),
    remote: remoteOf(e),
    connection: prefix + e.connection,
    fiber: e.fiber,
    request: e.requestLine,
    status: e.status,
    bytes: e.bytes,
    durationMs: Math.round(e.durationMs * 10) / 10
  })

const traceText = (t: TraceEntry, prefix: string): string =>
  `${t.time.toISOString()} trace ${prefix}${t.connection}${t.fiber} ${t.event} parent=${escapeControls(t.parent)}${
    t.detail === undefined ? "" : ` ${escapeControls(t.detail)}`
  }`

/** A trace entry as `--log-format json` writes it (and the inspector sends it, so a saved log replays). */
export const traceRecord = (t: TraceEntry, prefix = "") => ({
  time: t.time.toISOString(),
  trace: t.event,
  connection: prefix + t.connection,
  fiber: t.fiber,
  parent: t.parent,
  ...(t.detail === undefined ? {} : { detail: t.detail }),
  ...(t.served === undefined ? {} : { served: t.served })
})

/** JSON text safe for a terminal (see stringify). */
export const jsonLine = (value: unknown): string => stringify(value)

const traceJson = (t: TraceEntry, prefix: string): string => stringify(traceRecord(t, prefix))

const errorText = (message: string, cause: Cause.Cause<unknown> | undefined): string =>
  cause === undefined
    ? `error: ${escapeControls(message)}`
    : `error: ${escapeControls(message)}\n${indentLines(Cause.pretty(cause))}`

const errorJson = (now: number, message: string, cause: Cause.Cause<unknown> | undefined): string =>
  stringify({
    time: new Date(now).toISOString(),
    error: message,
    ...(cause === undefined ? {} : { cause: Cause.pretty(cause) })
  })

export const make = (options: AccessLogOptions, sink: LineSink): Context.Tag.Service<AccessLog> => {
  const json = options.format === "json"
  const prefix = options.connectionPrefix ?? ""
  const lifecycle = Lifecycle.make()
  const line = (entry: TraceEntry) =>
    Effect.sync(() => sink.out(json ? traceJson(entry, prefix) : traceText(entry, prefix)))
  return {
    get tracing() {
      return options.trace || lifecycle.viewers() > 0
    },
    tracesRequests: options.trace,
    lifecycle,
    logsRequests: !options.quiet,
    request: (entry) =>
      options.quiet
        ? Effect.void
        : Effect.sync(() => sink.out(json ? requestJson(entry, prefix) : requestText(entry, prefix))),
    requestNow: (entry) => {
      if (!options.quiet) sink.out(json ? requestJson(entry, prefix) : requestText(entry, prefix))
    },
    trace: options.trace
      ? (entry) => Effect.zipRight(line(entry), lifecycle.publish(entry))
      : lifecycle.publish,
    error: (message, cause) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Effect.sync(() => {
            // a worker's errors name it: "error: w2: ..."
            const text = prefix === "" ? message : `${prefix} ${message}`
            sink.err(json ? errorJson(now, text, cause) : errorText(text, cause))
          })
      )
  }
}

/** Bytes of lines held at most before they are written. */
export const MAX_HELD_LINES = 64 * 1024

/**
 * A sink that gathers the lines for `out` (access and trace lines) and
 * writes them once per turn of the event loop (in its check phase), or
 * once MAX_HELD_LINES are held, or at the process's exit: one system call
 * for the lines of all the requests a turn answered, not one each, in the
 * same order. Lines for `err` go out at once.
 */
export const gatheringSink = (write: (text: string) => void, err: (line: string) => void): LineSink => {
  let held = ""
  let scheduled = false
  let hooked = false
  const flush = () => {
    scheduled = false
    if (held.length === 0) return
    const text = held
    held = ""
    write(text)
  }
  return {
    out: (line) => {
      held += line + "\n"
      if (!hooked) {
        hooked = true
        process.on("exit", flush)
      }
      if (held.length >= MAX_HELD_LINES) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    err
  }
}

/** Lines to the process's stdout (gathered per turn, see gatheringSink) and stderr. */
export const processSink: LineSink = gatheringSink(
  (text) => void process.stdout.write(text),
  (line) => void process.stderr.write(line + "\n")
)

export const layer = (options: AccessLogOptions): Layer.Layer<AccessLog> =>
  Layer.succeed(AccessLog, make(options, processSink))

/** Keeps every line in memory, for tests. */
export const memory = (options: AccessLogOptions) => {
  const out: Array<string> = []
  const err: Array<string> = []
  return {
    out,
    err,
    layer: Layer.succeed(AccessLog, make(options, { out: (l) => out.push(l), err: (l) => err.push(l) }))
  }
}
