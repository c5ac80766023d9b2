import type { Context } from "effect"
import { Effect, Layer, Option } from "effect"
import * as dns from "node:dns"
import * as net from "node:net"
import * as tls from "node:tls"
import * as v8 from "node:v8"
import * as vm from "node:vm"
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
import { formatTarget } from "./hostPort.ts"
import * as NodeSendQueues from "./NodeSendQueues.ts"
import { fromSocket, hrtimeNow, makeBufferedSocket } from "./NodeStreamConnection.ts"

type ErrnoError = NodeJS.ErrnoException

/** How much one read of a plain TCP connection takes from the kernel at most (two such buffers per connection). */
const READ_BUFFER = 512 * 1024

const lookup = (host: string, now: () => bigint) =>
  Effect.async<Resolution, ResolveError>((resume) => {
    const startedAt = now()
    // getaddrinfo cannot be cancelled; an interrupted lookup's answer is ignored.
    dns.lookup(host, { all: true }, (error, addresses) => {
      const endedAt = now()
      if (error !== null) {
        const code = error.code ?? ""
        const what = code === "ENOTFOUND"
          ? "name not found"
          : code === "EAI_AGAIN"
          ? "temporary failure"
          : error.message
        const message = `cannot resolve ${host}: ${what}${code === "" ? "" : ` (${code})`}`
        resume(Effect.fail(new ResolveError({ host, message, cause: error })))
      } else if (addresses.length === 0) {
        resume(Effect.fail(new ResolveError({ host, message: `cannot resolve ${host}: no addresses` })))
      } else {
        resume(Effect.succeed({
          addresses: addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 })),
          lookup: { startedAt, endedAt }
        }))
      }
    })
  })

const connectReasons: Record<string, ConnectError["reason"]> = {
  ECONNREFUSED: "Refused",
  ENETUNREACH: "Unreachable",
  EHOSTUNREACH: "Unreachable"
}

const connectMessages: Record<ConnectError["reason"], string> = {
  Refused: "connection refused",
  Unreachable: "unreachable",
  Unknown: "connection failed"
}

/** An IP literal is its own address: no lookup, no DNS phase. */
const resolve = (now: () => bigint) => (host: string): Effect.Effect<Resolution, ResolveError> => {
  const family = net.isIP(host)
  if (family === 0) return lookup(host, now)
  return Effect.succeed({ addresses: [{ address: host, family: family === 6 ? 6 : 4 }], lookup: undefined })
}

/**
 * What a new socket's own callbacks saw: the handshake's end (its first
 * 'connect' listener) and, for a first flight, its write; `changed` is
 * called when one of them, or a reply, arrives.
 */
interface Opening {
  connectedAt: bigint
  writeStartedAt: bigint
  writeEndedAt: bigint
  replied: boolean
  changed: () => void
}

/**
 * Waits for the TCP handshake. With `first`, whose bytes Node writes from
 * the connect callback (see `connect`), also for that write; with
 * `first.awaitReplyFor`, answers only once a reply began to arrive, the
 * connection ended or failed, or that many milliseconds passed: the fiber
 * resumed by the answer does its work after the read callback that timed
 * the reply, not before it. Interruption (a connect timeout) destroys the
 * socket at once.
 */
const awaitConnect = (
  socket: net.Socket,
  address: ResolvedAddress,
  port: number,
  host: string,
  opening: Opening,
  first: FirstFlight | undefined
) =>
  Effect.async<Span | undefined, ConnectError>((resume) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let connected = false
    const onReplied = () => {
      opening.replied = true
      settle()
    }
    const quiet = () => {
      socket.off("connect", onConnect)
      socket.off("error", onError)
      socket.off("end", onReplied)
      socket.off("close", onReplied)
      socket.off("error", onReplied)
      if (timer !== undefined) clearTimeout(timer)
      opening.changed = () => {}
    }
    const settle = () => {
      if (!connected || (first !== undefined && (opening.writeEndedAt === 0n || !opening.replied))) return
      quiet()
      resume(
        Effect.succeed(
          first === undefined ? undefined : { startedAt: opening.writeStartedAt, endedAt: opening.writeEndedAt }
        )
      )
    }
    const onError = (error: ErrnoError) => {
      quiet()
      const code = error.code ?? ""
      const reason = connectReasons[code] ?? "Unknown"
      const target = formatTarget(host, address.address, port)
      const detail = reason === "Unknown" ? `: ${error.message}` : code === "" ? "" : ` (${code})`
      const message = `cannot connect to ${target}: ${connectMessages[reason]}${detail}`
      resume(Effect.fail(new ConnectError({ host, port, reason, message, cause: error })))
    }
    const onConnect = () => {
      connected = true
      socket.off("error", onError)
      if (first !== undefined && !opening.replied) {
        opening.changed = settle
        socket.once("end", onReplied)
        socket.once("close", onReplied)
        socket.once("error", onReplied)
        timer = setTimeout(onReplied, first.awaitReplyFor)
      }
      settle()
    }
    opening.replied = first === undefined || first.awaitReplyFor <= 0
    socket.once("error", onError)
    socket.once("connect", onConnect)
    return Effect.sync(() => {
      quiet()
      socket.destroy()
    })
  })

