import { Chunk, Duration, Effect, type Scope, Stream } from "effect"
import page from "../../www/inspector.html?raw"
import { Headers } from "../http/Headers.ts"
import type { ListenError } from "../net/errors.ts"
import type { SocketServer } from "../net/SocketServer.ts"
import * as AccessLog from "./AccessLog.ts"
import type { Lifecycle, ViewerBatch } from "./Lifecycle.ts"
import { LogSink } from "./LogSink.ts"
import * as Server from "./Server.ts"
import type * as ServerResponse from "./ServerResponse.ts"
import { pathOfTarget } from "./StaticHandler.ts"

/**
 * The live inspector: a listener of its own, on loopback whatever the
 * served site's host, answering the view page (`/`), the event stream
 * (`/events`, Server-Sent Events: a snapshot, then a batch every 100 ms of
 * lifecycle events and changed connection figures) and a snapshot on demand
 * (`/snapshot`). It is served by the same server code as
 * the site, with a log of its own (quiet, untraced), so its own connections
 * never show in what it shows.
 */

export interface InspectorOptions {
  /** 0 picks a free port. */
  readonly port: number
  /** Events a viewer may have outstanding; past that they are dropped, and counted. */
  readonly viewerCapacity: number
  /** A viewer is sent a batch this often (see Lifecycle.subscribe). */
  readonly batchMs: number
  /** A comment this often keeps an idle stream from looking stalled to the write watchdog. */
  readonly heartbeatMs: number
}

export const defaults: Omit<InspectorOptions, "port"> = { viewerCapacity: 10_000, batchMs: 100, heartbeatMs: 10_000 }

export const HOST = "127.0.0.1"

const encoder = new TextEncoder()

const sseEvent = (name: string, data: unknown): string => `event: ${name}\ndata: ${AccessLog.jsonLine(data)}\n\n`

/**
 * A batch as one SSE event, one JSON text: `events` in the `--log-format
 * json` trace form (so a saved log replays through the same code),
 * `connections` the changed figures, `dropped` when events were lost.
 */
export const batchRecord = (batch: ViewerBatch) => ({
  events: batch.events.map((entry) => AccessLog.traceRecord(entry)),
  connections: batch.progress,
  ...(batch.dropped > 0 ? { dropped: batch.dropped } : {})
})

/** One write per chunk of batches: a viewer that fell behind takes them together. */
const encodeBatches = (batches: Chunk.Chunk<ViewerBatch>): Uint8Array => {
  let text = ""
  for (const batch of batches) text += sseEvent("batch", batchRecord(batch))
  return encoder.encode(text)
}

const PING = encoder.encode(": ping\n\n")

const json = (value: unknown): ServerResponse.ServerResponse => ({
  status: 200,
  headers: new Headers([["Content-Type", "application/json"], ["Cache-Control", "no-store"]]),
  body: { _tag: "Bytes", bytes: encoder.encode(AccessLog.jsonLine(value)) }
})

const notFound = (): ServerResponse.ServerResponse => ({
  status: 404,
  headers: new Headers([["Content-Type", "text/plain; charset=utf-8"]]),
  body: { _tag: "Bytes", bytes: encoder.encode("not found: the inspector serves /, /events and /snapshot\n") }
})

const PAGE: ServerResponse.ServerResponse = {
  status: 200,
  headers: new Headers([["Content-Type", "text/html; charset=utf-8"], ["Cache-Control", "no-store"]]),
  body: { _tag: "Bytes", bytes: encoder.encode(page) }
}

/** The inspector's answers, over the lifecycle of the served site. */
export const handler = (lifecycle: Lifecycle, options: Omit<InspectorOptions, "port">): ServerResponse.Handler => {
  const events = Stream.unwrapScoped(
    Effect.flatMap(lifecycle.subscribe(options.viewerCapacity, options.batchMs), ({ batches, snapshot }) =>
      // in a primary the workers' trees are asked for after subscribing: what happens from then on
      // is in the batches
      Effect.map(lifecycle.withWorkers(snapshot), (full) => {
        const first = encoder.encode(sseEvent("snapshot", full))
        return Stream.concat(
          Stream.make(first),
          Stream.merge(
            Stream.mapChunks(batches, (chunk) => Chunk.of(encodeBatches(chunk))),
            Stream.tick(Duration.millis(options.heartbeatMs)).pipe(Stream.drop(1), Stream.as(PING)),
            { haltStrategy: "left" }
          )
        )
      }))
  )
  const stream: ServerResponse.ServerResponse = {
    status: 200,
    headers: new Headers([["Content-Type", "text/event-stream; charset=utf-8"], ["Cache-Control", "no-store"]]),
    body: { _tag: "Stream", length: undefined, stream: events }
  }
  return (head) =>
    Effect.suspend(() => {
      if (head.method !== "GET" && head.method !== "HEAD") return Effect.succeed(notFound())
      const path = pathOfTarget(head.target)
      if (path === "/" || path === "/index.html") return Effect.succeed(PAGE)
      if (path === "/events") return Effect.succeed(stream)
      if (path === "/snapshot") {
        return Effect.map(Effect.suspend(() => lifecycle.withWorkers(lifecycle.snapshot())), json)
      }
      return Effect.succeed(notFound())
    })
}

/**
 * Serves the inspector for `lifecycle` until the scope closes. Started
 * before the site's server, it is finalized after it: `end` the lifecycle
 * between the two, so viewers see the site's whole shutdown, then their
 * streams end and this server stops.
 */
export const serve = (
  lifecycle: Lifecycle,
  options: InspectorOptions
): Effect.Effect<Server.BoundAddress, ListenError, Scope.Scope | SocketServer | LogSink> =>
  Effect.gen(function*() {
    const sink = yield* LogSink
    const ownLog = AccessLog.make({ format: "text", quiet: true, trace: false }, sink)
    const running = yield* Server.serve(
      { ...Server.defaults, host: HOST, ports: [options.port], maxConnections: 64, grace: Duration.seconds(1) },
      handler(lifecycle, options)
    ).pipe(Effect.provideService(AccessLog.AccessLog, ownLog))
    return running.addresses[0]!
  })
