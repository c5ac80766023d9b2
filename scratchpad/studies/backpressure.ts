/**
 * Study: backpressure, a slow reader downloading a large file.
 *
 * Starts fiberhttp's real server (Server.serve over the node:net socket
 * service, files from a temporary directory holding a 256 MiB sparse file)
 * in this process, and a raw node:net client that asks for the file and then
 * reads at most 64 KiB every 100 ms (about 640 KiB/s). The socket service is
 * wrapped so that the study can count the bytes the server has written
 * (each `write` counts once the socket has taken the chunk). Every 250 ms it
 * prints what the reader has read, what the server has written, the
 * difference (bytes in flight: Node's and the kernel's socket buffers on both
 * sides) and this process's memory. Stops after about 5 s.
 *
 * What to watch for:
 * - the server writes only about as fast as the reader reads: after the
 *   socket buffers have filled in the first moments, "written" grows at the
 *   reader's pace, not the disk's; the file is never read ahead;
 * - "in flight" stays bounded (a few MiB of kernel buffers on loopback);
 * - memory (rss, external, arrayBuffers) stays flat while 256 MiB sit on
 *   disk: each 64 KiB chunk is read from the file only when the previous one
 *   was taken by the socket, so nothing queues in the server.
 *
 * Run: node --import tsx scratchpad/studies/backpressure.ts
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { type Context, Deferred, Effect, Fiber, Layer, Schedule } from "effect"
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as NodeFileAccess from "../../src/files/NodeFileAccess.ts"
import * as StaticFiles from "../../src/files/StaticFilesLayer.ts"
import * as NodeSocketServer from "../../src/net/NodeSocketServer.ts"
import { SocketServer } from "../../src/net/SocketServer.ts"
import { AccessLog } from "../../src/server/AccessLog.ts"
import * as Lifecycle from "../../src/server/Lifecycle.ts"
import * as Server from "../../src/server/Server.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"

const HOST = "127.0.0.1"
const FILE_SIZE = 256 * 1024 * 1024
const READ_AT_MOST = 64 * 1024
const RUN_FOR_MS = 5_000

let written = 0
let read = 0

/** The node:net socket service, with every completed write counted. */
const countingSocketServer = Layer.effect(
  SocketServer,
  Effect.map(NodeSocketServer.make, (inner) =>
    SocketServer.of({
      listen: (options) =>
        Effect.map(inner.listen(options), (listener) => ({
          ...listener,
          accept: Effect.map(listener.accept, (conn) => ({
            ...conn,
            write: (chunk: Uint8Array) => Effect.tap(conn.write(chunk), () => void (written += chunk.length))
          }))
        }))
    }))
)

const accessLines: Array<string> = []
const quietLog: Context.Tag.Service<AccessLog> = {
  tracing: false,
  tracesRequests: false,
  logsRequests: true,
  requestNow: () => {},
  lifecycle: Lifecycle.make(),
  request: (e) => Effect.sync(() => void accessLines.push(`"${e.requestLine}" ${e.status}, ${e.bytes} body bytes`)),
  trace: () => Effect.void,
  error: (message) => Effect.sync(() => void accessLines.push(`error: ${message}`))
}

// Memory is sampled after a full garbage collection, so that it shows what is
// retained, not the read chunks waiting to be collected.
setFlagsFromString("--expose-gc")
const collectGarbage = runInNewContext("gc") as () => void

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2).padStart(7)

const program = Effect.gen(function*() {
  const root = mkdtempSync(join(tmpdir(), "fiberhttp-backpressure-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(root, { recursive: true, force: true })))
  writeFileSync(join(root, "big.bin"), "")
  truncateSync(join(root, "big.bin"), FILE_SIZE) // sparse: no disk space used, still read through the file system

  const layers = Layer.mergeAll(StaticFiles.layer(root), countingSocketServer, Layer.succeed(AccessLog, quietLog)).pipe(
    Layer.provide(Layer.merge(NodeContext.layer, NodeFileAccess.layer))
  )
  const ready = yield* Deferred.make<number>()
  const server = yield* Effect.gen(function*() {
    const handler = yield* StaticHandler.make({ listing: false, dotfiles: false })
    const running = yield* Server.serve({ ...Server.defaults, host: HOST, ports: [0] }, handler)
    yield* Deferred.succeed(ready, running.addresses[0]!.port)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(layers), Effect.fork)
  const port = yield* Deferred.await(ready)

  collectGarbage()
  const before = process.memoryUsage()
  const socket = yield* Effect.acquireRelease(
    Effect.async<net.Socket, Error>((resume) => {
      const s = net.connect({ host: HOST, port }, () => resume(Effect.succeed(s)))
      s.once("error", (error) => resume(Effect.fail(error)))
    }),
    (s) => Effect.sync(() => s.destroy())
  )
  // No 'data' listener: the socket stays paused and Node reads from the kernel only when we call read().
  socket.write("GET /big.bin HTTP/1.1\r\nHost: study\r\n\r\n")

  const readSome = Effect.sync(() => {
    let taken = 0
    while (taken < READ_AT_MOST) {
      const chunk: Buffer | null = socket.read()
      if (chunk === null) break
      taken += chunk.length
    }
    read += taken
  })
  const reader = yield* Effect.forkScoped(Effect.repeat(readSome, Schedule.spaced("100 millis")))

  console.log(
    `a ${mib(FILE_SIZE).trim()} MiB file, a reader taking at most ${
      READ_AT_MOST / 1024
    } KiB every 100 ms; all figures in MiB`
  )
  console.log(
    `memory before the download: rss ${mib(before.rss)}, external ${mib(before.external)}, arrayBuffers ${
      mib(before.arrayBuffers)
    }\n`
  )
  console.log(
    "    ms      read  written  in flight  reader buf |  memory after GC: rss  heapUsed  external  arrayBuffers"
  )
  const started = performance.now()
  const rss: Array<number> = []
  const sample = Effect.sync(() => {
    collectGarbage()
    const m = process.memoryUsage()
    rss.push(m.rss)
    console.log(
      `${(performance.now() - started).toFixed(0).padStart(6)}  ${mib(read)}  ${mib(written)}    ${
        mib(written - read)
      }     ${mib(socket.readableLength)} |                  ${mib(m.rss)}   ${mib(m.heapUsed)}   ${
        mib(m.external)
      }       ${mib(m.arrayBuffers)}`
    )
  })
  yield* sample.pipe(
    Effect.repeat({ schedule: Schedule.fixed("250 millis"), until: () => performance.now() - started >= RUN_FOR_MS })
  )

  const settled = rss.slice(4) // after the first second
  console.log(
    `\nafter the first second, rss stayed within ${mib(Math.min(...settled)).trim()} .. ${
      mib(Math.max(...settled)).trim()
    } MiB; ` +
      `the server wrote ${mib(written).trim()} MiB of the ${mib(FILE_SIZE).trim()} MiB file, ${
        mib(written - read).trim()
      } MiB ahead of the reader.`
  )

  // The reader goes away: the server's next write fails and its connection fiber ends and is finalized.
  yield* Fiber.interrupt(reader)
  socket.destroy()
  yield* Effect.sleep("10 millis").pipe(
    Effect.repeat({ until: () => accessLines.length > 0 }),
    Effect.timeout("2 seconds"),
    Effect.ignore
  )
  yield* Fiber.interrupt(server)
  console.log(`reader gone, server stopped; its access log: ${accessLines.join("; ") || "(empty)"}`)
})

NodeRuntime.runMain(Effect.scoped(program))
