import type { Context } from "effect"
import { Effect, Layer } from "effect"
import * as dns from "node:dns"
import * as net from "node:net"
import * as tls from "node:tls"
import type { Connection } from "./Connection.ts"
import { Connector, type Resolution, type ResolvedAddress, type TlsOptions } from "./Connector.ts"
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

/** Waits for the TCP handshake, and gives the instant of the connect callback; interruption (a connect timeout) destroys the socket at once. */
const awaitConnect = (
  socket: net.Socket,
  address: ResolvedAddress,
  port: number,
  host: string,
  now: () => bigint
) =>
  Effect.async<bigint, ConnectError>((resume) => {
    const onError = (error: ErrnoError) => {
      socket.off("connect", onConnect)
      const code = error.code ?? ""
      const reason = connectReasons[code] ?? "Unknown"
      const target = formatTarget(host, address.address, port)
      const detail = reason === "Unknown" ? `: ${error.message}` : code === "" ? "" : ` (${code})`
      const message = `cannot connect to ${target}: ${connectMessages[reason]}${detail}`
      resume(Effect.fail(new ConnectError({ host, port, reason, message, cause: error })))
    }
    const onConnect = () => {
      const connectedAt = now()
      socket.off("error", onError)
      resume(Effect.succeed(connectedAt))
    }
    socket.once("error", onError)
    socket.once("connect", onConnect)
    return Effect.sync(() => {
      socket.off("connect", onConnect)
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
 * The node:net / node:tls Connector; its instants are on `now` (by default
 * the high-resolution monotonic clock), taken in the sockets' callbacks.
 */
export const make = (now: () => bigint = hrtimeNow): Effect.Effect<Context.Tag.Service<typeof Connector>> =>
  Effect.sync(() => {
    // The node socket under each TCP connection this connector opened, for startTls.
    const sockets = new WeakMap<Connection, net.Socket>()
    let tlsReady = false
    const sendQueues = NodeSendQueues.make()

    const connect = (address: ResolvedAddress, port: number, host: string) =>
      Effect.gen(function*() {
        let startedAt = 0n
        const socket = yield* Effect.acquireRelease(
          Effect.try({
            try: () => {
              const { reads, socket } = makeBufferedSocket(READ_BUFFER, { allowHalfOpen: true }, now)
              // Node issues connect(2) on the next tick, after setting the socket up; it
              // says so just before with 'connectionAttempt' (Node 20.12 and later).
              socket.once("connectionAttempt", () => {
                startedAt = now()
              })
              socket.connect({ host: address.address, port, family: address.family, noDelay: true })
              if (startedAt === 0n) startedAt = now()
              return { socket, reads }
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
        const connectedAt = yield* awaitConnect(socket.socket, address, port, host, now)
        const connection = fromSocket(socket.socket, { now, reads: socket.reads, sendQueues })
        sockets.set(connection, socket.socket)
        return { connection, handshake: { startedAt, endedAt: connectedAt } }
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
          handshake: { startedAt, endedAt: securedAt }
        }
      })

    return Connector.of({ resolve: resolve(now), connect, startTls })
  })

export const layer: Layer.Layer<Connector> = Layer.effect(Connector, make())