const certificateCode = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH/

const toTlsError = (host: string, error: ErrnoError): TlsError => {
  const code = error.code ?? ""
  const certificate = certificateCode.test(code)
  const what = certificate ? "certificate verification failed" : "TLS handshake failed"
  // OpenSSL errors carry a short `reason` ("wrong version number") besides their long message.
  const detail = (error as { reason?: unknown }).reason
  const text = typeof detail === "string" && detail !== "" ? detail : error.message
  const message = `${what} for ${host}: ${text}${code === "" ? "" : ` (${code})`}`
  return new TlsError({ host, reason: certificate ? "Certificate" : "Handshake", message, cause: error })
}

/** Waits for the TLS handshake (and, with `verify`, the certificate check), giving the instant it ended; interruption destroys the socket. */
const awaitHandshake = (socket: tls.TLSSocket, host: string, now: () => bigint) =>
  Effect.async<bigint, TlsError>((resume) => {
    const done = () => {
      socket.off("secureConnect", onSecure)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const onSecure = () => {
      const securedAt = now()
      done()
      resume(Effect.succeed(securedAt))
    }
    const onError = (error: ErrnoError) => {
      done()
      socket.on("error", () => {})
      resume(Effect.fail(toTlsError(host, error)))
    }
    const onClose = () => {
      done()
      resume(
        Effect.fail(
          new TlsError({
            host,
            reason: "Handshake",
            message: `TLS handshake failed for ${host}: connection closed by peer`
          })
        )
      )
    }
    socket.once("secureConnect", onSecure)
    socket.once("error", onError)
    socket.once("close", onClose)
    return Effect.sync(() => {
      done()
      socket.on("error", () => {})
      socket.destroy()
    })
  })

/**
 * Empties V8's young generation. Start-up and the warm-up leave it nearly
 * full, and V8 then schedules a scavenge that the event loop runs as soon as
 * it is free: right after `connect(2)`, inside the connect figure (0.3 ms).
 * Collected before the clock starts, it is not due again for a while. Node
 * exposes `gc` only under --expose-gc, which V8 honours for a context made
 * while it is set; the flag is unset again at once, since V8 refuses a code
 * cache (dist/fiberhttp.cjs.cache) written under other flags.
 */
const collectYoungGeneration = () => {
  try {
    v8.setFlagsFromString("--expose-gc")
    const gc = vm.runInNewContext("gc") as (options: { type: "minor" }) => void
    v8.setFlagsFromString("--no-expose-gc")
    gc({ type: "minor" })
  } catch {
    // no collection: the connect figure may then hold one
  }
}

/**
 * The node:net / node:tls Connector; its instants are on `now` (by default
 * the high-resolution monotonic clock), taken in the sockets' callbacks.
 */
export const make = (now: () => bigint = hrtimeNow): Effect.Effect<Context.Tag.Service<typeof Connector>> =>
  Effect.sync(() => {
    // The node socket under each TCP connection this connector opened, for startTls.
    const sockets = new WeakMap<Connection, net.Socket>()
    let tlsReady = false
    const sendQueues = NodeSendQueues.make()

    const open = (address: ResolvedAddress, port: number, host: string, first?: FirstFlight) =>
      Effect.gen(function*() {
        let startedAt = 0n
        const opening: Opening = {
          connectedAt: 0n,
          writeStartedAt: 0n,
          writeEndedAt: 0n,
          replied: false,
          changed: () => {}
        }
        const opened = yield* Effect.acquireRelease(
          Effect.try({
            try: () => {
              const { reads, socket } = makeBufferedSocket(READ_BUFFER, { allowHalfOpen: true }, now)
              // the connection is set up before the clock starts, so that its set-up is in no phase
              const connection = fromSocket(socket, {
                now,
                sendQueues,
                reads: {
                  take: reads.take,
                  listen: (callback) =>
                    reads.listen(() => {
                      if (!opening.replied) {
                        opening.replied = true
                        opening.changed()
                      }
                      callback()
                    })
                }
              })
              // Node issues connect(2) on the next tick, after setting the socket up; it
              // says so just before with 'connectionAttempt' (Node 20.12 and later).
              socket.once("connectionAttempt", () => {
                startedAt = now()
              })
              socket.connect({ host: address.address, port, family: address.family, noDelay: true })
              if (startedAt === 0n) startedAt = now()
              // the first 'connect' listener: the handshake's end, before anything else runs
              socket.once("connect", () => {
                opening.connectedAt = now()
                opening.writeStartedAt = opening.connectedAt
              })
              if (first !== undefined) {
                // A write while connecting is taken through the stream's
                // machinery now, in the set-up, and handed to the kernel by a
                // 'connect' listener of Node's own, registered by this write:
                // right after the one above.
                socket.write(first.bytes, () => {
                  if (opening.writeEndedAt === 0n) opening.writeEndedAt = now()
                  opening.changed()
                })
                socket.once("connect", () => {
                  if (socket.writableLength === 0 && opening.writeEndedAt === 0n) opening.writeEndedAt = now()
                })
              }
              return { socket, connection }
            },
            // A bad port or address throws instead of emitting 'error'.
            catch: (error) => {
              const message = `cannot connect to ${formatTarget(host, address.address, port)}: ${
                (error as Error).message
              }`
              return new ConnectError({ host, port, reason: "Unknown", message, cause: error })
            }
          }),
          ({ socket }) => Effect.sync(() => socket.destroy())
        )
        const sent = yield* awaitConnect(opened.socket, address, port, host, opening, first)
        sockets.set(opened.connection, opened.socket)
        return { connection: opened.connection, handshake: { startedAt, endedAt: opening.connectedAt }, sent }
      })

    const startTls = (connection: Connection, { ca, servername, verify }: TlsOptions) =>
      Effect.gen(function*() {
        const socket = sockets.get(connection)
        if (socket === undefined) {
          return yield* Effect.dieMessage("startTls: the connection was not opened by this connector")
        }
        // The system's root certificates are loaded once per process, with
        // the first context: before the handshake's clock starts.
        if (!tlsReady) {
          tls.createSecureContext()
          tlsReady = true
        }
        let startedAt = 0n
        // The TLS socket inherits allowHalfOpen from the TCP socket it wraps.
        const tlsSocket = yield* Effect.acquireRelease(
          Effect.sync(() => {
            startedAt = now()
            return tls.connect({
              socket,
              host: servername,
              // SNI carries host names only, never IP literals (RFC 6066 section 3).
              ...(net.isIP(servername) === 0 ? { servername } : {}),
              rejectUnauthorized: verify,
              ...(ca === undefined ? {} : { ca: [...ca] }),
              ALPNProtocols: ["http/1.1"]
            })
          }),
          (tlsSocket) => Effect.sync(() => tlsSocket.destroy())
        )
        const securedAt = yield* awaitHandshake(tlsSocket, servername, now)
        return {
          connection: fromSocket(tlsSocket, { id: connection.id, now, sendQueues }),
          handshake: { startedAt, endedAt: securedAt },
          sent: undefined
        }
      })

    /**
     * One exchange over loopback with a listener of our own, before the first
     * connection: Node compiles its socket code (connect, the write taken
     * while connecting, the read callback, teardown) lazily, and the first
     * connection of a process would otherwise spend about a millisecond of
     * that inside its connect and first-byte figures. Any failure (no
     * loopback) is ignored: the connection that follows only measures slower.
     */
    const warmUp = Effect.scoped(
      Effect.gen(function*() {
        const server = net.createServer({ allowHalfOpen: true }, (socket) => {
          socket.on("error", () => {})
          socket.once("data", () => socket.end("HTTP/1.1 204 \r\n\r\n"))
        })
        const closed = Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
        yield* Effect.acquireRelease(
          Effect.async<void, Error>((resume) => {
            server.once("error", (error) => resume(Effect.fail(error)))
            server.listen(0, "127.0.0.1", () => resume(Effect.void))
          }),
          () => closed
        )
        const { port } = server.address() as net.AddressInfo
        const loopback: ResolvedAddress = { address: "127.0.0.1", family: 4 }
        const first = { bytes: new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), awaitReplyFor: 100 }
        const { connection } = yield* open(loopback, port, "127.0.0.1", first)
        while (Option.isSome(yield* connection.read));
        yield* connection.destroy
      })
    ).pipe(Effect.timeout(1000), Effect.ignore, Effect.zipRight(Effect.sync(collectYoungGeneration)))
    let warm = false

    const connect = (address: ResolvedAddress, port: number, host: string, first?: FirstFlight) =>
      warm ? open(address, port, host, first) : Effect.zipRight(
        Effect.suspend(() => {
          warm = true
          return warmUp
        }),
        open(address, port, host, first)
      )

    return Connector.of({ resolve: resolve(now), connect, startTls })
  })

export const layer: Layer.Layer<Connector> = Layer.effect(Connector, make())
