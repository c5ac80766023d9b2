import type { Context } from "effect"
import { Data, Effect, Layer } from "effect"
import type * as net from "node:net"
import * as tls from "node:tls"
import { makeAcceptQueue } from "./AcceptQueue.ts"
import * as NodeSendQueues from "./NodeSendQueues.ts"
import type { SendQueues } from "./NodeSendQueues.ts"
import { listenOn } from "./NodeSocketServer.ts"
import { fromSocket } from "./NodeStreamConnection.ts"
import { type Listener, type ListenOptions, SocketServer } from "./SocketServer.ts"

/** A certificate and its private key, PEM-encoded, as read from their files. */
export interface TlsCredentials {
  readonly cert: Uint8Array
  readonly key: Uint8Array
}

/** The certificate or key cannot be used: not PEM, encrypted, or a key that does not match the certificate. */
export class TlsConfigError extends Data.TaggedError("TlsConfigError")<{
  readonly part: "cert" | "key" | "pair"
  readonly message: string
  readonly cause?: unknown
}> {}

/** As NodeSocketServer: connections handed over but not yet taken by `accept`. */
const acceptBacklog = 1024

/**
 * A client that connects and never finishes its handshake is dropped after
 * this; until then it is no connection of the server's (it holds no fiber
 * and counts against no limit), only a socket of the listener.
 */
const HANDSHAKE_TIMEOUT_MS = 10_000

const pemOf = (credentials: TlsCredentials) => ({
  cert: Buffer.from(credentials.cert),
  key: Buffer.from(credentials.key)
})

const describeTlsFailure = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  if (/key values mismatch/i.test(text)) return "the private key does not match the certificate"
  if (/bad decrypt|bad password|passphrase/i.test(text)) return "the private key is encrypted (give an unencrypted key)"
  return text
}

/** Which of the two files a failure is about, so that the message can name it. */
export type TlsConfigPart = "cert" | "key" | "pair"

const attempt = (part: TlsConfigPart, options: tls.SecureContextOptions): Effect.Effect<void, TlsConfigError> =>
  Effect.try({
    try: () => void tls.createSecureContext(options),
    catch: (cause) =>
      new TlsConfigError({
        part,
        message: part === "pair" ?
          describeTlsFailure(cause) :
          `not a PEM ${part === "cert" ? "certificate" : "private key"} (${describeTlsFailure(cause)})`,
        cause
      })
  })

/**
 * Checks the certificate and key the way the listener will use them: a
 * malformed file or a mismatch is found at start-up, not at the first
 * handshake. Each file alone first, so that the message names the bad one.
 */
export const checkCredentials = (credentials: TlsCredentials): Effect.Effect<void, TlsConfigError> => {
  const pem = pemOf(credentials)
  return attempt("cert", { cert: pem.cert }).pipe(
    Effect.zipRight(attempt("key", { key: pem.key })),
    Effect.zipRight(attempt("pair", pem))
  )
}

const open = (options: ListenOptions, credentials: TlsCredentials) =>
  Effect.suspend(() =>
    listenOn(
      tls.createServer({
        ...pemOf(credentials),
        ALPNProtocols: ["http/1.1"],
        allowHalfOpen: true,
        noDelay: true,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS
      }),
      options
    )
  )

const makeListener = (server: tls.Server, sendQueues: SendQueues): Listener => {
  const address = server.address() as net.AddressInfo
  const queue = makeAcceptQueue(acceptBacklog)
  /** TCP sockets whose handshake has not finished: the listener's own, destroyed when it closes. */
  const handshaking = new Set<net.Socket>()

  server.on("connection", (raw: net.Socket) => {
    handshaking.add(raw)
    raw.once("close", () => handshaking.delete(raw))
  })
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    // the TLS socket sits on the TCP one: from here on the connection owns both
    const raw = (socket as unknown as { _parent?: net.Socket })._parent
    if (raw !== undefined) handshaking.delete(raw)
    socket.setNoDelay(true)
    if (!queue.offer(fromSocket(socket, { sendQueues }))) socket.destroy()
  })
  // A failed handshake (plain HTTP sent to the TLS port, an unknown CA at the
  // client, a timeout) concerns that socket only: Node destroys it.
  server.on("tlsClientError", () => {})
  server.on("error", () => {})

  const close = Effect.zipRight(
    Effect.sync(() => {
      if (server.listening) server.close(() => {})
      for (const raw of handshaking) raw.destroy()
      handshaking.clear()
    }),
    queue.close
  )

  return { host: address.address, port: address.port, accept: queue.take, close }
}

/** A SocketServer whose listeners speak TLS (ALPN http/1.1) with one certificate. */
export const make = (
  credentials: TlsCredentials
): Effect.Effect<Context.Tag.Service<typeof SocketServer>, TlsConfigError> =>
  Effect.suspend(() => {
    const sendQueues = NodeSendQueues.make()
    return Effect.as(
      checkCredentials(credentials),
      SocketServer.of({
        listen: (options) =>
          Effect.acquireRelease(
            Effect.map(open(options, credentials), (server) => makeListener(server, sendQueues)),
            (listener) => listener.close
          )
      })
    )
  })

export const layer = (credentials: TlsCredentials): Layer.Layer<SocketServer, TlsConfigError> =>
  Layer.effect(SocketServer, make(credentials))
