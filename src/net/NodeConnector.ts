import type { Context } from "effect"
import { Effect, Layer } from "effect"
import * as dns from "node:dns"
import * as net from "node:net"
import * as tls from "node:tls"
import type { Connection } from "./Connection.ts"
import { Connector, type ResolvedAddress, type TlsOptions } from "./Connector.ts"
import { ConnectError, ResolveError, TlsError } from "./errors.ts"
import { formatTarget } from "./hostPort.ts"
import * as NodeSendQueues from "./NodeSendQueues.ts"
import { fromSocket } from "./NodeStreamConnection.ts"

type ErrnoError = NodeJS.ErrnoException

const resolve = (host: string) =>
  Effect.async<ReadonlyArray<ResolvedAddress>, ResolveError>((resume) => {
    // getaddrinfo cannot be cancelled; an interrupted lookup's answer is ignored.
    dns.lookup(host, { all: true }, (error, addresses) => {
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
        resume(Effect.succeed(addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))))
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

/** Waits for the TCP handshake; interruption (a connect timeout) destroys the socket at once. */
const awaitConnect = (socket: net.Socket, address: ResolvedAddress, port: number, host: string) =>
  Effect.async<void, ConnectError>((resume) => {
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
      socket.off("error", onError)
      resume(Effect.void)
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

/** Waits for the TLS handshake (and, with `verify`, the certificate check); interruption destroys the socket. */
const awaitHandshake = (socket: tls.TLSSocket, host: string) =>
  Effect.async<void, TlsError>((resume) => {
    const done = () => {
      socket.off("secureConnect", onSecure)
      socket.off("error", onError)
      socket.off("close", onClose)
    }
    const onSecure = () => {
      done()
      resume(Effect.void)
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

/** The node:net / node:tls Connector. */
export const make: Effect.Effect<Context.Tag.Service<typeof Connector>> = Effect.sync(() => {
  // The node socket under each TCP connection this connector opened, for startTls.
  const sockets = new WeakMap<Connection, net.Socket>()
  const sendQueues = NodeSendQueues.make()

  const connect = (address: ResolvedAddress, port: number, host: string) =>
    Effect.gen(function*() {
      const socket = yield* Effect.acquireRelease(
        Effect.try({
          try: () =>
            net.connect({ host: address.address, port, family: address.family, allowHalfOpen: true, noDelay: true }),
          // A bad port or address throws instead of emitting 'error'.
          catch: (error) => {
            const message = `cannot connect to ${formatTarget(host, address.address, port)}: ${
              (error as Error).message
            }`
            return new ConnectError({ host, port, reason: "Unknown", message, cause: error })
          }
        }),
        (socket) => Effect.sync(() => socket.destroy())
      )
      yield* awaitConnect(socket, address, port, host)
      const connection = fromSocket(socket, sendQueues)
      sockets.set(connection, socket)
      return connection
    })

  const startTls = (connection: Connection, { ca, servername, verify }: TlsOptions) =>
    Effect.gen(function*() {
      const socket = sockets.get(connection)
      if (socket === undefined) {
        return yield* Effect.dieMessage("startTls: the connection was not opened by this connector")
      }
      // The TLS socket inherits allowHalfOpen from the TCP socket it wraps.
      const tlsSocket = yield* Effect.acquireRelease(
        Effect.sync(() =>
          tls.connect({
            socket,
            host: servername,
            // SNI carries host names only, never IP literals (RFC 6066 section 3).
            ...(net.isIP(servername) === 0 ? { servername } : {}),
            rejectUnauthorized: verify,
            ...(ca === undefined ? {} : { ca: [...ca] }),
            ALPNProtocols: ["http/1.1"]
          })
        ),
        (tlsSocket) => Effect.sync(() => tlsSocket.destroy())
      )
      yield* awaitHandshake(tlsSocket, servername)
      return fromSocket(tlsSocket, sendQueues, connection.id)
    })

  return Connector.of({ resolve, connect, startTls })
})

export const layer: Layer.Layer<Connector> = Layer.effect(Connector, make)
