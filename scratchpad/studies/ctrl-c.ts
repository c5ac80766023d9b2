/**
 * Study: Ctrl-C on a busy server.
 *
 * Starts fiberhttp's real server (Server.serve over the node:net socket
 * service and the static files of a temporary directory) in a fiber, opens
 * three connections with raw node:net sockets in this same process:
 *   A  idle keep-alive: one request answered, then nothing;
 *   B  mid-headers: half a request head sent, the rest never comes;
 *   C  mid-download: asks for a 64 MiB file and never reads a byte;
 * then interrupts the server fiber, which is what Ctrl-C does to the CLI
 * (NodeRuntime.runMain interrupts the main fiber). The server's log service
 * is replaced by one that stamps every trace event (the `--trace` events) on
 * a shared timeline, next to the clients' socket events and the first moment
 * this script can bind the port again.
 *
 * What to watch for:
 * - the port is free a few milliseconds after the interrupt: listeners close
 *   first, long before the last connection is gone;
 * - A and B are interrupted at once (they were between requests); C's
 *   response may go on for the grace period (1 s here), but its writes make
 *   no progress (its reader never drains the socket), so after 0.5 s without
 *   progress it is given up ("reader stalled") rather than waited for;
 * - every connection fiber ends with "finalized": its release destroyed the
 *   socket, even C's, whose peer never read; a destroy does not wait for
 *   queued bytes, so no finalizer hangs;
 * - the server fiber ends (its scope closed) right after the last finalizer.
 *
 * Run: node --import tsx scratchpad/studies/ctrl-c.ts
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { type Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeFileAccess from "../../src/files/NodeFileAccess.ts"
import * as StaticFiles from "../../src/files/StaticFilesLayer.ts"
import * as NodeSocketServer from "../../src/net/NodeSocketServer.ts"
import { AccessLog } from "../../src/server/AccessLog.ts"
import * as Lifecycle from "../../src/server/Lifecycle.ts"
import * as Server from "../../src/server/Server.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"

const HOST = "127.0.0.1"
const GRACE = Duration.seconds(1)
/** The stalled-reader timeout, shortened so that the study ends even if shutdown does not interrupt C. */
const WRITE_TIMEOUT = Duration.seconds(5)

// The timeline: milliseconds since the start, who, what.
const start = performance.now()
// `what` may be computed at print time, once every client's port is known.
const timeline: Array<{ readonly ms: number; readonly who: string; readonly what: string | (() => string) }> = []
const note = (who: string, what: string | (() => string)) =>
  void timeline.push({ ms: performance.now() - start, who, what })
const noteEffect = (who: string, what: string | (() => string)) => Effect.sync(() => note(who, what))

/** Client labels by local port, so that server events name A, B and C too. */
const labels = new Map<number, string>()
const labelOf = (detail: string | undefined) => {
  const port = /:(\d+)$/.exec(detail ?? "")?.[1]
  return port === undefined ? "" : ` (${labels.get(Number(port)) ?? "?"})`
}

/** The server's log service, writing onto the timeline instead of stdout. */
const timelineLog: Context.Tag.Service<AccessLog> = {
  tracing: true,
  tracesRequests: true,
  logsRequests: true,
  requestNow: () => {},
  lifecycle: Lifecycle.make(),
  request: (e) =>
    noteEffect("server", `${e.connection}${e.fiber} access: "${e.requestLine}" ${e.status}, ${e.bytes} body bytes`),
  trace: (e) =>
    noteEffect("server", () =>
      `${e.connection}${e.fiber} ${e.event}` +
      (e.event === "forked"
        ? ` ${e.detail ?? ""}${labelOf(e.detail)} parent=${e.parent}`
        : e.detail === undefined
        ? ""
        : ` ${e.detail}`)),
  error: (message) => noteEffect("server", `error: ${message}`)
}

/** A raw client socket whose life is noted on the timeline. */
const connect = (label: string, port: number) =>
  Effect.async<net.Socket, Error>((resume) => {
    const socket = net.connect({ host: HOST, port }, () => {
      labels.set(socket.localPort ?? 0, label)
      note("client", `${label}: connected from port ${socket.localPort}`)
      resume(Effect.succeed(socket))
    })
    socket.on("end", () => note("client", `${label}: the server closed the connection (FIN)`))
    socket.on("close", (hadError) => note("client", `${label}: socket closed${hadError ? " with an error" : ""}`))
    socket.on("error", (error) => note("client", `${label}: ${error.message}`))
  })

/** Tries to bind the port once; true if it could (and releases it again). */
const bindOnce = (port: number) =>
  Effect.async<boolean>((resume) => {
    const probe = net.createServer()
    probe.once("error", () => resume(Effect.succeed(false)))
    probe.listen({ host: HOST, port, exclusive: true }, () => probe.close(() => resume(Effect.succeed(true))))
  })

