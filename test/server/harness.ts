import { Chunk, Context, Effect, Exit, Layer, Option, Scope, TestClock } from "effect"
import { MemoryNetwork, type PeerOptions } from "../../src/net/MemoryNetwork.ts"
import * as MemoryNet from "../../src/net/MemoryNetwork.ts"
import type { Peer } from "../../src/net/MemoryPipe.ts"
import * as AccessLog from "../../src/server/AccessLog.ts"
import * as Server from "../../src/server/Server.ts"
import type { Handler } from "../../src/server/ServerResponse.ts"
import * as StaticHandler from "../../src/server/StaticHandler.ts"
import { siteLayer } from "./fixtures.ts"

export interface ParsedResponse {
  readonly status: number
  readonly headers: Map<string, string>
  readonly body: Uint8Array
  readonly text: string
}

const decoder = new TextDecoder()
const HEAD_END = new Uint8Array([13, 10, 13, 10])

const indexOfHeadEnd = (bytes: Uint8Array): number =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(HEAD_END)

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** A test client over an in-memory peer: sends raw bytes, reads Content-Length framed responses in order. */
export class Client {
  private buffer: Uint8Array = new Uint8Array(0)
  /** Set once the server ended or reset the connection. */
  eof = false
  constructor(readonly peer: Peer) {}

  send(data: string | Uint8Array) {
    return this.peer.write(data)
  }

  private fill: Effect.Effect<boolean> = Effect.gen(this, function*() {
    if (this.eof) return false
    const next = yield* Effect.either(this.peer.read)
    if (next._tag === "Left" || Option.isNone(next.right)) {
      this.eof = true
      return false
    }
    this.buffer = concat(this.buffer, next.right.value)
    return true
  })

  /** The next response, or undefined if the connection ended before one arrived. `head`: no body expected. */
  response(options: { readonly head?: boolean } = {}): Effect.Effect<ParsedResponse | undefined> {
    return Effect.gen(this, function*() {
      let end = indexOfHeadEnd(this.buffer)
      while (end === -1) {
        if (!(yield* this.fill)) return undefined
        end = indexOfHeadEnd(this.buffer)
      }
      const lines = decoder.decode(this.buffer.subarray(0, end)).split("\r\n")
      const status = Number(lines[0]!.split(" ")[1])
      const headers = new Map<string, string>()
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":")
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
      }
      const bodyless = options.head === true || status === 204 || status === 304
      const length = bodyless ? 0 : Number(headers.get("content-length") ?? "0")
      const start = end + 4
      while (this.buffer.length < start + length) {
        if (!(yield* this.fill)) break
      }
      const body = this.buffer.slice(start, start + length)
      this.buffer = this.buffer.slice(start + length)
      return { status, headers, body, text: decoder.decode(body) }
    })
  }

  /** Reads until the server ends or resets the connection; returns the bytes that came first. */
  get untilClosed(): Effect.Effect<string> {
    return Effect.gen(this, function*() {
      while (yield* this.fill) { /* keep reading */ }
      const rest = decoder.decode(this.buffer)
      this.buffer = new Uint8Array(0)
      return rest
    })
  }
}

/** Lets real I/O (file reads) and other fibers run: a macrotask turn. */
export const tick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/**
 * Waits until a sleep is scheduled on the TestClock (the server sits in a
 * timeout), optionally one waking at a given instant, before a test adjusts it.
 */
export const untilSleeping = (wakingAt: (instant: number) => boolean = () => true) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3000; i++) {
      if (Chunk.some(yield* TestClock.sleeps(), wakingAt)) return
      yield* tick
    }
    return yield* Effect.die(new Error("expected a pending sleep"))
  })

/** Waits until `condition` holds, letting I/O run between checks. */
export const until = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3000; i++) {
      if (condition()) return
      yield* tick
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

const servicesLayer = Layer.merge(MemoryNet.layer, siteLayer)

export interface Harness {
  readonly port: number
  readonly log: { readonly out: Array<string>; readonly err: Array<string> }
  readonly network: Context.Tag.Service<MemoryNetwork>
  /** The services the server runs on (in-memory network, site, log). */
  readonly context: Context.Context<Layer.Layer.Success<typeof servicesLayer> | AccessLog.AccessLog>
  readonly connect: (options?: PeerOptions) => Effect.Effect<Client, never, Scope.Scope>
  /** Closes the server's scope (shutdown), as Ctrl-C would. */
  readonly shutdown: Effect.Effect<void>
}

export interface HarnessOptions {
  readonly config?: Partial<Server.ServerConfig>
  readonly static?: StaticHandler.StaticOptions
  readonly handler?: Handler
  readonly trace?: boolean
  /** Changes the server's log service (the memory log's lines are still kept). */
  readonly wrapLog?: (log: Context.Tag.Service<AccessLog.AccessLog>) => Context.Tag.Service<AccessLog.AccessLog>
}

/** A server over the in-memory network and a temporary site, in a scope of its own. */
export const startServer = (options: HarnessOptions = {}) =>
  Effect.gen(function*() {
    const log = AccessLog.memory({ format: "text", quiet: false, trace: options.trace ?? false })
    const wrapLog = options.wrapLog
    const logLayer = wrapLog === undefined
      ? log.layer
      : Layer.effect(AccessLog.AccessLog, Effect.map(AccessLog.AccessLog, wrapLog)).pipe(Layer.provide(log.layer))
    const context = yield* Layer.build(Layer.mergeAll(servicesLayer, logLayer))
    const handler = options.handler ??
      (yield* StaticHandler.make(options.static ?? { listing: false, dotfiles: false }).pipe(Effect.provide(context)))
    const serverScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(serverScope, Exit.void))
    const running = yield* Server.serve({ ...Server.defaults, ports: [0], ...options.config }, handler).pipe(
      Scope.extend(serverScope),
      Effect.provide(context)
    )
    const network = Context.get(context, MemoryNetwork)
    const port = running.addresses[0]!.port
    const harness: Harness = {
      port,
      log,
      network,
      context,
      connect: (peerOptions) =>
        Effect.map(Effect.orDie(network.connect(port, peerOptions)), (peer) => new Client(peer)),
      shutdown: Scope.close(serverScope, Exit.void)
    }
    return harness
  })

export const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`
