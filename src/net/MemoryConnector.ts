import { type Duration, Effect, Exit, FiberSet, Layer } from "effect"
import type { Connection } from "./Connection.ts"
import {
  Connector,
  type FirstFlight,
  type Resolution,
  type ResolvedAddress,
  type Span,
  type TlsOptions
} from "./Connector.ts"
import { ConnectError, ResolveError, TlsError } from "./errors.ts"
import { formatHostPort, formatTarget } from "./hostPort.ts"
import { makePipe, type Peer, toPeer } from "./MemoryPipe.ts"

/**
 * What a scripted remote server does with one connection: read the request
 * from the peer, write the response. When the script succeeds the server
 * ends (FIN) and closes the connection; when it fails, the connection is
 * reset and the failure logged. A script that never returns never closes.
 */
export type Script = (peer: Peer) => Effect.Effect<void, unknown>

export interface RemoteServer {
  readonly script?: Script
  /**
   * How connection attempts go (default "accept"): "refuse" (ConnectError
   * Refused), "unreachable" (ConnectError Unreachable), "hang" (never connects,
   * for connect timeouts).
   */
  readonly connect?: "accept" | "refuse" | "unreachable" | "hang"
  /** Time the TCP handshake takes, on the Clock (TestClock in tests). */
  readonly connectDelay?: Duration.DurationInput
  readonly tls?: {
    /** Time the TLS handshake takes. */
    readonly delay?: Duration.DurationInput
    /** The certificate does not verify: the handshake fails unless `verify` is false. */
    readonly untrusted?: boolean
    /** The handshake fails with this message whatever the options. */
    readonly fail?: string
  }
  /** Unread bytes each direction holds before writes block (default 1 MiB). */
  readonly window?: number
}

export interface MemoryConnectorOptions {
  /** Remote servers by "host:port" ("example.com:80", "10.0.0.1:8080", "[::1]:8080"). */
  readonly servers: Readonly<Record<string, Script | RemoteServer>>
  /**
   * Name resolution. By default IP literals resolve to themselves (with no
   * lookup), each host named in `servers` to an address of its own in
   * 192.0.2.0/24 (a lookup that takes no time), and any other name fails
   * with ResolveError. A resolver given here is not called for IP literals;
   * its lookup lasts as long as its effect (sleep in it for a slow DNS).
   */
  readonly resolve?: (host: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, ResolveError>
}

const defaultWindow = 1024 * 1024

const hostOfKey = (key: string) => {
  const host = key.slice(0, key.lastIndexOf(":"))
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
}

const literalFamily = (host: string): 4 | 6 | undefined =>
  host.includes(":") ? 6 : /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? 4 : undefined

const makeDefaultResolve = (keys: ReadonlyArray<string>) => {
  const known = new Map<string, string>()
  for (const host of keys.map(hostOfKey)) {
    if (literalFamily(host) === undefined && !known.has(host)) known.set(host, `192.0.2.${known.size + 1}`)
  }
  return (host: string): Effect.Effect<ReadonlyArray<ResolvedAddress>, ResolveError> => {
    const address = known.get(host)
    if (address !== undefined) return Effect.succeed([{ address, family: 4 }])
    return Effect.fail(new ResolveError({ host, message: `cannot resolve ${host}: name not found (ENOTFOUND)` }))
  }
}

/** A Connector whose remote servers are scripts run in the layer's scope. */
export const make = (options: MemoryConnectorOptions) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeNanos()
    const scripts = yield* FiberSet.make()
    const remotes = new WeakMap<Connection, RemoteServer>()
    const servers = new Map<string, RemoteServer>(
      Object.entries(options.servers).map((
        [key, value]
      ) => [key, typeof value === "function" ? { script: value } : value])
    )
    let nextLocalPort = 50000

    const lookup = options.resolve ?? makeDefaultResolve(Object.keys(options.servers))
    const resolve = (host: string): Effect.Effect<Resolution, ResolveError> => {
      const family = literalFamily(host)
      if (family !== undefined) return Effect.succeed({ addresses: [{ address: host, family }], lookup: undefined })
      return Effect.suspend(() => {
        const startedAt = now()
        return Effect.map(lookup(host), (addresses) => ({ addresses, lookup: { startedAt, endedAt: now() } }))
      })
    }

    const connect = (address: ResolvedAddress, port: number, host: string, first?: FirstFlight) =>
      Effect.gen(function*() {
        const startedAt = now()
        const remote = servers.get(formatHostPort(host, port)) ?? servers.get(formatHostPort(address.address, port))
        const target = formatTarget(host, address.address, port)
        const refused = (reason: ConnectError["reason"], what: string) =>
          new ConnectError({ host, port, reason, message: `cannot connect to ${target}: ${what}` })
        if (remote?.connectDelay !== undefined) yield* Effect.sleep(remote.connectDelay)
        if (remote === undefined || remote.connect === "refuse") return yield* refused("Refused", "connection refused")
        if (remote.connect === "unreachable") return yield* refused("Unreachable", "unreachable")
        if (remote.connect === "hang") return yield* Effect.never

        const [serverEnd, clientEnd] = makePipe({
          window: remote.window ?? defaultWindow,
          now,
          server: { address: address.address, port },
          client: { address: address.family === 6 ? "::1" : "127.0.0.1", port: nextLocalPort++ }
        })
        const connection = yield* Effect.acquireRelease(Effect.succeed(clientEnd.connection), (c) => c.destroy)
        const connectedAt = now()
        remotes.set(connection, remote)
        const script = remote.script ?? (() => Effect.never)
        yield* FiberSet.run(
          scripts,
          Effect.suspend(() => script(toPeer(serverEnd))).pipe(
            Effect.tapErrorCause((cause) => Effect.logError(`memory server ${target}: script failed`, cause)),
            Effect.zipRight(serverEnd.finish),
            Effect.onExit((exit) => (Exit.isSuccess(exit) ? serverEnd.connection.destroy : serverEnd.reset))
          )
        )
        // the bytes to send first go out as soon as connected; in memory nothing delays a reply's read
        let sent: Span | undefined
        if (first !== undefined) {
          const sentStartedAt = now()
          // a failed write fails the connection: its reads tell the caller
          yield* Effect.ignore(connection.write(first.bytes))
          sent = { startedAt: sentStartedAt, endedAt: now() }
        }
        return { connection, handshake: { startedAt, endedAt: connectedAt }, sent }
      })

    const startTls = (connection: Connection, { servername, verify }: TlsOptions) =>
      Effect.gen(function*() {
        const remote = remotes.get(connection)
        if (remote === undefined) {
          return yield* Effect.dieMessage("startTls: the connection was not opened by this connector")
        }
        const startedAt = now()
        const tls = remote.tls ?? {}
        if (tls.delay !== undefined) yield* Effect.sleep(tls.delay)
        if (tls.fail !== undefined) {
          return yield* new TlsError({
            host: servername,
            reason: "Handshake",
            message: `TLS handshake failed for ${servername}: ${tls.fail}`
          })
        }
        if (tls.untrusted === true && verify) {
          return yield* new TlsError({
            host: servername,
            reason: "Certificate",
            message: `certificate verification failed for ${servername}: self-signed certificate`
          })
        }
        // In memory the bytes need no encryption: the TLS connection is the TCP one.
        return { connection, handshake: { startedAt, endedAt: now() }, sent: undefined }
      })

    return Connector.of({ resolve, connect, startTls })
  })

export const layer = (options: MemoryConnectorOptions): Layer.Layer<Connector> => Layer.scoped(Connector, make(options))

export type { Peer } from "./MemoryPipe.ts"