const program = Effect.gen(function*() {
  const root = mkdtempSync(join(tmpdir(), "fiberhttp-ctrl-c-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(root, { recursive: true, force: true })))
  writeFileSync(join(root, "index.html"), "<!doctype html><title>ctrl-c</title><p>hello\n")
  writeFileSync(join(root, "big.bin"), "")
  truncateSync(join(root, "big.bin"), 64 * 1024 * 1024) // sparse: 64 MiB of zeros

  const layers = Layer.mergeAll(StaticFiles.layer(root), NodeSocketServer.layer, Layer.succeed(AccessLog, timelineLog))
    .pipe(
      Layer.provide(Layer.merge(NodeContext.layer, NodeFileAccess.layer))
    )
  const ready = yield* Deferred.make<number>()
  const server = yield* Effect.gen(function*() {
    const handler = yield* StaticHandler.make({ listing: false, dotfiles: false })
    const running = yield* Server.serve({
      ...Server.defaults,
      host: HOST,
      ports: [0],
      grace: GRACE,
      writeTimeout: WRITE_TIMEOUT
    }, handler)
    yield* Deferred.succeed(ready, running.addresses[0]!.port)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(layers), Effect.fork)
  const port = yield* Deferred.await(ready)
  note("study", `server listening on ${HOST}:${port}, grace ${Duration.format(GRACE)}`)

  const a = yield* connect("A", port)
  a.write("GET / HTTP/1.1\r\nHost: study\r\n\r\n")
  yield* Effect.async<void>((resume) => void a.once("data", () => resume(Effect.void)))
  note("client", "A: response received; the connection stays open (keep-alive)")

  const b = yield* connect("B", port)
  b.write("GET / HTTP/1.1\r\nHost: stu")
  note("client", "B: sent half a request head")

  const c = yield* connect("C", port)
  c.pause() // never reads: the kernel buffers fill, then the server's writes wait for 'drain'
  c.write("GET /big.bin HTTP/1.1\r\nHost: study\r\n\r\n")
  note("client", "C: asked for /big.bin (64 MiB) and never reads")

  yield* Effect.sleep("500 millis")
  note("study", `binding ${HOST}:${port} now: ${(yield* bindOnce(port)) ? "free (unexpected)" : "in use, as expected"}`)

  note("study", "interrupting the server fiber (what Ctrl-C does)")
  const portWatch = yield* Effect.fork(
    bindOnce(port).pipe(
      Effect.repeat({ schedule: Schedule.spaced("2 millis"), until: (free) => free }),
      Effect.zipRight(noteEffect("study", `port ${port} can be bound again`))
    )
  )
  const exit = yield* Fiber.interrupt(server)
  note(
    "study",
    `server fiber ended: ${
      Exit.isInterrupted(exit) ? "interrupted, its scope closed" : Exit.isSuccess(exit) ? "succeeded" : "failed"
    }`
  )
  yield* Fiber.join(portWatch).pipe(Effect.timeout("3 seconds"), Effect.ignore)
  yield* Effect.sleep("50 millis") // lets the clients see their sockets close
  for (const socket of [a, b, c]) socket.destroy()

  const interruptedAt = timeline.find((e) => e.what === "interrupting the server fiber (what Ctrl-C does)")!.ms
  const text = (what: string | (() => string)) => (typeof what === "string" ? what : what())
  console.log("     ms  after Ctrl-C  who     event")
  for (const { ms, who, what } of timeline) {
    const after = ms >= interruptedAt ? `+${(ms - interruptedAt).toFixed(1)}` : ""
    console.log(`${ms.toFixed(1).padStart(7)}  ${after.padStart(12)}  ${who.padEnd(6)}  ${text(what)}`)
  }
  // connection events read "c3#18 finalized ..."; the server scope's own "closed" line also says "finalized"
  const finalized = timeline.filter((e) => e.who === "server" && /^c\d+#\d+ finalized/.test(text(e.what)))
  const last = Math.max(...finalized.map((e) => e.ms)) - interruptedAt
  const limit = Duration.toMillis(GRACE) + 250
  console.log(
    `\n${finalized.length} of 3 connection fibers finalized; the last ${last.toFixed(0)} ms after the interrupt ` +
      (last <= limit
        ? `(within the ${Duration.format(GRACE)} grace period and a little).`
        : `(LATE: more than the ${Duration.format(GRACE)} grace period; shutdown did not interrupt C in time).`)
  )
})

NodeRuntime.runMain(Effect.scoped(program))
